"""The real Docker engine the ``docker`` tests run containers on, with the project's images.

Import ``docker_engine`` into a test module to use it as a fixture. Without an engine (or
without the images scripts/docker_engine.sh builds) the tests skip and say to run
``make docker-engine``; under CI=true they fail instead, so a CI run never passes by skipping.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dativo.config.loader import ConfigRoot
from airflow_provider_dativo.config.specs import JobSpec
from tests.conftest import write

TOY_HTTP = "dativo/toy_http:1.0.0"
FAKER = "dativo/source-faker:7.2.1"
PROVIDER = "dativo/airflow:local"  # docker/Dockerfile FROM the local base
IMAGES = (TOY_HTTP, FAKER)
SETUP = "run `make docker-engine` (scripts/docker_engine.sh) to start one and build the images"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"docker test cannot run under CI: {reason}; .ci/run must {SETUP}",
                    pytrace=False)
    pytest.skip(f"{reason}; {SETUP}")


@pytest.fixture(scope="session")
def docker_engine() -> Any:
    """A docker SDK client on the engine of DOCKER_HOST (default: the local socket)."""
    try:
        import docker
    except ImportError:
        _unavailable("the docker SDK is not installed")
    try:
        client = docker.from_env(timeout=30)
        client.ping()
    except Exception as exc:
        _unavailable(f"no Docker engine answers ({exc})")
    require_images(client, *IMAGES)
    return client


def require_images(client: Any, *images: str) -> None:
    missing = [image for image in images if not client.images.list(name=image)]
    if missing:
        _unavailable(f"the engine lacks the images {', '.join(missing)}")


def containers_of(client: Any, image: str) -> list[Any]:
    """Containers of ``image`` this test process started that the engine still has, running
    or not (other test workers run their own at the same time)."""
    from airflow_provider_dativo.engines.launchers.docker import OWNER_LABEL, owner

    # ignore_removed: a container that ends and is removed between the listing and its
    # inspection (a connector's spec or discover run) is simply not there
    return client.containers.list(all=True, ignore_removed=True,
                                  filters={"ancestor": image,
                                           "label": f"{OWNER_LABEL}={owner()}"})


FAKER_JOB = "jobs/examples/faker_docker_users.yaml"


def faker_job(config_root: Path, count: int, source: str = "") -> JobSpec:
    """The faker example job on the image recipe (connectors/faker_docker.yaml); ``source``
    adds keys to its source block."""
    text = (config_root / "jobs/examples/faker_users.yaml").read_text()
    for old, new in [("source_connector: faker\n", "source_connector: faker_docker\n"),
                     ("connectors/faker.yaml", "connectors/faker_docker.yaml"),
                     ("source:\n", f"source:\n{source}"),
                     ("count: 1000", f"count: {count}"),
                     ("table: faker_users", "table: faker_docker_users")]:
        assert old in text
        text = text.replace(old, new)
    # the faker asset as it is: the image recipe reads assets of source_type faker
    write(config_root / FAKER_JOB, text)
    return ConfigRoot(config_root).load_job(FAKER_JOB)
