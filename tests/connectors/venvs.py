"""Connector virtualenvs for tests: made once and cached across sessions (keyed by pip spec).

Import ``connectors_home`` into a test module to use it as a fixture.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_dativo.config.loader import ConfigRoot
from airflow_provider_dativo.engines.connector_venvs import install

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("DATIVO_TEST_CONNECTORS")
             or Path(tempfile.gettempdir()) / "dativo-test-connectors")
SHIPPED = ("faker", "jsonl")


@pytest.fixture(scope="session")
def connectors_home() -> Iterator[Path]:
    """A DATIVO_CONNECTORS_HOME holding the shipped PyPI connectors, installed for real."""
    CACHE.mkdir(parents=True, exist_ok=True)
    before = os.environ.get("DATIVO_CONNECTORS_HOME")
    os.environ["DATIVO_CONNECTORS_HOME"] = str(CACHE)
    # test workers share the cache: one installs while the others wait
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            root = ConfigRoot(REPO)
            for name in SHIPPED:
                recipe = root.recipe(REPO / "connectors" / f"{name}.yaml")
                install(REPO, name, recipe.default_engine)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    try:
        yield CACHE
    finally:
        if before is None:
            os.environ.pop("DATIVO_CONNECTORS_HOME", None)
        else:
            os.environ["DATIVO_CONNECTORS_HOME"] = before
