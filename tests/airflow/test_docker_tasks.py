"""Connector images in Airflow tasks: ``airflow dags test`` of a job on the Docker launcher, and
``docker_conn_id`` sending its containers to the engine of an Airflow Docker connection through
the Docker provider's DockerHook. DOCKER_HOST points where nothing listens, so only the
connection can reach the engine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dativo import runner
from airflow_provider_dativo.config.loader import ConfigRoot
from airflow_provider_dativo.errors import EngineError
from airflow_provider_dativo.hooks.connectors import AirbyteDockerHook, hook_for
from tests.conftest import airflow, write
from tests.docker_engine import (  # noqa: F401 - fixture
    FAKER,
    FAKER_JOB,
    containers_of,
    docker_engine,
    faker_job,
)
from tests.services import free_port

pytestmark = [pytest.mark.airflow, pytest.mark.docker]

LOCAL_ENGINE = {"conn_type": "docker", "extra": {"docker_url": "unix:///var/run/docker.sock"}}


def engine_url(client: Any) -> str:
    return str(client.api.base_url)


def test_dags_test_of_a_docker_job_lands_its_rows_on_the_connections_engine(
        config_root: Path, airflow_env: dict[str, str], docker_engine: Any) -> None:  # noqa: F811
    faker_job(config_root, 200, source="  docker_conn_id: docker_local\n")
    env = {**airflow_env, "AIRFLOW_CONN_DOCKER_LOCAL": json.dumps(LOCAL_ENGINE),
           "DOCKER_HOST": f"tcp://127.0.0.1:{free_port()}"}
    airflow(env, "dags", "test", "dativo__demo__faker_docker_users", "2024-01-01")
    job = ConfigRoot(config_root).load_job(FAKER_JOB)
    rows = runner.open_job_target(job).load_table().scan().to_arrow()  # type: ignore[attr-defined]
    assert sorted(rows.column("id").to_pylist()) == list(range(1, 201))
    assert containers_of(docker_engine, FAKER) == []


def test_a_recipes_docker_conn_id_runs_the_hooks_checks_on_that_engine(
        config_root: Path, docker_engine: Any,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    recipe = config_root / "connectors/faker_docker.yaml"
    write(recipe, recipe.read_text().replace("    launcher: docker\n",
                                             "    launcher: docker\n"
                                             "    docker_conn_id: docker_local\n"))
    monkeypatch.setenv("AIRFLOW_CONN_DOCKER_LOCAL", json.dumps(LOCAL_ENGINE))
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{free_port()}")
    job = faker_job(config_root, 10)
    hook = hook_for(job, FAKER_JOB, str(config_root))
    assert isinstance(hook, AirbyteDockerHook) and hook.docker_conn_id == "docker_local"
    assert engine_url(hook.docker_client()).startswith("http+docker://")  # the unix socket
    assert hook.test_connection() == (True, "connection succeeded")
    assert {s.name for s in hook.discover()} == {"users", "products", "purchases"}

    # the job's own docker_conn_id wins over the recipe's; an undefined one says what to do
    job = faker_job(config_root, 10, source="  docker_conn_id: docker_missing\n")
    hook = hook_for(job, FAKER_JOB, str(config_root))
    with pytest.raises(EngineError, match=r"Docker connection 'docker_missing' is not defined"):
        hook.check()


def test_the_hook_takes_the_docker_conn_id_the_job_was_loaded_with(
        config_root: Path, docker_engine: Any,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The loader carries the connection in the job spec; the hook does not read the job file
    again, so an edit made after the load does not move the job's containers elsewhere."""
    monkeypatch.setenv("AIRFLOW_CONN_DOCKER_LOCAL", json.dumps(LOCAL_ENGINE))
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{free_port()}")
    assert faker_job(config_root, 10).docker_conn_id is None
    job = faker_job(config_root, 10, source="  docker_conn_id: docker_local\n")
    assert job.docker_conn_id == "docker_local"
    job_file = config_root / FAKER_JOB
    job_file.write_text(job_file.read_text().replace("docker_local", "docker_missing"))
    hook = hook_for(job, FAKER_JOB, str(config_root))
    assert isinstance(hook, AirbyteDockerHook) and hook.docker_conn_id == "docker_local"
    assert hook.test_connection() == (True, "connection succeeded")
