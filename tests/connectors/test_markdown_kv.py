"""markdown_kv: the orders job written as one Markdown-KV document per order."""

from __future__ import annotations

from pathlib import Path

from airflow_provider_dativo import runner
from airflow_provider_dativo.config.loader import ConfigRoot
from tests.connectors.common import check_connector


def test_markdown_kv_configs() -> None:
    check_connector("markdown_kv")


def test_orders_become_documents(config_root: Path) -> None:
    job_file = config_root / "jobs/acme/orders.yaml"
    job_file.write_text(job_file.read_text().replace("target_connector: iceberg",
                                                     "target_connector: markdown_kv")
                        .replace("connectors/iceberg.yaml", "connectors/markdown_kv.yaml"))
    job = ConfigRoot(config_root).load_job(job_file)
    _, result = runner.run_job(job, "md-1")
    assert result.committed and result.rows == 8
    target = runner.open_job_target(job)
    assert target.is_committed("md-1")
    assert target.read_state()["source"]["files"]
    assert target.committed_paths()
