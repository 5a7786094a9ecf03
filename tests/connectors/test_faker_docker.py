"""Airbyte's source-faker as a connector image (docker/source_faker/) on a real Docker engine:
spec, check and discover, then a full read and an incremental run that resumes from the
committed state."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dativo import runner
from airflow_provider_dativo.engines import open_source
from tests.conftest import BIN
from tests.connectors.common import check_connector
from tests.docker_engine import FAKER, containers_of, docker_engine, faker_job  # noqa: F401


def test_recipe_and_registry_entry_hold_together() -> None:
    check_connector("faker_docker")


@pytest.mark.docker
def test_spec_check_and_discover_run_in_the_image(config_root: Path,
                                                  docker_engine: Any) -> None:  # noqa: F811
    source = open_source(faker_job(config_root, 10), {"count": 10, "seed": 1})
    assert source.check().ok
    done = subprocess.run([str(BIN / "dativo"), "--root", str(config_root), "discover",
                           "--connector", "faker_docker", "--json"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    streams = {s["name"]: s for s in json.loads(done.stdout)}
    assert set(streams) == {"users", "products", "purchases"}
    assert streams["users"]["cursor_fields"] == ["updated_at"]
    assert streams["users"]["primary_key"] == ["id"]
    assert containers_of(docker_engine, FAKER) == []


@pytest.mark.docker
def test_full_read_then_incremental_resume(config_root: Path,
                                           docker_engine: Any) -> None:  # noqa: F811
    job = faker_job(config_root, 250)
    manifest, result = runner.run_job(job, "faker-1")
    assert result.committed and manifest["rows"] == 250
    table = runner.open_job_target(job).load_table()  # type: ignore[attr-defined]
    assert sorted(table.scan().to_arrow().column("id").to_pylist()) == list(range(1, 251))
    state = manifest["state"]["source"]["airbyte"]
    users = next(s for s in state if s["stream"]["stream_descriptor"]["name"] == "users")
    assert users["stream"]["stream_state"]["loop_offset"] == 250
    # faker sends nothing once it is handed its state: rows again would mean the committed
    # state never reached the container
    manifest, _ = runner.run_job(job, "faker-2")
    assert manifest["rows_read"] == 0
    assert table.refresh().scan().to_arrow().num_rows == 250
    assert containers_of(docker_engine, FAKER) == []
