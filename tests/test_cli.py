"""The dativo command, run as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from airflow_provider_dativo.contracts import validate_official
from tests.conftest import BIN, REPO, write


def dativo(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"COLUMNS": "200", "PATH": str(BIN)}
    if "PYTHONPATH" in os.environ:  # the checkout under test, not the installed one
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return subprocess.run([str(BIN / "dativo"), "--root", str(root), *args], capture_output=True,
                          text=True, timeout=120, env=env)


def test_validate_passes_on_the_shipped_configs() -> None:
    result = dativo(REPO, "validate")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all configs are valid" in result.stdout
    lines = result.stdout.splitlines()
    for kind in ("registry", "connectors", "assets", "jobs"):
        assert any(line.startswith(kind) and "ok" in line for line in lines), result.stdout


def test_validate_lists_every_error_and_fails(config_root: Path) -> None:
    write(config_root / "jobs/acme/bad.yaml", "tenant_id: Acme Corp\nsource_connector: file\n")
    write(config_root / "connectors/broken.yaml", "type: broken\nversion: 1\n")
    result = dativo(config_root, "validate")
    assert result.returncode == 1
    out = result.stdout
    assert "jobs/acme/bad.yaml:1: tenant_id: 'Acme Corp' does not match" in out
    assert "bad.yaml:1: 'asset' is required" in out
    assert "connectors/broken.yaml:1: 'default_engine' is required" in out
    assert "connectors/broken.yaml:2: version: 1 is not of type 'string'" in out
    assert "jobs" in out and "1 invalid" in out


def test_validate_warns_of_an_asset_without_source_type(config_root: Path) -> None:
    asset = config_root / "assets/file/v1.0/orders.yaml"
    asset.write_text(asset.read_text().replace("source_type: file\n", ""))
    result = dativo(config_root, "validate")
    assert result.returncode == 0, result.stdout  # a warning does not fail the validation
    out = " ".join(result.stdout.split())
    assert ("warning assets/file/v1.0/orders.yaml: source_type: the asset declares no "
            "source_type") in out
    assert "(a job reads it with 'file'); add source_type: file" in out
    assert "all configs are valid (1 warning(s))" in out  # one line per asset, not per job


def test_list_shows_jobs_and_dag_ids(config_root: Path) -> None:
    write(config_root / "jobs/globex/bad.yaml", "tenant_id: globex\n")
    result = dativo(config_root, "list")
    assert result.returncode == 0
    assert "dativo__acme__orders" in result.stdout
    assert "dativo__globex__web_events" in result.stdout
    assert "invalid" in result.stdout and "1 invalid job(s)" in result.stdout


def test_run_lands_rows_and_prints_a_summary(config_root: Path) -> None:
    result = dativo(config_root, "run", "jobs/acme/orders.yaml", "--run-id", "cli-1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "rows committed" in result.stdout and "8" in result.stdout
    extract, wall = (float(_summary_value(result.stdout, k))
                     for k in ("extract seconds", "wall seconds"))
    assert 0 < extract <= wall  # the wall time takes in the load (the Iceberg commit) as well
    shown = dativo(config_root, "show", "jobs/acme/orders.yaml")
    assert shown.returncode == 0, shown.stderr
    assert "acme.orders" in shown.stdout and "cli-1" in shown.stdout
    again = dativo(config_root, "run", "jobs/acme/orders.yaml", "--run-id", "cli-1")
    assert "already committed" in again.stdout


def _summary_value(out: str, key: str) -> str:
    """The value of one row of the run summary table."""
    row = next(line for line in out.splitlines() if line.strip("│ ").startswith(key + " "))
    return row.split("│")[2].strip()


def test_run_runs_every_stream_of_a_multi_stream_job(config_root: Path) -> None:
    job = "jobs/examples/files_multi.yaml"
    result = dativo(config_root, "run", job, "--run-id", "multi-1")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "extract orders" in out and "extract events" in out
    assert _summary_value(out, "stream") == "orders"
    assert out.index("│ orders") < out.index("│ events")
    assert "multi_orders" in out and "multi_events" in out
    assert "enum:event_type=1, minimum:duration_ms=1" in out
    assert out.count("extract seconds") == 2 and out.count("wall seconds") == 3
    walls = [float(line.split("│")[2]) for line in out.splitlines()
             if "wall seconds" in line]
    # the run's wall time covers both streams (each figure is rounded to a millisecond)
    assert walls[2] + 0.002 >= walls[0] + walls[1]
    shown = dativo(config_root, "show", job, "--stream", "events")
    assert shown.returncode == 0, shown.stderr
    assert "demo.multi_events" in shown.stdout and "│ rows" in shown.stdout
    assert " 4 " in shown.stdout.split("│ rows", 1)[1].splitlines()[0]
    again = dativo(config_root, "run", job, "--run-id", "multi-1", "--stream", "orders")
    assert again.stdout.count("already committed") == 1 and "events" not in again.stdout
    unnamed = dativo(config_root, "show", job)
    assert unnamed.returncode == 0, unnamed.stderr
    assert "showing stream orders of orders, events; pick another with --stream" in " ".join(
        unnamed.stderr.split())
    assert "demo.multi_orders" in unnamed.stdout
    listed = dativo(config_root, "list")
    assert "orders, events" in listed.stdout


def test_run_reports_config_errors_without_a_traceback(config_root: Path) -> None:
    write(config_root / "jobs/acme/bad.yaml", "tenant_id: acme\n")
    result = dativo(config_root, "run", "jobs/acme/bad.yaml")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "'source_connector' is required" in result.stderr


def test_discover_keeps_the_connectors_info_logs_for_verbose(config_root: Path) -> None:
    script = Path(__file__).parent / "engines" / "airbyte_script.py"
    write(config_root / "connectors/faker.yaml", f"""\
