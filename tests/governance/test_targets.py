"""Column governance lands where readers look: Iceberg column docs and table properties, kept in
step with the contract as it evolves; key-value metadata in every Parquet footer of the file
targets."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from airflow_provider_dativo import runner
from airflow_provider_dativo.config.loader import ConfigRoot
from airflow_provider_dativo.targets import IcebergSettings, IcebergTarget


def test_an_iceberg_table_carries_column_docs_and_governance(governed_root: Path) -> None:
    job = ConfigRoot(governed_root).load_job("jobs/acme/gov_orders.yaml")
    _, result = runner.run_job(job, "gov-1")
    assert result.committed and result.rows == 8
    table = runner.open_job_target(job).load_table()  # type: ignore[attr-defined]
    schema = table.schema()
    assert schema.find_field("order_id").doc == "Shop order number."
    assert schema.find_field("customer_email").doc == "Who ordered."
    props = table.properties
    assert props["dativo.owner"] == "job-owner@acme.example"
    assert props["dativo.governance.cost_centre"] == "CC-42"
    assert props["dativo.governance.project"] == "lakehouse"
    assert props["dativo.column.customer_email.classification"] == "PII"
    assert props["dativo.column.customer_email.tags"] == "contact,gdpr"
    assert props["dativo.column.customer_email.business_name"] == "Customer e-mail"
    assert props["dativo.column.status.classification"] == "public"


def test_schema_evolution_brings_docs_and_column_properties_up_to_date(
        governed_root: Path) -> None:
    root = ConfigRoot(governed_root)
    job = root.load_job("jobs/acme/gov_orders.yaml")
    runner.run_job(job, "gov-1")
    asset = governed_root / "assets/file/v1.0/gov_orders.yaml"
    text = asset.read_text()
    text = text.replace("description: Who ordered.", "description: The buyer's address.")
    text = text.replace("        classification: PII\n", "")  # classification dropped
    text = text.replace("      - name: currency\n        logicalType: string\n",
                        "      - name: currency\n        logicalType: string\n"
                        "      - name: channel\n        logicalType: string\n"
                        "        description: Where the order was placed.\n"
                        "        classification: internal\n")
    asset.write_text(text)
    job = root.load_job("jobs/acme/gov_orders.yaml")
    _, result = runner.run_job(job, "gov-2")
    assert result.committed
    table = runner.open_job_target(job).load_table()  # type: ignore[attr-defined]
    schema = table.schema()
    assert schema.find_field("customer_email").doc == "The buyer's address."
    assert schema.find_field("channel").doc == "Where the order was placed."
    props = table.properties
    assert "dativo.column.customer_email.classification" not in props
    assert props["dativo.column.customer_email.tags"] == "contact,gdpr"
    assert props["dativo.column.channel.classification"] == "internal"


def test_nested_columns_get_their_docs(tmp_path: Path) -> None:
    catalog = {"type": "sql", "uri": f"sqlite:///{tmp_path / 'c.db'}",
               "warehouse": (tmp_path / "wh").as_uri()}

    def described(name: str, kind: pa.DataType, doc: str) -> pa.Field:
        return pa.field(name, kind, metadata={b"description": doc.encode()})

    address = pa.struct([described("city", pa.string(), "Town or city.")])
    line = pa.struct([described("sku", pa.string(), "Article number.")])
    schema = pa.schema([pa.field("id", pa.int64()), described("address", address, "Postal."),
                        pa.field("lines", pa.list_(pa.field("element", line)))])
    target = IcebergTarget(IcebergSettings("t", catalog, "acme", "nested"), schema)
    target.prepare()
    created = target.load_table().schema()
    assert created.find_field("address").doc == "Postal."
    assert created.find_field("address.city").doc == "Town or city."
    assert created.find_field("lines.element.sku").doc == "Article number."

    renamed = pa.schema([schema.field("id"),
                         described("address", pa.struct([described("city", pa.string(),
                                                                    "City name.")]),
                                   "Postal."), schema.field("lines")])
    IcebergTarget(IcebergSettings("t", catalog, "acme", "nested"), renamed).prepare()
    assert target.load_table().schema().find_field("address.city").doc == "City name."


def _footers(folder: Path) -> list[dict[bytes, bytes]]:
    files = sorted(folder.rglob("*.parquet"))
    assert files
    return [pq.read_metadata(f).metadata for f in files]


def test_every_parquet_footer_carries_column_governance(governed_root: Path) -> None:
    for name, folder in (("gov_orders_parquet", ".dativo/parquet/acme/gov_orders"),
                         ("gov_orders_markdown_kv", ".dativo/markdown_kv/acme/gov_orders")):
        job = ConfigRoot(governed_root).load_job(f"jobs/acme/{name}.yaml")
        _, result = runner.run_job(job, f"{name}-1")
        assert result.committed
        for footer in _footers(governed_root / folder):
            assert footer[b"dativo.owner"] == b"job-owner@acme.example"
            assert footer[b"dativo.column.customer_email.classification"] == b"PII"
            assert footer[b"dativo.column.customer_email.business_name"] == b"Customer e-mail"
            assert footer[b"dativo.column.status.classification"] == b"public"
            assert footer[b"dativo.column.order_id.description"] == b"Shop order number."
