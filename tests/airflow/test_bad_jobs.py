"""Jobs that must not take the other DAGs down: an alias bomb, and jobs that collide."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from airflow_provider_dativo.config.loader import ConfigRoot
from tests.airflow.test_dags import DAGBAG_CODE
from tests.config.test_config_limits import BOMBS
from tests.conftest import bounded, write

pytestmark = pytest.mark.airflow


def bounded_dagbag(env: dict[str, str]) -> dict:
    """The DagBag as a fresh Airflow process sees it, in a process capped in memory and time:
    a job that blows up fails the test instead of the machine."""
    out = bounded([sys.executable, "-c", DAGBAG_CODE], env)
    assert out.returncode == 0, out.stderr[-4000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def valid_dag_ids(config_root: Path) -> set[str]:
    root = ConfigRoot(config_root)
    return {root.load_streams(p)[0].dag_id for p in root.job_files()}


def test_an_alias_bomb_becomes_one_failing_dag_beside_all_the_others(
        airflow_env: dict[str, str], config_root: Path) -> None:
    others = valid_dag_ids(config_root)
    assert len(others) >= 10
    write(config_root / "jobs/examples/bomb.yaml", BOMBS["top-level"])
    bag = bounded_dagbag(airflow_env)
    assert bag["errors"] == {}
    assert set(bag["dags"]) == others | {"dativo__examples__bomb"}
    bomb = bag["dags"]["dativo__examples__bomb"]
    assert bomb["tasks"] == ["invalid_config"]
    assert "jobs/examples/bomb.yaml:15: with its aliases expanded" in bomb["error_task"]
    for dag_id in others:
        assert bag["dags"][dag_id]["tasks"][0] == "validate"


def test_jobs_that_collide_become_failing_dags_naming_each_other(
        airflow_env: dict[str, str], config_root: Path) -> None:
    others = valid_dag_ids(config_root)
    # two files, one DAG id: one placeholder under that id, its error naming both files
    events = (config_root / "jobs/globex/web_events.yaml").read_text()
    write(config_root / "jobs/examples/web_events.yaml",
          events + "target:\n  table: web_events_copy\n")
    # two DAGs, one table: both placeholders, each naming the other file
    faker = config_root / "jobs/examples/faker_users.yaml"
    write(config_root / "jobs/examples/faker_again.yaml", faker.read_text())
    bag = bounded_dagbag(airflow_env)
    assert bag["errors"] == {}
    assert set(bag["dags"]) == others | {"dativo__demo__faker_again"}
    broken = {"dativo__globex__web_events", "dativo__demo__faker_users",
              "dativo__demo__faker_again"}
    for dag_id in others - broken:
        assert bag["dags"][dag_id]["tasks"][0] == "validate"
    for dag_id in broken:
        assert bag["dags"][dag_id]["tasks"] == ["invalid_config"]
    shared_id = bag["dags"]["dativo__globex__web_events"]["error_task"]
    assert f"{config_root}/jobs/examples/web_events.yaml:1: tenant_id: DAG id " \
           "dativo__globex__web_events is also the DAG id of jobs/globex/web_events.yaml" \
        in shared_id
    assert f"{config_root}/jobs/globex/web_events.yaml:1: tenant_id: DAG id " \
           "dativo__globex__web_events is also the DAG id of jobs/examples/web_events.yaml" \
        in shared_id
    for dag_id, other in (("dativo__demo__faker_users", "jobs/examples/faker_again.yaml"),
                          ("dativo__demo__faker_again", "jobs/examples/faker_users.yaml")):
        assert (f"target.table: iceberg table demo.faker_users (catalog dativo) is also "
                f"written by {other}") in bag["dags"][dag_id]["error_task"]

    # a task's parse builds only its DAG, and the same placeholder
    code = ("import json, sys\nfrom airflow_provider_dativo.dag_factory import build_dags\n"
            "dags = build_dags(sys.argv[1])\n"
            "print(json.dumps({k: [t.task_id for t in d.tasks] for k, d in dags.items()}))")
    out = bounded([sys.executable, "-c", code, str(config_root)],
                  {**airflow_env, "_AIRFLOW_PARSING_CONTEXT_DAG_ID": "dativo__demo__faker_again"})
    assert out.returncode == 0, out.stderr[-4000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {
        "dativo__demo__faker_again": ["invalid_config"]}
