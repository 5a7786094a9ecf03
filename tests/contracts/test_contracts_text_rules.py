"""What ``required`` means for text (not null: an empty string is a value), ``min_length`` /
``max_length`` counted in characters (``minLength: 1`` refuses empty text), and NUL characters
refused unless the field allows them: on real batches, in both asset forms, and in a real run
in warn mode."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from airflow_provider_dativo import runner
from airflow_provider_dativo.config.loader import ConfigRoot
from airflow_provider_dativo.contracts import (
    check_batch,
    contract_from_mapping,
    to_odcs,
    validate_official,
)
from airflow_provider_dativo.contracts.checks import RULES_COLUMN
from airflow_provider_dativo.errors import ConfigError
from tests.conftest import write

HEAD = {"apiVersion": "v3.0.2", "kind": "DataContract", "name": "people", "version": "1"}

SHORT = {**HEAD, "schema": [
    {"name": "id", "type": "integer", "required": True},
    {"name": "name", "type": "string", "required": True, "min_length": 1},
    {"name": "note", "type": "string", "max_length": 5},
    {"name": "raw", "type": "string", "allow_nul": True},
    {"name": "doc", "type": "json"},
]}

ODCS = {**HEAD, "schema": [{"name": "people", "logicalType": "object", "properties": [
    {"name": "id", "logicalType": "integer", "required": True},
    {"name": "name", "logicalType": "string", "required": True,
     "logicalTypeOptions": {"minLength": 1}},
    {"name": "note", "logicalType": "string", "logicalTypeOptions": {"maxLength": 5}},
    {"name": "raw", "logicalType": "string",
     "customProperties": [{"property": "allowNul", "value": True}]},
    {"name": "doc", "logicalType": "object", "physicalType": "json"},
]}]}


def rules_by_id(doc: dict[str, Any], rows: dict[str, list[Any]]) -> dict[str, str]:
    result = check_batch(pa.record_batch(rows), contract_from_mapping(doc))
    if result.rejected is None:
        return {}
    rejected = result.rejected.to_pydict()
    return dict(zip(rejected["id"], rejected[RULES_COLUMN], strict=True))


@pytest.mark.parametrize("doc", [SHORT, ODCS], ids=["short form", "ODCS form"])
def test_required_is_not_null_and_min_length_refuses_empty_text(doc: dict[str, Any]) -> None:
    rows = {"id": ["1", "2", "3", "4", "", "6", "7"],
            "name": ["ana", "", None, " ", "bo", "cy", "dé"],
            "note": ["ok", "ééééé", "x", "x", "x", "toolong", None]}
    assert rules_by_id(doc, rows) == {
        "2": "min_length:name",  # empty text is a value: required passes, minLength refuses it
        "3": "required:name",
        "": "required:id",  # blank input for an integer reads as null (kept raw in quarantine)
        "6": "max_length:note",  # characters, not bytes: "ééééé" (10 bytes) fits in 5
    }


def test_reasons_name_the_rule_in_words() -> None:
    result = check_batch(pa.record_batch({"id": ["1"], "name": [""], "note": ["a\x00"]}),
                         contract_from_mapping(SHORT))
    assert result.rejected is not None
    row = result.rejected.to_pylist()[0]
    assert row[RULES_COLUMN] == "min_length:name,nul_byte:note"  # in field order
    assert "name: shorter than 1 characters" in row["_dativo_reason"]
    assert "note: contains a NUL character (set allow_nul to accept it)" in row["_dativo_reason"]
    assert result.rule_counts == {"min_length:name": 1, "nul_byte:note": 1}


@pytest.mark.parametrize("doc", [SHORT, ODCS], ids=["short form", "ODCS form"])
def test_nul_characters_are_refused_unless_the_field_allows_them(doc: dict[str, Any]) -> None:
    rows = {"id": ["1", "2", "3", "4"], "name": ["a\x00", "b", "c", "d"],
            "raw": ["\x00", "x\x00y", None, "plain"],
            "doc": ['{"a": 1}', '{"a": "\x00"}', None, "[]"]}
    # JSON has no raw control characters in strings: a NUL makes the text invalid JSON
    assert rules_by_id(doc, rows) == {"1": "nul_byte:name", "2": "type:doc"}


def test_allow_nul_is_checked_and_exported() -> None:
    contract = contract_from_mapping(SHORT)
    assert contract.field("raw").allow_nul and not contract.field("name").allow_nul
    exported = to_odcs(contract)
    assert validate_official(exported) == []
    assert contract_from_mapping(exported) == contract
    assert contract_from_mapping(ODCS).field("raw").allow_nul
    bad = {**HEAD, "schema": [{"name": "n", "type": "integer", "allow_nul": True}]}
    with pytest.raises(ConfigError, match="allow_nul applies to string and json only"):
        contract_from_mapping(bad)
    odcs_bad = json.loads(json.dumps(ODCS))
    odcs_bad["schema"][0]["properties"][3]["customProperties"][0]["value"] = "yes"
    with pytest.raises(ConfigError, match="allow_nul must be a boolean"):
        contract_from_mapping(odcs_bad)


ASSET = """\
$schema: schemas/odcs/dativo-odcs-3.0.2-extended.schema.json
apiVersion: v3.0.2
kind: DataContract
id: people-text
status: active
name: people_text
version: "1.0"
schema:
  - name: people_text
    logicalType: object
    properties:
      - {name: id, logicalType: string, required: true}
      - {name: name, logicalType: string, required: true, logicalTypeOptions: {minLength: 1}}
      - {name: note, logicalType: string, logicalTypeOptions: {maxLength: 5}}
      - name: raw
        logicalType: string
        customProperties: [{property: allowNul, value: true}]
