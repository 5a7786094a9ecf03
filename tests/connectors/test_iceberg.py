"""iceberg: the orders job lands in a catalog named in the job (a SQL catalog on SQLite here),
and pyiceberg alone reads back what landed, with the governance properties."""

from __future__ import annotations

from pathlib import Path

from pyiceberg.catalog import load_catalog

from airflow_provider_dativo import runner
from airflow_provider_dativo.config.loader import ConfigRoot
from tests.connectors.common import check_connector


def test_iceberg_configs() -> None:
    jobs = check_connector("iceberg")
    assert {j.dag_id for j in jobs} >= {"dativo__acme__orders", "dativo__globex__web_events"}


def test_a_catalog_named_in_the_job_receives_the_rows(config_root: Path, tmp_path: Path) -> None:
    uri, warehouse = f"sqlite:///{tmp_path / 'lake.db'}", (tmp_path / "wh").as_uri()
    job_file = config_root / "jobs/acme/orders.yaml"
    job_file.write_text(job_file.read_text() + (
        "target:\n  table: orders_copy\n  connection:\n    catalog:\n      name: lake\n"
        f"      type: sql\n      uri: {uri}\n      warehouse: {warehouse}\n"))
    job = ConfigRoot(config_root).load_job(job_file)
    _, result = runner.run_job(job, "iceberg-1")
    assert result.committed and result.rows == 8
    table = load_catalog("lake", type="sql", uri=uri, warehouse=warehouse).load_table(
        "acme.orders_copy")
    assert table.scan().to_arrow().num_rows == 8
    assert table.properties["dativo.owner"] == "data-platform@acme.example"
    assert table.current_snapshot().summary["dativo.run-id"] == "iceberg-1"
