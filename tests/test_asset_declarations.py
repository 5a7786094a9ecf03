"""`dativo validate` finds DAG files whose Asset declarations clash with a table's Asset.

The scanner reads declarations statically; the rule it applies for a missing name or URI is
checked against Airflow's own ``Asset``, so the two cannot drift apart unnoticed.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from airflow_provider_dativo.asset_declarations import declarations
from tests.conftest import BIN, write

ORDERS = "x-iceberg://dativo/acme/orders"
EVENTS = "x-iceberg://dativo/globex/web_events"

ORDINARY = f'''from airflow.sdk import DAG, Asset
from airflow_provider_dativo import table_asset

a = Asset("{ORDERS}")
b = Asset(uri="{ORDERS}")
c = Asset(name="{ORDERS}", uri="{ORDERS}")
d = Asset.ref(name="{ORDERS}")
e = Asset.ref(uri="{ORDERS}")
f = table_asset("dativo__acme__orders")
g = Asset(name="acme.orders")  # another asset altogether: its URI is its name
'''

CLASHING = f'''import airflow.sdk as sdk

uri = "{ORDERS}"
runtime = sdk.Asset(name="computed", uri=uri)  # not a literal: not seen
other_name = sdk.Asset(
    name="acme.orders",
    uri="{ORDERS}")
name_taken = sdk.Asset("{EVENTS}", "s3://elsewhere/events")
'''


def dativo(root: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    # PYTHONPATH passes on, so the command runs the package under test
    keep = {k: os.environ[k] for k in ("PYTHONPATH",) if k in os.environ}
    return subprocess.run([str(BIN / "dativo"), "--root", str(root), "validate", *args],
                          capture_output=True, text=True, timeout=120,
                          env={"COLUMNS": "250", "PATH": str(BIN), **keep, **env})


def test_ordinary_declarations_pass(config_root: Path) -> None:
    write(config_root / "dags/downstream.py", ORDINARY)
    result = dativo(config_root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "DAG files" in result.stdout and "table Assets ok" in result.stdout


def test_clashing_declarations_are_errors_with_file_and_line(config_root: Path) -> None:
    write(config_root / "dags/team/clash.py", CLASHING)
    result = dativo(config_root)
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    clash = config_root / "dags/team/clash.py"
    assert f"{clash}:5: Asset(name='acme.orders', uri='{ORDERS}') gives the table of " \
        "jobs/acme/orders.yaml another name" in out
    assert f"Declare it as Asset('{ORDERS}')" in out
    assert f"{clash}:8: Asset(name='{EVENTS}', uri='s3://elsewhere/events') takes the table " \
        "URI of jobs/globex/web_events.yaml as the name of another URI" in out
    assert "computed" not in out
    assert "2 error(s)" in out


def test_the_dag_folder_comes_from_the_option_or_airflow_s_environment(config_root: Path,
                                                                       tmp_path: Path) -> None:
    folder = tmp_path / "airflow_dags"
    write(folder / "clash.py", CLASHING)
    assert dativo(config_root, "--dags", str(folder)).returncode == 1
    assert dativo(config_root, AIRFLOW__CORE__DAGS_FOLDER=str(folder)).returncode == 1
    assert dativo(config_root).returncode == 0  # <root>/dags holds only the loader
    missing = dativo(config_root, "--dags", str(tmp_path / "nowhere"))
    assert missing.returncode == 1 and "no such folder" in missing.stderr


@pytest.mark.parametrize("call", [
    f'Asset("{ORDERS}")', f'Asset(uri="{ORDERS}")', f'Asset(name="{ORDERS}")',
    f'Asset("acme.orders", "{ORDERS}")', f'Asset(uri="{ORDERS}", name="acme.orders")',
])
def test_the_scanner_names_an_asset_as_airflow_does(call: str) -> None:
    from airflow.sdk import Asset

    (found,) = declarations(Path("dag.py"), call)
    airflow = eval(call, {"Asset": Asset})  # the literal calls above
    assert (found.name, found.uri) == (airflow.name, airflow.uri)


def test_table_asset_finds_a_job_by_its_dag_id(config_root: Path) -> None:
    from airflow_provider_dativo import table_asset

    asset = table_asset("dativo__acme__orders", root=config_root)
    assert asset.uri == asset.name == "x-iceberg://dativo/acme/orders"
    assert table_asset("jobs/acme/orders.yaml", root=config_root) == asset