type: faker
version: 1.0.0
default_engine:
  type: airbyte
  command: [{sys.executable}, {script}]
""")
    for flag in ("--columns", "--verbose"):  # --verbose: the older name of --columns
        quiet = dativo(config_root, "discover", "--connector", "faker", flag)
        assert quiet.returncode == 0, quiet.stderr
        assert "age: integer" in quiet.stdout
        assert "discovering streams" not in quiet.stdout + quiet.stderr
    loud = dativo(config_root, "-v", "discover", "--connector", "faker")
    assert loud.returncode == 0, loud.stderr
    assert "[faker] discovering streams" in loud.stderr
    assert "age: integer" not in loud.stdout  # -v is the log, not the columns


@pytest.mark.parametrize("asset", sorted(str(p.relative_to(REPO))
                                         for p in (REPO / "assets").glob("*/*/*.yaml")))
def test_every_asset_exports_to_the_official_odcs_schema(asset: str, tmp_path: Path) -> None:
    out = tmp_path / "contract.yaml"
    result = dativo(REPO, "contract", "export", asset, "-o", str(out))
    assert result.returncode == 0, result.stderr
    doc = yaml.safe_load(out.read_text())
    assert validate_official(doc) == []
    assert doc["apiVersion"] == "v3.0.2" and doc["kind"] == "DataContract"


def test_module_entry_point_matches_the_script() -> None:
    result = subprocess.run([sys.executable, "-m", "airflow_provider_dativo.cli", "--help"],
                            capture_output=True, text=True, check=True)
    assert "validate" in result.stdout and "contract" in result.stdout


def test_list_and_show_say_where_a_derived_asset_name_came_from(config_root: Path) -> None:
    # an ODCS contract without `name`: the asset is named after its one schema object
    corpus = REPO / "tests/fixtures/odcs/v300_customers_no_name.yaml"
    write(config_root / "assets/file/v1.0/customers.yaml", corpus.read_text())
    write(config_root / "data/customers.csv", "customer_id,country\n1,DE\n2,FR\n")
    write(config_root / "jobs/acme/customers.yaml", f"""\
tenant_id: acme
source_connector: file
source_connector_path: connectors/file.yaml
asset: customers
asset_path: assets/file/v1.0/customers.yaml
target_connector: iceberg
target_connector_path: connectors/iceberg.yaml
source:
  connection: {{path: {config_root}/data/customers.csv}}
""")
    said = ("customers (assets/file/v1.0/customers.yaml); the contract has no name, so it is its "
            "one schema object's name")
    listed = dativo(config_root, "list")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert f"acme/customers: asset {said}" in listed.stdout
    assert "acme/orders: asset" not in listed.stdout  # named contracts need no note
    ran = dativo(config_root, "run", "jobs/acme/customers.yaml")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    shown = dativo(config_root, "show", "jobs/acme/customers.yaml")
    assert shown.returncode == 0, shown.stderr
    assert "the contract has no name, so it is its" in shown.stdout
