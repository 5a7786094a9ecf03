"""Contracts as other tools write them (tests/fixtures/odcs/): each passes the official schema of
its apiVersion, loads as written, and exports with every (path, value) of the original."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from airflow_provider_dativo.config.assets import default_table, load_asset
from airflow_provider_dativo.config.loader import ConfigRoot
from airflow_provider_dativo.contracts import to_odcs, validate_official
from airflow_provider_dativo.errors import ConfigError

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "odcs"
FILES = sorted(CORPUS.glob("*.yaml"))


def leaves(value: Any, path: str = "$") -> set[tuple[str, str]]:
    """Every (path, value) of a document, with list items addressed by position."""
    if isinstance(value, dict):
        return {leaf for k, v in value.items() for leaf in leaves(v, f"{path}.{k}")}
    if isinstance(value, list):
        return {leaf for i, v in enumerate(value) for leaf in leaves(v, f"{path}[{i}]")}
    return {(path, repr(value))}


def test_the_corpus_covers_every_version():
    versions = {yaml.safe_load(p.read_text())["apiVersion"] for p in FILES}
    assert versions == {"v3.0.0", "v3.0.1", "v3.0.2", "v3.1.0"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_corpus_contract_passes_official_schema_and_loads_as_written(path):
    doc = yaml.safe_load(path.read_text())
    assert validate_official(doc) == []
    contract = load_asset(path)
    assert contract.fields


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_export_keeps_every_value_and_passes_the_official_schema(path):
    original = yaml.safe_load(path.read_text())
    exported = to_odcs(load_asset(path))
    assert exported["apiVersion"] == original["apiVersion"]
    assert validate_official(exported) == []
    missing = leaves(original) - leaves(exported)
    assert not missing


def test_name_is_derived_from_the_schema_object_when_missing():
    contract = load_asset(CORPUS / "v300_customers_no_name.yaml")
    assert (contract.name, contract.name_source) == ("customers", "schema object")
    assert default_table(contract) == "crm_customers_v1"


def test_physical_types_are_honoured():
    contract = load_asset(CORPUS / "v300_customers_no_name.yaml")
    types = {f.name: f.type for f in contract.fields}
    assert types == {
        "customer_id": "int32", "transaction_reference_date": "date",
        "created_at": "timestamptz", "legacy_stamp": "timestamp", "score": "float",
        "balance": "decimal", "country": "string", "external_ref": "uuid", "opens_at": "time",
        "visits": "integer",
    }
    assert contract.field("country").max_length == 2
    balance = contract.field("balance")
    assert (balance.precision, balance.scale) == (12, 2)
    # ISO layouts are read by the ISO reader, fractions and offsets included
    assert contract.field("created_at").format is None
    score = contract.field("score")
    assert (score.maximum, score.exclusive_maximum) == (100.0, True)


def test_an_unparseable_format_is_a_warning_naming_file_line_and_token(caplog):
    with caplog.at_level(logging.WARNING):
        contract = load_asset(CORPUS / "v300_customers_no_name.yaml")
    (warning,) = contract.warnings
    assert warning.path == "schema[0].properties[3].logicalTypeOptions.format"
    assert warning.line is not None and "'EEE'" in warning.message
    assert contract.field("legacy_stamp").format is None


def test_nested_properties_and_items_become_struct_and_list():
    contract = load_asset(CORPUS / "v301_shop_two_tables.yaml")
    address = contract.field("shipping_address")
    assert address.type == "struct"
    assert [(f.name, f.type, f.required) for f in address.fields] == [
        ("street", "string", False), ("city", "string", True), ("geo", "struct", False)]
    assert contract.field("labels").items is not None
    assert contract.field("labels").items.type == "string"
    assert contract.field("attributes").type == "json"


def test_v310_types_and_exclusive_bounds():
    contract = load_asset(CORPUS / "v310_readings.yaml")
    assert contract.field("read_at").type == "timestamptz"
    assert contract.field("read_time").type == "time"
    kwh = contract.field("kwh")
    assert (kwh.minimum, kwh.exclusive_minimum) == (0.0, True)
    samples = contract.field("samples")
    assert samples.items is not None and samples.items.type == "struct"


def test_a_schema_object_is_picked_by_name_and_a_wrong_one_is_listed():
    path = CORPUS / "v301_shop_two_tables.yaml"
    lines = load_asset(path, "order_lines")
    assert lines.field_names == ("order_id", "line_no", "quantity", "ingest_date")
    assert lines.field("line_no").type == "int32"
    assert default_table(lines) == "shop_order_lines"
    with pytest.raises(ConfigError, match="no schema object 'refunds'; it has: orders, "
                       "order_lines"):
        load_asset(path, "refunds")


def _job_root(tmp_path: Path, repo: Path, extra: str) -> ConfigRoot:
    for name in ("registry", "connectors"):
        shutil.copytree(repo / name, tmp_path / name)
    (tmp_path / "assets/file/v1.0").mkdir(parents=True)
    shutil.copy(CORPUS / "v301_shop_two_tables.yaml", tmp_path / "assets/file/v1.0/shop.yaml")
    (tmp_path / "jobs/acme").mkdir(parents=True)
    (tmp_path / "jobs/acme/shop.yaml").write_text(f"""\
