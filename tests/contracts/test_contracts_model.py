"""Loading assets into the contract model: both forms, normalisation and semantic errors."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from airflow_provider_dativo.contracts import (
    Contract,
    FieldSpec,
    PartitionField,
    contract_from_mapping,
)
from airflow_provider_dativo.contracts.model import derive_contract_id
from airflow_provider_dativo.errors import ConfigError


def test_guide_asset_loads(guide_asset):
    contract = contract_from_mapping(guide_asset)
    assert contract.name == "toy_http_tickets"
    assert contract.version == "1.0"
    assert contract.source_type == "toy_http"
    assert contract.object == "tickets"
    assert contract.file_format == "parquet"
    assert contract.partitioning == (PartitionField("ingest_date", "identity"),)
    assert [(f.name, f.type, f.required) for f in contract.fields] == [
        ("id", "string", True),
        ("status", "string", False),
        ("ingest_date", "date", False),  # system column, added because it partitions by it
    ]
    assert contract.field("status").enum == ("open", "closed", "pending")
    # ODCS requires id and status; missing ones are derived so exports are stable.
    assert contract.id == derive_contract_id("toy_http_tickets")
    assert contract.status == "active"


def test_both_forms_give_the_same_contract(rich_short, rich_full):
    short = contract_from_mapping(rich_short)
    full = contract_from_mapping(rich_full)
    assert short == full


def test_rich_contract_is_normalised(rich_short):
    contract = contract_from_mapping(rich_short)
    types = {f.name: f.type for f in contract.fields}
    assert types == {
        "order_id": "integer",  # long
        "email": "string",
        "status": "string",
        "amount": "decimal",
        "ratio": "double",  # number
        "weight": "float",
        "placed_at": "timestamptz",
        "shipped_on": "date",
        "local_time": "timestamp",
        "gift": "boolean",
        "attrs": "json",
        "blob": "binary",
        "code": "string",
        "ingest_date": "date",
    }
    amount = contract.field("amount")
    assert (amount.precision, amount.scale, amount.minimum, amount.maximum) == (12, 2, 0.0, 1e5)
    assert contract.field("shipped_on").format == "%d/%m/%Y"
    assert contract.primary_key == ("order_id",)
    assert contract.tags == ("sales", "orders", "gdpr")
    assert contract.classification == ("PII", "confidential")
    assert contract.owner == "data-team@example.com"
    assert contract.description == "Orders placed in the web shop."
    assert contract.partitioning == (
        PartitionField("placed_at", "day"),
        PartitionField("ingest_date", "identity"),
    )
    assert contract.governance_properties() == {
        "dativo.owner": "data-team@example.com",
        "dativo.tags": "sales,orders,gdpr",
        "dativo.classification": "PII,confidential",
        "dativo.retention_days": "365",
    }


def test_owner_falls_back_to_the_team_member_with_role_owner(guide_asset):
    guide_asset["team"] = [
        {"username": "steward@example.com", "role": "data steward"},
        {"name": "Ana Owner", "role": "Owner"},
    ]
    assert contract_from_mapping(guide_asset).owner == "Ana Owner"
    guide_asset["governance"] = {"owner": "gov@example.com"}
    assert contract_from_mapping(guide_asset).owner == "gov@example.com"


def test_full_form_partition_flags_become_identity_partitions(rich_full):
    del rich_full["customProperties"][2]  # the dativo target
    props = rich_full["schema"][0]["properties"]
    props[6].update(partitioned=True, partitionKeyPosition=2)  # placed_at
    props[2].update(partitioned=True, partitionKeyPosition=1)  # status
    contract = contract_from_mapping(rich_full)
    assert contract.partitioning == (PartitionField("status"), PartitionField("placed_at"))
    assert contract.file_format is None


def test_field_spec_normalises_aliases_and_rejects_unknown_types():
    assert FieldSpec("n", "long") == FieldSpec("n", "integer")
    assert FieldSpec("x", "number").type == "double"
    assert FieldSpec("e", "string", enum=["a"]).enum == ("a",)
    with pytest.raises(ValueError, match="unknown field type 'text'"):
        FieldSpec("t", "text")


def test_contract_helpers():
    contract = Contract(
        "c", "1", (FieldSpec("a", "string", primary_key=True), FieldSpec("b", "date"))
    )
    assert contract.field("b").type == "date"
    assert contract.field_names == ("a", "b")
    with pytest.raises(KeyError, match="no field 'zz'"):
        contract.field("zz")
    assert contract.governance_properties() == {}
    assert contract.id == derive_contract_id("c") != derive_contract_id("d")


def _issues(
    data: dict[str, Any], lines: dict[str, int] | None = None
) -> list[tuple[str, Any, str]]:
    with pytest.raises(ConfigError) as caught:
        contract_from_mapping(data, file="assets/bad.yaml", lines=lines)
    assert all(issue.file == "assets/bad.yaml" for issue in caught.value.issues)
    return [(i.path, i.line, i.message) for i in caught.value.issues]


def _has(issues: list[tuple[str, Any, str]], path: str, line: int | None, text: str) -> bool:
    return any(p == path and ln == line and text in m for p, ln, m in issues)


def test_short_form_semantic_errors_are_all_reported_with_paths_and_lines():
    doc = {
        "apiVersion": "v3.0.2",
        "kind": "DataContract",
        "name": "bad",
        "version": "1",
        "schema": [
            {"name": "id", "type": "string"},
            {"name": "ID", "type": "integer"},
            {"name": "doc", "type": "json", "enum": ["a"]},
            {"name": "code", "type": "string", "precision": 5},
            {"name": "n", "type": "integer", "minimum": 10, "maximum": 1},
            {"name": "p", "type": "string", "pattern": "(unclosed"},
            {"name": "k", "type": "integer", "enum": [1, "two"]},
            {"name": "d", "type": "date"},
            {"name": "amount", "type": "decimal", "scale": 2},
        ],
        "target": {"partitioning": ["nope", {"column": "d", "transform": "hour"}]},
    }
    lines = {"schema[1].name": 12, "schema[2].enum": 15, "target.partitioning[0]": 40}
    issues = _issues(doc, lines)
    assert len(issues) == 9, issues
    assert _has(issues, "schema[1].name", 12, "duplicate field name 'ID'")
    assert _has(issues, "schema[2].enum", 15, "enum needs a scalar type; field 'doc' is json")
    assert _has(issues, "schema[3].precision", None, "precision applies to decimal only")
    assert _has(issues, "schema[4].minimum", None, "minimum 10 is greater than maximum 1")
    assert _has(issues, "schema[5].pattern", None, "invalid regular expression")
    assert _has(issues, "schema[6].enum", None, "enum values 'two' are not integer values")
    assert _has(issues, "schema[8].scale", None, "scale needs a precision")
    assert _has(issues, "target.partitioning[0]", 40, "partition column 'nope' is neither")
    assert _has(issues, "target.partitioning[1]", None, "hour partitioning needs a timestamp")


def test_full_form_semantic_errors_use_odcs_paths(rich_full):
    doc = copy.deepcopy(rich_full)
    props = doc["schema"][0]["properties"]
    props[1]["logicalTypeOptions"]["pattern"] = "(?<=a)b"  # fine for Python re, not for RE2
    props[10]["customProperties"] = [{"property": "enum", "value": ["x"]}]  # attrs is json
    props[5] = {"name": "weight", "logicalType": "integer", "physicalType": "varchar(10)"}
    doc["customProperties"][2]["value"]["partitioning"] = [{"column": "missing"}]
    # a second schema object is a second table of the same asset, not an error
    doc["schema"].append({"name": "second", "logicalType": "object", "properties": []})
    lines = {"schema[0].properties[1].logicalTypeOptions.pattern": 31}
    issues = _issues(doc, lines)
    assert len(issues) == 4, issues
    assert _has(issues, "schema[0].properties[1].logicalTypeOptions.pattern", 31, "invalid regular")
    assert _has(
        issues, "schema[0].properties[10].customProperties[0].value", None, "enum needs a scalar"
    )
    assert _has(
        issues,
        "schema[0].properties[5].physicalType",
        None,
        "physicalType 'varchar(10)' is a string, which does not refine logicalType 'integer'",
    )
    assert _has(issues, "customProperties[2].value.partitioning[0]", None, "'missing' is neither")


def test_ingest_date_must_be_a_date():
    doc = {
        "apiVersion": "v3.0.2",
        "kind": "DataContract",
        "name": "x",
        "version": "1",
        "schema": [{"name": "ingest_date", "type": "string"}],
    }
    issues = _issues(doc)
    assert [(p, m.split(";")[0]) for p, _, m in issues] == [
        ("schema[0].type", "ingest_date is the system load-date column dativo fills")
    ]


def test_declared_ingest_date_is_kept_in_place(guide_asset):
    guide_asset["schema"].insert(0, {"name": "ingest_date", "type": "date", "required": True})
    contract = contract_from_mapping(guide_asset)
    assert contract.field_names == ("ingest_date", "id", "status")
    assert contract.field("ingest_date").required is True


def test_unknown_jdk_date_token_is_reported(guide_asset):
    guide_asset["schema"].append({"name": "d", "type": "date", "format": "yyyy-ww"})
    issues = _issues(guide_asset)
    assert _has(issues, "schema[2].format", None, "date format token 'ww'")


def test_source_type_custom_property_in_either_spelling(rich_full):
    rich_full["customProperties"][0]["property"] = "source_type"
    assert contract_from_mapping(rich_full).source_type == "postgres"
    rich_full["customProperties"].append({"property": "sourceType", "value": "mysql"})
    issues = _issues(rich_full)
    assert _has(issues, "customProperties[4].value", None, "sourceType and source_type name")