customProperties:
  - {property: sourceType, value: file}
  - {property: object, value: people}
"""

JOB = """\
tenant_id: globex
source_connector: file
source_connector_path: connectors/file.yaml
asset: people_text
asset_path: assets/file/v1.0/people_text.yaml
target_connector: iceberg
target_connector_path: connectors/iceberg.yaml
source:
  connection:
    path: examples/data/people_text/*.jsonl
    format: jsonl
validation:
  mode: warn
"""

LINES = [
    {"id": "r-1", "name": "Ana", "note": "fine", "raw": "a\x00b"},
    {"id": "r-2", "name": "", "note": "x"},
    {"id": "r-3", "name": None, "note": "x"},
    {"id": "r-4", "name": "Bo", "note": "x\x00y"},
    {"id": "r-5", "name": "Cy", "note": "toolong"},
    {"id": "r-6", "name": "Dé", "note": "ééééé"},
    {"id": "r-7", "name": " "},
]


def test_a_warn_run_quarantines_empty_and_nul_text_and_lands_the_rest(config_root: Path) -> None:
    write(config_root / "assets/file/v1.0/people_text.yaml", ASSET)
    write(config_root / "examples/data/people_text/a.jsonl",
          "".join(json.dumps(line) + "\n" for line in LINES))
    job = ConfigRoot(config_root).load_job(write(config_root / "jobs/globex/people_text.yaml",
                                                 JOB))
    manifest, result = runner.run_job(job, "text-1")
    assert result.committed and result.rows == 3
    assert manifest["rule_counts"] == {"min_length:name": 1, "required:name": 1,
                                       "nul_byte:note": 1, "max_length:note": 1}
    landed = runner.open_job_target(job).load_table().scan().to_arrow()  # type: ignore[attr-defined]
    by_id = {r["id"]: r for r in landed.to_pylist()}
    assert sorted(by_id) == ["r-1", "r-6", "r-7"]
    assert by_id["r-1"]["raw"] == "a\x00b"  # allowNul: the NUL lands as sent
    quarantined = {r["id"]: r for p in manifest["quarantine"]
                   for r in pq.read_table(p).to_pylist()}
    assert {k: v[RULES_COLUMN] for k, v in quarantined.items()} == {
        "r-2": "min_length:name", "r-3": "required:name", "r-4": "nul_byte:note",
        "r-5": "max_length:note"}
    assert quarantined["r-4"]["note"] == "x\x00y"  # the raw value is kept for inspection
    assert yaml.safe_load(ASSET)["name"] == job.contract.name
