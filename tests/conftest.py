"""Shared fixtures: an isolated copy of the config repository, and a real Airflow home."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CONFIG_DIRS = ("connectors", "assets", "jobs", "registry", "examples/data", "examples/plugins",
               "dags")


@pytest.fixture
def config_root(tmp_path: Path) -> Path:
    """A private copy of the shipped configs and sample data, so runs never touch the repo."""
    root = tmp_path / "config"
    for rel in CONFIG_DIRS:
        shutil.copytree(REPO / rel, root / rel)
    return root


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def airflow_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated Airflow metadata database, made once per test worker and copied per test."""
    home = tmp_path_factory.mktemp("airflow_template")
    env = {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    subprocess.run([str(BIN / "airflow"), "db", "migrate"], env=env, check=True,
                   capture_output=True, text=True)
    return home / "airflow.db"


@pytest.fixture
def airflow_env(tmp_path: Path, airflow_db: Path, config_root: Path) -> dict[str, str]:
    """Environment for real ``airflow`` commands on the config copy's DAG folder."""
    home = tmp_path / "airflow"
    home.mkdir()
    shutil.copy(airflow_db, home / "airflow.db")
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(config_root / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "DATIVO_HOME": str(config_root),
    }


def airflow(env: dict[str, str], *args: str, check: bool = True,
            timeout: int = 300) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(BIN / "airflow"), *args], env=env, capture_output=True,
                            text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"airflow {' '.join(args)} failed ({result.returncode}):\n"
                             f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result


def bounded(argv: list[str], env: dict[str, str] | None = None, *, timeout: int = 60,
            memory_bytes: int = 1536 * 1024 * 1024) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` with a cap on its address space and time, so a regression that blows up
    (an alias bomb, say) fails the test instead of hanging it or exhausting the machine."""
    import resource

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))

    return subprocess.run(argv, env=env or dict(os.environ), capture_output=True, text=True,
                          timeout=timeout, preexec_fn=limit)


pytest_plugins = ["tests.services"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: starts an Airflow cluster (Celery workers, "
                            "API server); select with -m slow, skip with -m 'not slow'")
