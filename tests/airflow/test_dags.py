"""The generated DAGs, loaded and run by real Airflow."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest

from airflow_provider_dativo import runner
from airflow_provider_dativo.config.collisions import job_claim
from airflow_provider_dativo.config.loader import ConfigRoot
from tests.conftest import airflow, write

pytestmark = pytest.mark.airflow

# sample jobs the assertions below rely on; every job file must become a DAG
SAMPLES = {"dativo__acme__orders", "dativo__acme__stripe_customers",
           "dativo__globex__web_events", "dativo__demo__toy_http_tickets"}


def job_dag_ids(config_root: Path) -> set[str]:
    config = ConfigRoot(config_root)
    ids = {job_claim(config, p).dag_id for p in config.job_files()}
    assert ids >= SAMPLES
    return ids


# prints the DAG ids, tasks, tags, owners and import errors of a fresh DagBag as JSON
DAGBAG_CODE = """
import json
from airflow.dag_processing.dagbag import DagBag
bag = DagBag()
print(json.dumps({
  "errors": {k: str(v) for k, v in bag.import_errors.items()},
  "dags": {d.dag_id: {"tasks": [t.task_id for t in d.tasks], "tags": sorted(d.tags),
           "owner": d.owner, "doc": d.doc_md or "", "schedule": str(d.schedule),
           "error_task": getattr(d.tasks[0], "errors", None)} for d in bag.dags.values()},
}))
"""


def dagbag(env: dict[str, str]) -> dict:
    """DAG ids, tasks, tags, owners and import errors as a fresh Airflow process sees them."""
    out = subprocess.run([sys.executable, "-c", DAGBAG_CODE], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-4000:]

    return json.loads(out.stdout.strip().splitlines()[-1])


def orders_table(config_root: Path) -> pa.Table:
    job = ConfigRoot(config_root).load_job(config_root / "jobs/acme/orders.yaml")
    return runner.open_job_target(job).load_table().scan().to_arrow()  # type: ignore[attr-defined]


def test_every_job_becomes_a_dag(airflow_env: dict[str, str], config_root: Path) -> None:
    bag = dagbag(airflow_env)
    assert bag["errors"] == {}
    assert set(bag["dags"]) == job_dag_ids(config_root)
    orders = bag["dags"]["dativo__acme__orders"]
    assert orders["tasks"] == ["validate", "extract", "load"]
    assert orders["schedule"] == "@daily"
    assert {"dativo", "tenant:acme", "source:file", "target:iceberg", "sales"} <= set(
        orders["tags"])
    assert orders["owner"] == "data-platform@acme.example"  # from the contract's governance
    assert "| customer_email | string | yes |" in orders["doc"]
    assert bag["dags"]["dativo__globex__web_events"]["owner"] == "analytics@globex.example"


def test_an_invalid_job_fails_alone(airflow_env: dict[str, str], config_root: Path) -> None:
    write(config_root / "jobs/acme/orders.yaml",
          (config_root / "jobs/acme/orders.yaml").read_text().replace("mode: strict",
                                                                       "mode: sloppy"))
    write(config_root / "jobs/globex/garbage.yaml", "tenant_id: globex\nsource: [\n")
    bag = dagbag(airflow_env)
    assert bag["errors"] == {}
    assert set(bag["dags"]) == job_dag_ids(config_root)
    assert "dativo__globex__garbage" in bag["dags"]
    broken = bag["dags"]["dativo__acme__orders"]
    assert broken["tasks"] == ["invalid_config"]
    assert "invalid-config" in broken["tags"]
    assert "validation.mode: 'sloppy' is not one of strict, warn" in broken["error_task"]
    assert "YAML syntax error" in bag["dags"]["dativo__globex__garbage"]["error_task"]
    assert bag["dags"]["dativo__globex__web_events"]["tasks"] == ["validate", "extract", "load"]
    # running the placeholder fails with the validation error
    result = airflow(airflow_env, "dags", "test", "dativo__acme__orders", check=False)
    assert result.returncode != 0 or "failed" in (result.stdout + result.stderr).lower()
    assert "sloppy" in result.stdout + result.stderr


def test_parsing_needs_no_secret(airflow_env: dict[str, str]) -> None:
    env = {k: v for k, v in airflow_env.items() if k not in ("STRIPE_API_KEY", "S3_BUCKET")}
    bag = dagbag(env)
    assert "dativo__acme__stripe_customers" in bag["dags"]
    assert "dativo__demo__toy_http_tickets" in bag["dags"]


def test_dags_test_lands_the_rows_in_iceberg(airflow_env: dict[str, str],
                                            config_root: Path) -> None:
    airflow(airflow_env, "dags", "test", "dativo__acme__orders")
    table = orders_table(config_root)
    source = pa.concat_tables([pacsv.read_csv(p) for p in sorted(
        (config_root / "examples/data/orders").glob("*.csv"))])
    assert table.num_rows == source.num_rows == 8
    got = table.sort_by("order_id")
    want = source.sort_by("order_id")
    assert got["order_id"].to_pylist() == want["order_id"].to_pylist()
    assert got["customer_email"].to_pylist() == want["customer_email"].to_pylist()
    assert [str(v) for v in got["amount"].to_pylist()] == [f"{v:.2f}" for v in
                                                          want["amount"].to_pylist()]
    # 09:02:11+01:00 is 08:02:11 UTC
    assert pc.min(got["ordered_at"]).as_py().isoformat() == "2026-11-25T08:02:11+00:00"
    assert got["ingest_date"].null_count == 0

    # a second run finds no new file version: nothing is duplicated
    airflow(airflow_env, "dags", "test", "dativo__acme__orders")
    assert orders_table(config_root).num_rows == 8

    # a new file lands on the next run, alone
    write(config_root / "examples/data/orders/2026-11-27.csv", """\
order_id,customer_email,status,amount,currency,ordered_at
2001,ivy@example.com,placed,1.00,USD,2026-11-27T07:01:00Z
2002,jo@example.com,paid,2.00,EUR,2026-11-27T07:02:00Z
2003,kai@example.com,paid,3.00,GBP,2026-11-27T07:03:00Z
""")
    airflow(airflow_env, "dags", "test", "dativo__acme__orders")
    assert orders_table(config_root).num_rows == 11


def test_tasks_test_runs_one_task(airflow_env: dict[str, str]) -> None:
    result = airflow(airflow_env, "tasks", "test", "dativo__globex__web_events", "validate",
                     "2026-11-26")
    assert "1 file(s) match" in result.stdout + result.stderr


def test_the_provider_is_registered(airflow_env: dict[str, str]) -> None:
    result = airflow(airflow_env, "providers", "get", "airflow-provider-dativo")
    assert "airflow-provider-dativo" in result.stdout
    assert "0.1.0" in result.stdout
