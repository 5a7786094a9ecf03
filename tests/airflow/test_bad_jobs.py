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
