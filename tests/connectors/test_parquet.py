"""parquet: the orders job retargeted to Parquet files with a commit marker per run."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from airflow_provider_dativo import runner
from airflow_provider_dativo.config.loader import ConfigRoot
from tests.connectors.common import check_connector


def test_parquet_configs() -> None:
    check_connector("parquet")


def test_orders_land_as_partitioned_parquet_once(config_root: Path) -> None:
    job_file = config_root / "jobs/acme/orders.yaml"
    job_file.write_text(job_file.read_text().replace("target_connector: iceberg",
                                                     "target_connector: parquet")
                        .replace("connectors/iceberg.yaml", "connectors/parquet.yaml"))
    job = ConfigRoot(config_root).load_job(job_file)
    manifest, result = runner.run_job(job, "pq-1")
    assert result.committed and result.rows == 8
    target = runner.open_job_target(job)
    assert target.read_table().num_rows == 8
    files = target.committed_paths()
    assert files and all("ingest_date=" in f for f in files)
    assert pq.read_metadata(files[0].removeprefix("file://")).num_rows > 0
    assert not runner.load_step(job, manifest).committed  # a retried load adds nothing
    assert target.read_table().num_rows == 8
