"""The load task's OpenLineage output, from a real ``airflow dags test`` with the provider's file
transport: every event the run emits passes the OpenLineage schemas as the installed packages
ship them (``tests/openlineage_schema.py``), and the load's output dataset carries the table's
schema with its nested fields, documentation, ownership, tags and classification (table and
column, with where each came from), dativo's governance facet, column lineage from the source
file's columns, what the load wrote, and the contract's quality rule results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import yaml

from airflow_provider_dativo import runner
from airflow_provider_dativo.config.loader import ConfigRoot
from tests.conftest import airflow, write
from tests.openlineage_schema import errors

pytestmark = pytest.mark.airflow

DAG_ID = "dativo__acme__lin_orders"

CONTRACT: dict[str, Any] = {
    "apiVersion": "v3.0.2", "kind": "DataContract", "id": "lin-orders", "status": "active",
    "name": "lin_orders", "version": "1.0", "tags": ["sales"],
    "description": {"purpose": "Shop orders, with where each column came from."},
    "schema": [{"name": "lin_orders", "logicalType": "object", "properties": [
        {"name": "id", "logicalType": "integer", "required": True, "description": "Order id."},
        {"name": "email", "logicalType": "string", "physicalName": "mail",
         "classification": "PII", "tags": ["contact"], "businessName": "Customer e-mail",
         "customProperties": [{"property": "piiCategory", "value": "contact"}],
         "quality": [{"name": "email_present", "rule": "nullCheck"}]},
        {"name": "status", "logicalType": "string", "classification": "internal"},
        {"name": "address", "logicalType": "object", "properties": [
            {"name": "city", "logicalType": "string", "description": "Delivery city."},
            {"name": "geo", "logicalType": "object", "properties": [
                {"name": "lat", "logicalType": "number"}]}]},
        {"name": "lines", "logicalType": "array", "items": {
            "logicalType": "object", "properties": [
                {"name": "sku", "logicalType": "string"},
                {"name": "qty", "logicalType": "integer"}]}},
    ], "quality": [
        {"name": "enough_rows", "rule": "rowCount", "mustBeGreaterOrEqualTo": 3,
         "dimension": "completeness", "severity": "error"},
        {"name": "mostly_open", "type": "sql", "mustBeGreaterThan": 90, "severity": "warning",
         "description": "Nearly every order is still open.",
         "query": "SELECT 100.0 * count(*) FILTER (WHERE status = 'open') / count(*) "
                  "FROM ${table}"},
    ]}],
    "customProperties": [{"property": "sourceType", "value": "file"},
                         {"property": "object", "value": "orders"},
                         {"property": "governance", "value": {
                             "owner": "contract-owner@acme.example", "retention_days": 730}}],
}
LINES = [
    {"id": 1, "mail": "a@x", "status": "open", "address": {"city": "Oslo", "geo": {"lat": 59.9}},
     "lines": [{"sku": "a", "qty": 1}]},
    {"id": 2, "mail": "b@x", "status": "closed", "address": {"city": None, "geo": None},
     "lines": []},
    {"id": 3, "mail": "c@x", "status": "open", "address": None, "lines": None},
    {"id": 4, "mail": "d@x", "status": "open", "address": {"city": "Bergen", "geo": None},
     "lines": [{"sku": "b", "qty": 2}, {"sku": "c", "qty": 3}]},
]
JOB = {
    "tenant_id": "acme", "name": "lin_orders", "source_connector": "file",
    "source_connector_path": "connectors/file.yaml", "asset": "lin_orders",
    "asset_path": "assets/file/v1.0/lin_orders.yaml", "target_connector": "iceberg",
    "target_connector_path": "connectors/iceberg.yaml",
    "governance": {"owner": "job-owner@acme.example", "cost_centre": "CC-42",
                   "classification": ["confidential"]},
    "classification_overrides": {"status": "public"},
    "source": {"connection": {"path": "examples/data/lin_orders/*.jsonl", "format": "jsonl"}},
    "validation": {"mode": "warn"},
}


def run_dag(airflow_env: dict[str, str], config_root: Path, tmp_path: Path) -> list[dict]:
    write(config_root / "assets/file/v1.0/lin_orders.yaml", yaml.safe_dump(CONTRACT))
    write(config_root / "examples/data/lin_orders/a.jsonl",
          "".join(json.dumps(line) + "\n" for line in LINES))
    write(config_root / "jobs/acme/lin_orders.yaml", yaml.safe_dump(JOB))
    events_file = tmp_path / "openlineage.jsonl"
    env = {**airflow_env, "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
        {"type": "file", "log_file_path": str(events_file), "append": True})}
    result = airflow(env, "dags", "test", DAG_ID)
    assert "committed 4 rows" in result.stdout + result.stderr
    return [json.loads(line) for line in events_file.read_text().splitlines() if line]


def test_every_event_passes_the_schemas_and_the_load_output_carries_the_table(
        airflow_env: dict[str, str], config_root: Path, tmp_path: Path) -> None:
    events = run_dag(airflow_env, config_root, tmp_path)
    # START and COMPLETE of each task, and the DAG run's COMPLETE
    assert {(e["eventType"], e["job"]["name"]) for e in events} >= {
        *((kind, f"{DAG_ID}.{task}") for kind in ("START", "COMPLETE")
          for task in ("validate", "extract", "load")), ("COMPLETE", DAG_ID)}
    for event in events:
        assert errors(event) == [], (event["job"]["name"], event["eventType"])

    load = next(e for e in events if e["eventType"] == "COMPLETE"
                and e["job"]["name"] == f"{DAG_ID}.load")
    [output] = load["outputs"]
    assert (output["namespace"], output["name"]) == ("iceberg://dativo", "acme.lin_orders")
    facets, out_facets = output["facets"], output["outputFacets"]

    def shape(fields: list[dict]) -> list[Any]:
        return [(f["name"], f.get("type"), shape(f["fields"])) if f.get("fields")
                else (f["name"], f.get("type")) for f in fields]
    schema = facets["schema"]["fields"]
    assert shape(schema) == [
        ("id", "integer"), ("email", "string"), ("status", "string"),
        ("address", "struct", [("city", "string"), ("geo", "struct", [("lat", "double")])]),
        ("lines", "list", [("element", "struct", [("sku", "string"), ("qty", "integer")])])]
    assert [f.get("ordinal_position") for f in schema] == [1, 2, 3, 4, 5]
    assert schema[3]["fields"][0]["description"] == "Delivery city."

    assert facets["documentation"]["description"].startswith("Shop orders")
    assert facets["ownership"]["owners"] == [{"name": "job-owner@acme.example"}]
    tags = {(t["key"], t["value"], t["source"], t.get("field")) for t in facets["tags"]["tags"]}
    assert tags == {("sales", "true", "contract", None),
                    ("classification", "confidential", "job", None),
                    ("classification", "PII", "contract", "email"),
                    ("contact", "true", "contract", "email"),
                    ("classification", "public", "job", "status")}
    custom = facets["dativo_governance"]
    assert custom["table"] == {"cost_centre": {"value": "CC-42", "origin": "job"},
                               "retention_days": {"value": 730, "origin": "contract"}}
    assert custom["columns"] == {"email": {"businessName": "Customer e-mail",
                                           "customProperties": {"piiCategory": "contact"}}}

    source = str(config_root / "examples/data/lin_orders/*.jsonl")
    lineage = facets["columnLineage"]["fields"]
    assert sorted(lineage) == ["address", "email", "id", "lines", "status"]
    assert lineage["email"]["inputFields"][0] | {"transformations": None} == {
        "namespace": "file", "name": source, "field": "mail", "transformations": None}
    assert lineage["id"]["inputFields"][0]["transformations"] == [
        {"type": "DIRECT", "subtype": "IDENTITY", "masking": False}]
    extract = next(e for e in events if e["eventType"] == "COMPLETE"
                   and e["job"]["name"] == f"{DAG_ID}.extract")
    assert [(d["namespace"], d["name"]) for d in extract["inputs"]] == [("file", source)]

    job = ConfigRoot(config_root).load_job("jobs/acme/lin_orders.yaml")
    table = runner.open_job_target(job).load_table()  # type: ignore[attr-defined]
    files = [t.file for t in table.scan().plan_files()]
    stats = out_facets["outputStatistics"]
    assert stats == {**stats, "rowCount": 4, "fileCount": len(files),
                     "size": sum(f.file_size_in_bytes for f in files)}

    assertions = {a["name"]: a for a in facets["dataQualityAssertions"]["assertions"]}
    assert assertions["enough_rows"] | {"params": None} == {
        "assertion": "rowCount", "success": True, "severity": "error", "name": "enough_rows",
        "expected": ">= 3", "actual": "4", "params": None}
    assert assertions["enough_rows"]["params"] == {"status": "pass",
                                                   "dimension": "completeness"}
    assert assertions["mostly_open"]["success"] is False  # 75 % open: a warning, recorded
    assert assertions["mostly_open"]["actual"] == "75"
    assert assertions["mostly_open"]["contentType"] == "sql"
    assert "FROM ${table}" in assertions["mostly_open"]["content"]
    assert assertions["email_present"]["column"] == "email"
    assert assertions["email_present"]["success"] is True

    metrics = facets["dataQualityMetrics"]
    assert (metrics["rowCount"], metrics["fileCount"]) == (4, len(files))
    nulls = {}
    for f in files:
        footer = pq.read_metadata(f.file_path.removeprefix("file://"))
        for g in range(footer.num_row_groups):
            for i in range(footer.num_columns):
                col = footer.row_group(g).column(i)
                if "." not in col.path_in_schema:
                    nulls[col.path_in_schema] = nulls.get(col.path_in_schema, 0) + \
                        col.statistics.null_count
    assert {k: v["nullCount"] for k, v in metrics["columnMetrics"].items()} == nulls
    assert nulls == {"id": 0, "email": 0, "status": 0}

    assert_validator_refuses(load)


def assert_validator_refuses(load: dict[str, Any]) -> None:
    """The validator is not a rubber stamp: the same event with a key misspelt, a required
    field gone, a value of the wrong type or a facet without a known schema fails it."""
    facets = load["outputs"][0]["facets"]
    bad = json.loads(json.dumps(load))
    bad["outputs"][0]["facets"]["schema"]["fields"][3]["fields"][0]["nmae"] = "x"
    assert any("'nmae' was unexpected" in e for e in errors(bad))
    bad = json.loads(json.dumps(load))
    del bad["outputs"][0]["facets"]["dataQualityAssertions"]["assertions"][0]["success"]
    assert any("'success' is a required property" in e for e in errors(bad))
    bad = json.loads(json.dumps(load))
    bad["outputs"][0]["facets"]["dativo_governance"]["table"]["cost_centre"]["origin"] = "me"
    assert any("'me' is not one of" in e for e in errors(bad))
    bad = json.loads(json.dumps(load))
    bad["outputs"][0]["facets"]["dativo_other"] = {**facets["tags"], "_schemaURL": "urn:x"}
    assert any("no schema known for _schemaURL 'urn:x'" in e for e in errors(bad))
    bad = json.loads(json.dumps(load))
    bad["run"]["facets"]["nominalTime"]["nominalStartTime"] = 3  # a facet Airflow adds
    assert any("3 is not of type 'string'" in e for e in errors(bad))
    bad = json.loads(json.dumps(load))
    del bad["run"]["facets"]["parent"]["job"]
    assert any("'job' is a required property" in e for e in errors(bad))
    bad = json.loads(json.dumps(load))
    bad["eventTime"] = "yesterday"
    assert any("'yesterday' is not a 'date-time'" in e for e in errors(bad))
