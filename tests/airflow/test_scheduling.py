"""Scheduling from YAML: defaults in one place, every knob reaches the DAG and its tasks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from airflow_provider_dativo.config.loader import ConfigRoot
from airflow_provider_dativo.config.scheduling import SchedulingSpec, parse_duration
from airflow_provider_dativo.errors import ConfigError
from tests.conftest import write

pytestmark = pytest.mark.airflow

ORDERS = "jobs/acme/orders.yaml"


def with_lines(root: Path, extra: str) -> Path:
    path = root / ORDERS
    write(path, path.read_text() + extra)
    return path


def test_defaults_apply_when_the_job_says_nothing(config_root: Path) -> None:
    from airflow_provider_dativo.dag_factory import build_job_dag

    job = ConfigRoot(config_root).load_job(ORDERS)
    assert job.scheduling == SchedulingSpec()
    dag = build_job_dag(job, ConfigRoot(config_root))
    assert dag.max_active_runs == 1 and dag.catchup is False
    assert dag.start_date == dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    extract = dag.get_task("extract")
    assert extract.retries == 1 and extract.retry_delay == dt.timedelta(minutes=1)
    assert extract.pool == "default_pool" and extract.execution_timeout is None
    assert dag.get_task("validate").retries == 0


def test_every_setting_reaches_the_dag(config_root: Path) -> None:
    from airflow_provider_dativo.dag_factory import build_job_dag

    with_lines(config_root, """\
start_date: 2025-03-01
catchup: true
retries: 4
retry_delay: 30s
execution_timeout: 2h
dagrun_timeout: 1d
max_active_runs: 2
pool: tenant_acme
pool_slots: 2
owner: ops@acme.example
queue: {extract: big_memory}
""")
    config = ConfigRoot(config_root)
    dag = build_job_dag(config.load_job(ORDERS), config)
    assert dag.start_date == dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
    assert dag.catchup is True and dag.max_active_runs == 2
    assert dag.dagrun_timeout == dt.timedelta(days=1)
    for task_id in ("extract", "load"):
        task = dag.get_task(task_id)
        assert task.retries == 4 and task.retry_delay == dt.timedelta(seconds=30)
        assert task.execution_timeout == dt.timedelta(hours=2)
        assert task.pool == "tenant_acme" and task.pool_slots == 2
        assert task.owner == "ops@acme.example"
    assert dag.get_task("validate").retries == 0
    assert dag.get_task("extract").queue == "big_memory"
    assert dag.get_task("load").queue == dag.get_task("validate").queue == "default"
    # the load task publishes the table's Asset, Asset(uri), through an alias
    (outlet,) = dag.get_task("load").outlets
    assert outlet.name == "dativo:x-iceberg://dativo/acme/orders"
    from airflow.sdk import Asset

    from airflow_provider_dativo import table_asset
    assert table_asset(config.load_job(ORDERS)) == Asset("x-iceberg://dativo/acme/orders")


@pytest.mark.parametrize(("text", "message"), [
    ("retry_delay: 5 minutes\n", "retry_delay"),
    ("max_active_runs: 0\n", "max_active_runs"),
    ("start_date: next tuesday\n", "is not a date"),
    ("catchup: maybe\n", "catchup"),
    ("pool: 'my pool'\n", "pool"),
])
def test_bad_settings_name_the_file_line_and_field(config_root: Path, text: str,
                                                   message: str) -> None:
    path = with_lines(config_root, text)
    with pytest.raises(ConfigError) as info:
        ConfigRoot(config_root).load_job(path)
    (issue,) = info.value.issues
    assert message in str(issue)
    assert issue.file.endswith("orders.yaml")
    assert issue.line == len(path.read_text().splitlines())


def test_durations() -> None:
    assert parse_duration(90) == dt.timedelta(seconds=90)
    assert parse_duration("5m") == dt.timedelta(minutes=5)
    assert parse_duration("1d") == dt.timedelta(days=1)
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("soon")
