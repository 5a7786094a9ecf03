"""The extended JSON Schema: both asset forms pass, malformed assets fail at the right place."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest

from airflow_provider_dativo.contracts import contract_from_mapping, to_odcs


def errors(validator: jsonschema.Draft202012Validator, doc: Any) -> list[tuple[str, str]]:
    return sorted((e.json_path, e.message) for e in validator.iter_errors(doc))


def test_guide_asset_validates_as_written(extended_validator, guide_asset):
    assert errors(extended_validator, guide_asset) == []


def test_rich_assets_validate_in_both_forms(extended_validator, rich_short, rich_full):
    assert errors(extended_validator, rich_short) == []
    assert errors(extended_validator, rich_full) == []


def test_exported_full_form_is_a_valid_asset(extended_validator, rich_short):
    assert errors(extended_validator, to_odcs(contract_from_mapping(rich_short))) == []


Mutation = Callable[[dict[str, Any]], None]


def _set(path: list[Any], value: Any) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        node = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return mutate


def _delete(key: str) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        del doc[key]

    return mutate


SHORT_CASES: list[tuple[str, Mutation, str, str]] = [
    (
        "unknown type",
        _set(["schema", 0, "type"], "strng"),
        "$.schema[0].type",
        "'strng' is not one of",
    ),
    (
        "typo in a field key",
        _set(["schema", 1, "requried"], True),
        "$.schema[1]",
        "'requried' was unexpected",
    ),
    ("missing name", _delete("name"), "$", "'name' is a required property"),
    ("missing schema", _delete("schema"), "$", "'schema' is a required property"),
    ("empty schema", _set(["schema"], []), "$.schema", "should be non-empty"),
    (
        "field without type",
        _set(["schema", 0], {"name": "id"}),
        "$.schema[0]",
        "'type' is a required",
    ),
    ("empty enum", _set(["schema", 1, "enum"], []), "$.schema[1].enum", "should be non-empty"),
    (
        "duplicate enum values",
        _set(["schema", 1, "enum"], ["open", "open"]),
        "$.schema[1].enum",
        "non-unique elements",
    ),
    (
        "enum value that is not a scalar",
        _set(["schema", 1, "enum"], ["open", {"x": 1}]),
        "$.schema[1].enum[1]",
        "is not of type 'string', 'number', 'boolean'",
    ),
    (
        "unknown file format",
        _set(["target", "file_format"], "csv"),
        "$.target.file_format",
        "'csv' is not one of",
    ),
    (
        "unknown transform",
        _set(["target", "partitioning"], [{"column": "id", "transform": "week"}]),
        "$.target.partitioning[0].transform",
        "'week' is not one of",
    ),
    (
        "typo in a partition",
        _set(["target", "partitioning"], [{"colunm": "id"}]),
        "$.target.partitioning[0]",
        "'column' is a required property",
    ),
    ("wrong kind", _set(["kind"], "Contract"), "$.kind", "'DataContract' was expected"),
    ("version as a number", _set(["version"], 1.0), "$.version", "is not of type 'string'"),
    ("unknown top-level key", _set(["owner"], "me"), "$", "'owner' was unexpected"),
    (
        "retention as text",
        _set(["governance"], {"retention_days": "30"}),
        "$.governance.retention_days",
        "is not of type 'integer'",
    ),
    ("tags not strings", _set(["tags"], [1]), "$.tags[0]", "is not of type 'string'"),
    ("negative length", _set(["schema", 0, "max_length"], -1), "$.schema[0].max_length", "minimum"),
]


@pytest.mark.parametrize(
    ("mutate", "path", "message"),
    [case[1:] for case in SHORT_CASES],
    ids=[case[0] for case in SHORT_CASES],
)
def test_malformed_short_form_is_rejected_precisely(
    extended_validator, guide_asset, mutate, path, message
):
    doc = copy.deepcopy(guide_asset)
    mutate(doc)
    found = errors(extended_validator, doc)
    assert any(p == path and message in m for p, m in found), found


FULL_CASES: list[tuple[str, Mutation, str, str]] = [
    (
        "typo in a property key",
        _set(["schema", 0, "properties", 0, "logicalTyp"], "string"),
        "$.schema[0].properties[0]",
        "'logicalTyp' was unexpected",
    ),
    (
        "logical type outside ODCS",
        _set(["schema", 0, "properties", 0, "logicalType"], "timestamp"),
        "$.schema[0].properties[0].logicalType",
        "'timestamp' is not one of",
    ),
    (
        "dativo key at the top of a full-form asset",
        _set(["source_type"], "postgres"),
        "$.source_type",
        "in the full ODCS form, source_type belongs in customProperties",
    ),
    (
        "enum that is not a list",
        _set(
            ["schema", 0, "properties", 2, "customProperties"],
            [{"property": "enum", "value": "new"}],
        ),
        "$.schema[0].properties[2].customProperties[0].value",
        "is not of type 'array'",
    ),
    (
        "option dativo does not enforce",
        _set(["schema", 0, "properties", 3, "logicalTypeOptions", "exclusiveMinimum"], True),
        "$.schema[0].properties[3].logicalTypeOptions",
        "'exclusiveMinimum' was unexpected",
    ),
    (
        "target custom property with a typo",
        _set(["customProperties", 2, "value", "fileformat"], "iceberg"),
        "$.customProperties[2].value",
        "'fileformat' was unexpected",
    ),
    (
        "schema object without properties",
        _set(["schema", 0], {"name": "orders", "logicalType": "object"}),
        "$.schema[0]",
        "'properties' is a required property",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "path", "message"),
    [case[1:] for case in FULL_CASES],
    ids=[case[0] for case in FULL_CASES],
)
def test_malformed_full_form_is_rejected_precisely(
    extended_validator, rich_full, mutate, path, message
):
    doc = copy.deepcopy(rich_full)
    mutate(doc)
    found = errors(extended_validator, doc)
    assert any(p == path and message in m for p, m in found), found


def test_short_form_fields_are_not_accepted_in_a_full_form_schema(extended_validator, rich_full):
    doc = copy.deepcopy(rich_full)
    doc["schema"].append({"name": "extra", "type": "string"})
    found = errors(extended_validator, doc)
    assert ("$.schema[1]", "'type' was unexpected") in [
        (p, m.split("(")[-1].rstrip(")")) for p, m in found
    ], found