tenant_id: acme
source_connector: file
source_connector_path: connectors/file.yaml
target_connector: iceberg
target_connector_path: connectors/iceberg.yaml
asset: Shop orders (EU)
asset_path: assets/file/v1.0/shop.yaml
{extra}source:
  connection: {{path: data/*.csv}}
""")
    return ConfigRoot(tmp_path)


def test_a_job_must_pick_a_table_of_a_contract_with_several(tmp_path):
    repo = Path(__file__).resolve().parents[2]
    if not (repo / "connectors/file.yaml").exists():
        pytest.skip("no csv recipe")
    root = _job_root(tmp_path, repo, "")
    with pytest.raises(ConfigError, match=r"several tables \(orders, order_lines\); pick one"):
        root.load_job("jobs/acme/shop.yaml")
    root = _job_root(tmp_path / "b", repo, "schema_object: order_lines\n")
    job = root.load_job("jobs/acme/shop.yaml")
    assert job.table == "shop_order_lines"
    assert job.contract.schema_object == "order_lines"


def test_nested_and_physical_columns_are_typed_by_the_check():
    import json

    import pyarrow as pa

    from airflow_provider_dativo.contracts import check_batch

    contract = load_asset(CORPUS / "v301_shop_two_tables.yaml")
    rows = [
        {"order_id": "a", "placed_at": "2024-01-01T00:00:00", "labels": ["x", "y"],
         "shipping_address": {"street": "s", "city": "Berlin", "geo": {"lat": 1.0, "lon": 2.0}}},
        {"order_id": "b", "placed_at": "2024-01-01T00:00:00", "labels": [],
         "shipping_address": {"street": "s"}},  # city is required inside the struct
    ]
    as_json_text = pa.table({"order_id": ["a", "b"], "placed_at": ["2024-01-01"] * 2,
                             "labels": [json.dumps(r["labels"]) for r in rows],
                             "shipping_address": [json.dumps(r["shipping_address"])
                                                  for r in rows]})
    for batch in (pa.Table.from_pylist(rows), as_json_text):
        result = check_batch(batch, contract)
        assert pa.types.is_struct(result.valid.schema.field("shipping_address").type)
        assert result.valid.column("shipping_address").to_pylist() == [rows[0]["shipping_address"]]
        assert result.valid.column("labels").to_pylist() == [["x", "y"]]
        assert result.rule_counts == {"required:shipping_address.city": 1}
        assert result.rejected.column("_dativo_reason").to_pylist() == [
            "shipping_address.city: required value missing"]

    customers = load_asset(CORPUS / "v300_customers_no_name.yaml")
    result = check_batch(pa.table({"customer_id": ["1", "99999999999"],
                                   "opens_at": ["08:30", "25:00"]}), customers)
    assert result.valid.schema.field("customer_id").type == pa.int32()
    assert result.valid.column("opens_at").to_pylist()[0].isoformat() == "08:30:00"
    assert result.rule_counts == {"type:customer_id": 1, "type:opens_at": 1}


def test_physical_name_maps_the_source_column():
    import pyarrow as pa

    from airflow_provider_dativo.contracts import check_batch

    contract = load_asset(CORPUS / "v302_events_cli_style.yaml")
    batch = pa.table({"event_id": ["6f1c9a0e-1111-4222-8333-444455556666"],
                      "occurred_at": ["2024-05-01T10:00:00Z"], "txn_ref_dt": ["2024-05-01"]})
    result = check_batch(batch, contract)
    assert str(result.valid.column("transaction_reference_date")[0]) == "2024-05-01"
    assert result.unknown_columns == ()
