"""The UI's view of the provider: `airflow standalone` lists every job's DAG with its tags
through the REST API, and a triggered run succeeds (scripts/ui_check.py, without screenshot)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.services import free_port

pytestmark = [pytest.mark.airflow, pytest.mark.slow]


def test_every_dag_is_listed_with_its_tags_and_a_run_succeeds(config_root: Path,
                                                              tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("ui_check", REPO / "scripts/ui_check.py")
    assert spec is not None and spec.loader is not None
    ui_check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ui_check)
    home = tmp_path / "airflow"
    home.mkdir()
    result = ui_check.check(config_root, home, free_port(), "dativo__acme__orders")
    assert result["state"] == "success"
    assert result["tasks"] == {"validate": "success", "extract": "success", "load": "success"}
    orders = set(result["dags"]["dativo__acme__orders"])
    assert {"dativo", "tenant:acme", "source:file", "target:iceberg", "sales"} <= orders
    assert "dativo__globex__web_events" in result["dags"]
