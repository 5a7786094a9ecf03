"""The provider's own image (docker/Dockerfile), built FROM the local Debian base by
``make docker-engine``: Airflow sees the provider, and `dativo validate` passes on the shipped
config repository mounted where the image expects it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import REPO
from tests.docker_engine import PROVIDER, docker_engine, require_images  # noqa: F401 - fixture

pytestmark = pytest.mark.docker


def run(client: Any, *command: str) -> str:
    """The command's output in a fresh container with the repository as DATIVO_HOME."""
    output = client.containers.run(
        PROVIDER, list(command), remove=True, network_mode="none", stderr=True,
        volumes={str(REPO): {"bind": "/opt/airflow/dativo", "mode": "ro"}})
    return output.decode()


def test_airflow_in_the_image_lists_the_provider(docker_engine: Any) -> None:  # noqa: F811
    require_images(docker_engine, PROVIDER)
    listed = run(docker_engine, "airflow", "providers", "list")
    assert "airflow-provider-dativo" in listed


def test_dativo_validate_passes_in_the_image(docker_engine: Any) -> None:  # noqa: F811
    require_images(docker_engine, PROVIDER)
    # a failing command raises ContainerError with its output
    output = run(docker_engine, "dativo", "validate")
    assert "all configs are valid" in output, output
    jobs = len(list((REPO / "jobs").glob("*/*.yaml")))
    assert any(line.split()[:2] == ["jobs", str(jobs)] for line in output.splitlines()), output
