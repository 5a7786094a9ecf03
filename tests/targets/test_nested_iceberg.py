"""Nested columns end to end: structs, lists of structs and lists of integers land in Iceberg
(SQLite catalog) from JSON Lines files and from an Airbyte connector, and read back value by
value; the table evolves with the contract (a nested field added, int widened to long) and
refuses a change it cannot take, saying what to do."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import yaml
from pyiceberg.types import IntegerType, ListType, LongType, StringType, StructType

from airflow_provider_dativo import runner
from airflow_provider_dativo.config.loader import ConfigRoot
from airflow_provider_dativo.errors import ContractViolation, TargetError
from tests.conftest import write

SCRIPT = Path(__file__).resolve().parents[1] / "engines" / "airbyte_script.py"
sys.path.insert(0, str(SCRIPT.parent))
import airbyte_script  # noqa: E402  (the connector's own records are the expected values)


def asset(name: str, *, qty: str = "int4", zip_code: bool = False,
          city: str = "string", extra: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    address = [{"name": "city", "logicalType": city},
               {"name": "geo", "logicalType": "object", "properties": [
                   {"name": "lat", "logicalType": "number", "physicalType": "double"},
                   {"name": "lon", "logicalType": "number", "physicalType": "double"}]}]
    if zip_code:
        address.append({"name": "zip", "logicalType": "string"})
    return {
        "apiVersion": "v3.0.2", "kind": "DataContract", "id": name, "version": "1.0.0",
        "status": "active", "name": name,
        "schema": [{"name": name, "physicalName": name, "properties": [
            {"name": "id", "logicalType": "integer", "required": True},
            *(extra or []),
            {"name": "address", "logicalType": "object",
             "logicalTypeOptions": {"required": ["city"]}, "properties": address},
            {"name": "orders", "logicalType": "array", "items": {
                "logicalType": "object", "properties": [
                    {"name": "sku", "logicalType": "string"},
                    {"name": "qty", "logicalType": "integer", "physicalType": qty}]}},
            {"name": "scores", "logicalType": "array",
             "items": {"logicalType": "integer", "physicalType": qty}},
        ]}],
    }


def job_file(root: Path, name: str, source: str, connection: dict[str, Any],
             mode: str = "strict") -> str:
    rel = f"jobs/acme/{name}.yaml"
    write(root / rel, yaml.safe_dump({
        "tenant_id": "acme", "source_connector": source,
        "source_connector_path": f"connectors/{source}.yaml",
        "asset": name, "asset_path": f"assets/{source}/v1.0/{name}.yaml",
        "target_connector": "iceberg", "target_connector_path": "connectors/iceberg.yaml",
        "source": {"connection": connection}, "validation": {"mode": mode}}))
    return rel


def landed(job: runner.JobSpec) -> list[dict[str, Any]]:
    """The table's rows as pyiceberg reads them."""
    table = runner.open_job_target(job).load_table()  # type: ignore[attr-defined]
    rows = table.scan().to_arrow().to_pylist()
    return sorted(rows, key=lambda r: r["id"])


def in_files(job: runner.JobSpec) -> list[dict[str, Any]]:
    """The rows of the data files the table's current snapshot lists, read by Parquet."""
    table = runner.open_job_target(job).load_table()  # type: ignore[attr-defined]
    paths = [task.file.file_path.removeprefix("file://") for task in table.scan().plan_files()]
    rows = [r for path in paths for r in pq.read_table(path).to_pylist()]
    return sorted(rows, key=lambda r: r["id"])


