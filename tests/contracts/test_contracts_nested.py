"""Rules inside struct and list columns are checked by path, and json columns hold JSON."""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
import pytest

from airflow_provider_dativo.contracts import check_batch, contract_from_mapping

CONTRACT = contract_from_mapping({
    "apiVersion": "v3.0.2", "kind": "DataContract", "id": "orders", "version": "1.0.0",
    "status": "active", "name": "orders",
    "schema": [{"name": "orders", "logicalType": "object", "properties": [
        {"name": "id", "logicalType": "string", "required": True},
        {"name": "address", "logicalType": "object",
         "logicalTypeOptions": {"required": ["city"]},
         "properties": [
             {"name": "city", "logicalType": "string"},
             {"name": "zip", "logicalType": "string",
              "logicalTypeOptions": {"pattern": "[0-9]{5}"}}]},
        {"name": "lines", "logicalType": "array",
         "logicalTypeOptions": {"minItems": 1, "maxItems": 3},
         "items": {"logicalType": "object", "logicalTypeOptions": {"required": ["sku"]},
                   "properties": [
                       {"name": "sku", "logicalType": "string"},
                       {"name": "qty", "logicalType": "integer",
                        "logicalTypeOptions": {"minimum": 1}}]}},
        {"name": "scores", "logicalType": "array",
         "items": {"logicalType": "integer", "logicalTypeOptions": {"maximum": 100}}},
        {"name": "extra", "logicalType": "object", "physicalType": "json"},
    ]}],
})

GOOD: dict[str, Any] = {"id": "ok", "address": {"city": "Berlin", "zip": "10115"},
                        "lines": [{"sku": "a", "qty": 1}], "scores": [1, 100],
                        "extra": '{"any": ["shape", 1]}'}
BROKEN = [
    ({"address": {"zip": "10115"}}, "address.city: required value missing",
     "required:address.city"),
    ({"address": {"city": "B", "zip": "1"}}, "address.zip: does not match pattern [0-9]{5}",
     "pattern:address.zip"),
    ({"lines": []}, "lines: fewer than 1 items", "min_items:lines"),
    ({"lines": [{"sku": "a"}] * 4}, "lines: more than 3 items", "max_items:lines"),
    ({"lines": [{"sku": "a", "qty": 2}, {"qty": 1}]}, "lines[].sku: required value missing",
     "required:lines[].sku"),
    ({"lines": [{"sku": "a", "qty": 0}]}, "lines[].qty: below minimum 1", "minimum:lines[].qty"),
    ({"scores": [5, 101]}, "scores[]: above maximum 100", "maximum:scores[]"),
    ({"extra": "{not json"}, "extra: not a valid JSON document", "type:extra"),
    ({"extra": "1,\"w\":2"}, "extra: not a valid JSON document", "type:extra"),
    ({"extra": "NaN"}, "extra: not a valid JSON document", "type:extra"),
]


def _rows(changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [GOOD, *({**GOOD, "id": f"r{i}", **c} for i, c in enumerate(changes))]


def _as_json_text(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.table({k: [r[k] if k in ("id", "extra") else json.dumps(r[k]) for r in rows]
                     for k in GOOD})


@pytest.mark.parametrize("shape", ["nested values", "JSON text"])
def test_each_nested_rule_names_its_path(shape: str) -> None:
    rows = _rows([change for change, _, _ in BROKEN])
    batch = pa.Table.from_pylist(rows) if shape == "nested values" else _as_json_text(rows)
    result = check_batch(batch, CONTRACT)
    assert result.valid.column("id").to_pylist() == ["ok"]
    assert result.valid.column("lines").to_pylist() == [[{"sku": "a", "qty": 1}]]
    assert result.rejected is not None
    got = list(zip(result.rejected.column("_dativo_reason").to_pylist(),
                   result.rejected.column("_dativo_rules").to_pylist(), strict=True))
    assert got == [(reason, rule) for _, reason, rule in BROKEN]


def test_a_value_fails_alone_as_it_fails_among_others() -> None:
    # one row at a time: the vectorised routes decide as the mixed batch did
    for change, _, rule in BROKEN:
        result = check_batch(pa.Table.from_pylist([{**GOOD, **change}]), CONTRACT)
        assert list(result.rule_counts) == [rule]


def test_a_missing_parent_is_not_a_missing_required_child() -> None:
    result = check_batch(pa.Table.from_pylist([{**GOOD, "address": None, "lines": None}]),
                         CONTRACT)
    assert result.rule_counts == {}
    assert result.valid.column("address").to_pylist() == [None]


def test_text_that_is_not_a_struct_is_a_type_failure_of_the_column() -> None:
    batch = _as_json_text([GOOD])
    batch = batch.set_column(1, "address", pa.array(['"just text"']))
    assert check_batch(batch, CONTRACT).rule_counts == {"type:address": 1}


def test_json_text_is_valid_json_in_every_shape() -> None:
    texts = ['{}', '[]', '1', '"x"', 'null', '[1, "a", {"b": null}]', '{"a":\n 1}', '  ', None]
    bad = ['{not json', '{"a":1} {"b":2}', '[1,]', "'a'", '01', '{"a":"x\ny"}']
    ids = [f"r{i}" for i in range(len(texts) + len(bad))]
    result = check_batch(pa.table({"id": ids, "extra": texts + bad}), CONTRACT)
    assert result.rule_counts == {"type:extra": len(bad)}
    assert result.rejected is not None
    assert result.rejected.column("extra").to_pylist() == bad


def test_json_texts_over_many_blocks_of_a_sliced_column_are_each_judged() -> None:
    # 70k texts (more than one block of the reader), non-ASCII and escaped line breaks among them,
    # taken from the middle of a larger array: each bad text is found at its own row
    good = ['{"city":"Kraków","note":"a\\nb"}', '["é", 1.5, null]', '"🙂"', "7"]
    texts = [good[i % 4] for i in range(70_010)]
    texts[3], texts[65_540], texts[70_009] = "{broken", "[1,]", "NaN"
    column = pa.array(["{}"] * 5 + texts + ["{}"] * 5).slice(5, len(texts))
    ids = [f"r{i}" for i in range(len(texts))]
    result = check_batch(pa.table({"id": ids, "extra": column}), CONTRACT)
    assert result.rule_counts == {"type:extra": 3}
    assert result.rejected is not None
    assert result.rejected.column("id").to_pylist() == ["r3", "r65540", "r70009"]
    assert result.valid.column("extra").to_pylist()[:4] == [good[0], good[1], good[2], good[0]]
