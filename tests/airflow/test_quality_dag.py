"""Quality rules in real Airflow: text rules in the DAG's doc, the results in the load task's
log and XCom, and an error rule that fails the load and commits nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_dativo import runner
from airflow_provider_dativo.config.loader import ConfigRoot
from tests.conftest import airflow
from tests.contracts.test_quality_rules import COLUMN_RULES, RUN_RULES, doc, setup

pytestmark = pytest.mark.airflow

DAG_ID = "dativo__acme__orders_q"


def test_a_dag_runs_the_rules_and_an_error_rule_fails_its_load(airflow_env: dict[str, str],
                                                               config_root: Path) -> None:
    text = {"type": "text", "description": "Orders arrive before 6am UTC."}
    setup(config_root, doc(COLUMN_RULES, [*RUN_RULES, text]))
    code = f"""
from airflow.dag_processing.dagbag import DagBag
print(DagBag().get_dag({DAG_ID!r}).doc_md)
"""
    out = subprocess.run([sys.executable, "-c", code], env=airflow_env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-4000:]
    assert "- Orders arrive before 6am UTC." in out.stdout
    assert "- enough_rows: >= 10 (error, completeness)" in out.stdout

    result = airflow(airflow_env, "dags", "test", DAG_ID)
    logs = result.stdout + result.stderr
    assert "quality open_share: PASS (measured 50, bound between 40 and 60)" in logs
    job = ConfigRoot(config_root).load_job("jobs/acme/orders_q.yaml")
    table = runner.open_job_target(job).load_table()  # type: ignore[attr-defined]
    summary = table.current_snapshot().summary.additional_properties
    assert json.loads(summary["dativo.quality.enough_rows"])["measured"] == 10

    # a file of two rows: rowCount (severity error) fails, and the load commits nothing
    (config_root / "examples/data/orders_q/b.jsonl").write_text(
        '{"id": 11, "email": "x@x", "amount": 0, "status": "open"}\n'
        '{"id": 12, "email": "y@x", "amount": 0, "status": "closed"}\n')
    failed = airflow(airflow_env, "dags", "test", DAG_ID, check=False)
    logs = failed.stdout + failed.stderr
    assert "quality enough_rows: FAIL (measured 2, bound >= 10" in logs
    table = runner.open_job_target(job).load_table()  # type: ignore[attr-defined]
    assert table.scan().to_arrow().num_rows == 10
