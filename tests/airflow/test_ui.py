"""The UI's view of the provider: `airflow standalone` lists every job's DAG with its tags
through the REST API, and a triggered run succeeds (scripts/ui_check.py, without screenshot).

The same standalone run checks the table Assets under the real scheduler, which is what
activates and deactivates assets (`airflow dags test` does not): a downstream DAG per ordinary
way of declaring the table is asset-triggered by the load, with the load's extras in its
triggering event, and a DAG whose Asset clashes with another job's table neither makes that
job's load fail nor goes unreported in its doc.
"""

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

    # every declaration form triggers a run on this load's event, which carries what landed
    landed = result["load"]  # the load task's own account of its commit
    assert landed["committed"] is True and isinstance(landed["snapshot_id"], int)
    assert set(result["downstream"]) == set(ui_check.DOWNSTREAM_FORMS)
    for form, seen in result["downstream"].items():
        assert (seen["run_type"], seen["state"]) == ("asset_triggered", "success"), form
        ref = form in ui_check.REF_FORMS
        read = seen["read"]["inlet" if ref else "triggering"]
        (extra,) = [e for e in read if e["run_id"] == result["run_id"]]
        assert {k: extra[k] for k in ("rows", "committed", "snapshot_id")} == \
            {k: landed[k] for k in ("rows", "committed", "snapshot_id")}, form
        assert extra["table"] == "acme.orders" and extra["dag_id"] == "dativo__acme__orders"
        # the run's triggering event, as the REST API lists it; Airflow 3.3 links none to a
        # run scheduled on Asset.ref (its task reads the table's events as an inlet instead)
        assert seen["event"] == (None if ref else extra), form

    # a clashing declaration: the job's load still succeeds, and its DAG's doc names the file
    clash = result["clash"]
    assert clash["state"] == "success", clash
    assert set(clash["tasks"].values()) == {"success"}, clash
    assert "## Asset clashes" in clash["doc_md"]
    assert f"{ui_check.CLASH_DAG_ID}.py" in clash["doc_md"]
