"""Export to full ODCS: officially valid, and it reads back to the same contract."""

from __future__ import annotations

import copy

import pytest

from airflow_provider_dativo.contracts import (
    Contract,
    FieldSpec,
    PartitionField,
    contract_from_mapping,
    to_odcs,
    validate_official,
)


def test_guide_asset_exports_to_an_officially_valid_document(guide_asset):
    contract = contract_from_mapping(guide_asset)
    doc = to_odcs(contract)
    assert validate_official(doc) == []
    assert doc["apiVersion"] == "v3.0.2"
    assert doc["kind"] == "DataContract"
    assert doc["status"] == "active"
    assert doc["id"] == contract.id
    [table] = doc["schema"]
    assert (table["logicalType"], table["physicalType"]) == ("object", "table")
    assert [p["name"] for p in table["properties"]] == ["id", "status", "ingest_date"]
    assert table["properties"][1]["customProperties"] == [
        {"property": "enum", "value": ["open", "closed", "pending"]}
    ]
    assert {"property": "sourceType", "value": "toy_http"} in doc["customProperties"]


def test_rich_contract_exports_validly_and_round_trips(rich_short):
    contract = contract_from_mapping(rich_short)
    doc = to_odcs(contract)
    assert validate_official(doc) == []
    assert contract_from_mapping(doc) == contract
    props = {p["name"]: p for p in doc["schema"][0]["properties"]}
    assert (props["amount"]["logicalType"], props["amount"]["physicalType"]) == (
        "number",
        "decimal(12,2)",
    )
    assert (props["placed_at"]["logicalType"], props["placed_at"]["physicalType"]) == (
        "date",
        "timestamptz",
    )
    assert props["amount"]["logicalTypeOptions"] == {"minimum": 0, "maximum": 100000}
    assert doc["team"] == [{"username": "data-team@example.com", "role": "owner"}]


def test_hand_built_contract_round_trips():
    contract = Contract(
        name="events",
        version="3",
        fields=(
            FieldSpec("id", "integer", required=True, primary_key=True, minimum=1),
            FieldSpec("kind", "string", enum=("a", "b"), pattern="[ab]", min_length=1),
            FieldSpec("price", "decimal", precision=9),
            FieldSpec("score", "float", maximum=0.5),
            FieldSpec("seen", "timestamp", format="%Y%m%d%H%M%S", description="when"),
            FieldSpec("flag", "boolean", enum=(True,)),
        ),
        description="Event stream",
        domain="ops",
        retention_days=30,
        partitioning=(PartitionField("seen", "hour"), PartitionField("ingest_date")),
        file_format="iceberg",
    )
    doc = to_odcs(contract)
    assert validate_official(doc) == []
    assert contract_from_mapping(doc) == contract


def test_temporal_bounds_export_as_iso_text_and_round_trip():
    # Date, timestamp and time bounds are ISO 8601 text, not numbers: the export keeps them so.
    contract = Contract(
        name="windows",
        version="1",
        fields=(
            FieldSpec("day", "date", minimum="2024-01-01", maximum="2024-12-31"),
            FieldSpec("at", "timestamp", minimum="2024-01-01T00:00:00"),
            FieldSpec("opens", "time", maximum="12:00:00"),
            FieldSpec("qty", "integer", minimum=0.0, maximum=10.5),
        ),
    )
    doc = to_odcs(contract)
    assert validate_official(doc) == []
    options = {p["name"]: p["logicalTypeOptions"] for p in doc["schema"][0]["properties"]}
    assert options == {
        "day": {"minimum": "2024-01-01", "maximum": "2024-12-31"},
        "at": {"minimum": "2024-01-01T00:00:00"},
        "opens": {"maximum": "12:00:00"},
        "qty": {"minimum": 0, "maximum": 10.5},
    }
    assert contract_from_mapping(doc) == contract


def test_exported_ids_are_stable(guide_asset):
    first = to_odcs(contract_from_mapping(guide_asset))["id"]
    again = to_odcs(contract_from_mapping(copy.deepcopy(guide_asset)))["id"]
    guide_asset["version"] = "2.0"
    next_version = to_odcs(contract_from_mapping(guide_asset))["id"]
    guide_asset["name"] = "other"
    other = to_odcs(contract_from_mapping(guide_asset))["id"]
    assert first == again == next_version != other


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d.pop("id"), "$: 'id' is a required property"),
        (
            lambda d: d["schema"][0]["properties"][0].update(logicalType="timestamp"),
            "$.schema[0].properties[0].logicalType: 'timestamp' is not one of",
        ),
        (
            lambda d: d["schema"][0]["properties"][0].update(
                logicalTypeOptions={"minimum": "zero"}
            ),
            "$.schema[0].properties[0].logicalTypeOptions",
        ),
    ],
)
def test_validate_official_reports_paths(guide_asset, mutate, expected):
    doc = to_odcs(contract_from_mapping(guide_asset))
    mutate(doc)
    found = validate_official(doc)
    assert any(error.startswith(expected) for error in found), found