def as_pyiceberg_reads(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # pyiceberg 0.12 reads a null list of structs back as [] (apache/iceberg-python#3833); the
    # data files hold the null, which in_files shows
    return [{**r, "orders": [] if r.get("orders", []) is None else r["orders"]} for r in rows]


ROWS = [
    {"id": 1, "address": {"city": "Oslo", "geo": {"lat": 59.9, "lon": 10.7}},
     "orders": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": None}], "scores": [1, 2, 3]},
    {"id": 2, "address": {"city": "Bergen", "geo": None}, "orders": [], "scores": []},
    {"id": 3, "address": None, "orders": None, "scores": [None, 7]},
]


def write_jsonl(root: Path, rows: list[dict[str, Any]], name: str = "a.jsonl") -> None:
    write(root / "examples/data/nested" / name, "".join(json.dumps(r) + "\n" for r in rows))


@pytest.fixture
def file_job(config_root: Path) -> tuple[Path, str]:
    write(config_root / "assets/file/v1.0/nested.yaml", yaml.safe_dump(asset("nested")))
    write_jsonl(config_root, [*ROWS, {"id": 4, "address": {"geo": None}}])
    rel = job_file(config_root, "nested", "file",
                   {"path": "examples/data/nested/*.jsonl", "format": "jsonl"}, mode="warn")
    return config_root, rel


def test_json_lines_land_as_structs_and_lists(file_job: tuple[Path, str]) -> None:
    root, rel = file_job
    job = ConfigRoot(root).load_job(rel)
    manifest, result = runner.run_job(job, "nested-1")
    assert result.rows == 3 and manifest["rule_counts"] == {"required:address.city": 1}
    assert in_files(job) == ROWS
    assert landed(job) == as_pyiceberg_reads(ROWS)
    rejected = pq.read_table(next(p for p in manifest["quarantine"] if "rows" in p))
    assert rejected.column("_dativo_reason").to_pylist() == [
        "address.city: required value missing"]

    schema = runner.open_job_target(job).load_table().schema()  # type: ignore[attr-defined]
    address, orders, scores = (schema.find_field(n).field_type
                               for n in ("address", "orders", "scores"))
    assert isinstance(address, StructType)
    assert isinstance(address.field_by_name("geo").field_type, StructType)
    assert isinstance(orders, ListType) and isinstance(orders.element_type, StructType)
    assert orders.element_type.field_by_name("qty").field_type == IntegerType()
    assert isinstance(scores, ListType) and scores.element_type == IntegerType()


def test_the_table_evolves_with_nested_changes_and_refuses_what_it_cannot_take(
        file_job: tuple[Path, str]) -> None:
    root, rel = file_job
    runner.run_job(ConfigRoot(root).load_job(rel), "evolve-1")

    # a nested field added, and int widened to long inside a struct of a list and in a list
    write(root / "assets/file/v1.0/nested.yaml",
          yaml.safe_dump(asset("nested", qty="int8", zip_code=True)))
    big = {"id": 5, "address": {"city": "Trondheim", "geo": None, "zip": "7010"},
           "orders": [{"sku": "z", "qty": 2**40}], "scores": [2**33]}
    write_jsonl(root, [big], "b.jsonl")
    job = ConfigRoot(root).load_job(rel)
    runner.run_job(job, "evolve-2")
    schema = runner.open_job_target(job).load_table().schema()  # type: ignore[attr-defined]
    assert schema.find_field("address.zip").field_type == StringType()
    assert schema.find_field("orders.element.qty").field_type == LongType()
    assert schema.find_field("scores.element").field_type == LongType()
    rows = landed(job)
    # rows of the first run read back under the wider schema, without the new field
    first = next(r for r in rows if r["id"] == 1)
    assert first["address"] == {**ROWS[0]["address"], "zip": None}
    assert rows.count(big) == 1

    # a struct field whose type changes incompatibly is refused before anything is written
    write(root / "assets/file/v1.0/nested.yaml",
          yaml.safe_dump(asset("nested", qty="int8", zip_code=True, city="date")))
    job = ConfigRoot(root).load_job(rel)
    with pytest.raises(TargetError, match=r"(?s)column 'address\.city' changed type from string "
                       r"to date.*revert the contract change, or migrate the table by hand"):
        runner.run_job(job, "evolve-3")


def airbyte_job(root: Path, scenario: str, mode: str = "strict",
                spelling: str = "compact") -> runner.JobSpec:
    write(root / "connectors/faker.yaml", yaml.safe_dump({
        "type": "faker", "version": "1.0.0",
        "default_engine": {"type": "airbyte", "command": [sys.executable, str(SCRIPT)]}}))
    stamps = [{"name": n, "logicalType": "date", "physicalType": "timestamp with time zone",
               "required": True} for n in ("created_at", "updated_at")]
    contract = asset("users_nested", qty="int8", extra=stamps)
    contract["customProperties"] = [{"property": "object", "value": "users"}]  # the stream
    write(root / "assets/faker/v1.0/users_nested.yaml", yaml.safe_dump(contract))
    rel = job_file(root, "users_nested", "faker",
                   {"scenario": scenario, "spelling": spelling}, mode=mode)
    spec = yaml.safe_load((root / rel).read_text())
    spec["asset_path"] = "assets/faker/v1.0/users_nested.yaml"
    write(root / rel, yaml.safe_dump(spec))
    return ConfigRoot(root).load_job(rel)


@pytest.mark.parametrize("spelling", ["compact", "spaced"])  # bulk-parsed, and line by line
def test_an_airbyte_stream_declaring_objects_and_arrays_lands_typed(
        config_root: Path, spelling: str) -> None:
    job = airbyte_job(config_root, "nested", spelling=spelling)
    manifest, result = runner.run_job(job)
    assert result.rows == 3 and manifest["rejected"] == 0
    expected = [{"id": i, "created_at": dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
                 "updated_at": dt.datetime(2024, 1, i, tzinfo=dt.UTC),
                 **airbyte_script.NESTED[i - 1]} for i in (1, 2, 3)]
    assert landed(job) == expected


@pytest.mark.parametrize("spelling", ["compact", "spaced"])
def test_records_nested_too_deep_are_rejected_with_stream_and_line(
        config_root: Path, spelling: str) -> None:
    job = airbyte_job(config_root, "deep", mode="warn", spelling=spelling)
    manifest, result = runner.run_job(job)
    assert result.rows == 3 and manifest["rule_counts"] == {"parse": 2}
    unparsed = pq.read_table(next(p for p in manifest["quarantine"] if "unparsed" in p))
    reasons = unparsed.column("_dativo_reason").to_pylist()
    assert len(reasons) == 2
    for reason in reasons:
        assert reason.startswith("faker: stream 'users', stdout line ")
        assert reason.endswith(": nested deeper than 200 levels")
    assert all(raw.count("{") > 300 for raw in unparsed.column("_dativo_raw").to_pylist())

    strict = airbyte_job(config_root, "deep", spelling=spelling)
    with pytest.raises(ContractViolation, match=r"stream 'users', stdout line \d+: nested "
                       "deeper than 200 levels"):
        runner.run_job(strict, "strict-deep")
