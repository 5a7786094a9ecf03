"""``airflow tasks test`` one task at a time, and a failing ``airflow dags test``, as a user runs
them: real Airflow subprocesses on a fresh Airflow home."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.airflow.test_dags import orders_table
from tests.conftest import airflow, write

pytestmark = pytest.mark.airflow

DAG = "dativo__acme__orders"
DATE = "2026-11-26"


def output(result) -> str:
    return result.stdout + result.stderr


def test_extract_then_load_with_tasks_test_lands_the_rows_once(
        airflow_env: dict[str, str], config_root: Path) -> None:
    airflow(airflow_env, "dags", "reserialize")
    airflow(airflow_env, "tasks", "test", DAG, "validate", DATE)
    airflow(airflow_env, "tasks", "test", DAG, "extract", DATE)
    load = airflow(airflow_env, "tasks", "test", DAG, "load", DATE)
    assert "read the one extract kept in staging" in output(load)
    assert orders_table(config_root).num_rows == 8
    # the same date again: the manifest names the committed run, so nothing lands twice
    again = airflow(airflow_env, "tasks", "test", DAG, "load", DATE)
    assert "already committed" in output(again)
    assert orders_table(config_root).num_rows == 8


def test_an_extract_run_again_for_one_date_lands_its_rows_once(
        airflow_env: dict[str, str], config_root: Path) -> None:
    """Two extracts of one date before its load (a user trying again), with a file arriving
    between them: the load lands what the second read, every row once; the next date's extract
    then reads nothing the first left staged."""
    airflow(airflow_env, "dags", "reserialize")
    airflow(airflow_env, "tasks", "test", DAG, "validate", DATE)
    airflow(airflow_env, "tasks", "test", DAG, "extract", DATE)
    write(config_root / "examples/data/orders/2026-11-27.csv",
          "order_id,customer_email,status,amount,currency,ordered_at\n"
          "1009,ivy@example.com,paid,12.50,EUR,2026-11-27T07:00:00Z\n"
          "1010,jon@example.com,placed,3.75,USD,2026-11-27T07:30:00Z\n")
    airflow(airflow_env, "tasks", "test", DAG, "extract", DATE)
    airflow(airflow_env, "tasks", "test", DAG, "load", DATE)
    ids = sorted(orders_table(config_root).column("order_id").to_pylist())
    assert ids == list(range(1001, 1011))
    airflow(airflow_env, "tasks", "test", DAG, "extract", "2026-11-27")
    airflow(airflow_env, "tasks", "test", DAG, "load", "2026-11-27")
    assert sorted(orders_table(config_root).column("order_id").to_pylist()) == ids


def test_a_load_with_no_extract_fails_and_says_to_run_it(airflow_env: dict[str, str]) -> None:
    airflow(airflow_env, "dags", "reserialize")
    airflow(airflow_env, "tasks", "test", DAG, "validate", DATE)
    load = airflow(airflow_env, "tasks", "test", DAG, "load", DATE, check=False)
    assert load.returncode != 0
    assert (f"run extract for that date first (airflow tasks test {DAG} extract "
            f"{DATE}T00:00:00+00:00)") in output(load)


def test_the_run_summary_shows_each_task_and_the_rows_landed(
        airflow_env: dict[str, str]) -> None:
    airflow(airflow_env, "dags", "test", DAG, DATE)
    summary = subprocess.run([sys.executable, "-m",
                              "airflow_provider_dativo.operators.run_summary", DAG],
                             env=airflow_env, capture_output=True, text=True, timeout=120)
    assert summary.returncode == 0, summary.stderr[-3000:]
    lines = summary.stdout.splitlines()
    assert lines[0].startswith("run ") and lines[0].endswith(f"of {DAG}: success")
    tasks = {line.split()[0]: line for line in lines[1:]}
    assert list(tasks) == ["validate", "extract", "load"]
    assert all(" success " in line and line.split()[3] == "s" for line in tasks.values())
    assert "8 rows staged, 0 rejected" in tasks["extract"]
    assert "8 rows landed in acme.orders" in tasks["load"]


def test_a_failing_dags_test_fails_at_once_without_retrying(
        airflow_env: dict[str, str], config_root: Path) -> None:
    job = config_root / "jobs/acme/orders.yaml"
    # three retries ten minutes apart: a dags test that retried would outlast the time bound
    write(job, job.read_text() + "retries: 3\nretry_delay: 10m\n")
    write(config_root / "examples/data/orders/2026-11-27.csv",
          "order_id,customer_email,status,amount,currency,ordered_at\n"
          "3001,not-an-email,paid,1.00,EUR,2026-11-27T07:00:00Z\n")
    result = airflow(airflow_env, "dags", "test", DAG, DATE, check=False, timeout=400)
    text = output(result)
    assert result.returncode != 0
    assert "refused 1 row(s)" in text and "not retried under `airflow dags test`" in text
    assert text.count("[DAG TEST] starting task_id=extract") == 1
    assert "up_for_retry" not in text
