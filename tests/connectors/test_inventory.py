"""inventory: the example custom_plugin reader, end to end into Iceberg."""

from __future__ import annotations

from pathlib import Path

from airflow_provider_dativo import runner
from airflow_provider_dativo.config.loader import ConfigRoot
from tests.connectors.common import check_connector


def test_inventory_configs() -> None:
    (job,) = check_connector("inventory")
    assert job.source_engine == "custom_plugin"


def test_inventory_files_land(config_root: Path) -> None:
    job = ConfigRoot(config_root).load_job(config_root / "jobs/examples/inventory.yaml")
    blocks = sum(p.read_text().count("sku:") for p in
                 (config_root / "examples/data/inventory").glob("*.kv"))
    _, result = runner.run_job(job, "inv-1")
    assert result.rows == blocks
    rows = runner.open_job_target(job).load_table().scan().to_arrow()
    assert "Notebook ✎" in rows["name"].to_pylist()
