"""Partitioned jobs in real Airflow: plan → extract mapped over the parts → one load."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import airflow
from tests.services import Database
from tests.test_partitions import big_csv, csv_job, landed, pg_job, seed_pg, snapshots

pytestmark = pytest.mark.airflow

SHAPE_CODE = """
import json
from airflow.dag_processing.dagbag import DagBag
bag = DagBag()
out = {"errors": {k: str(v) for k, v in bag.import_errors.items()}}
for dag in bag.dags.values():
    out[dag.dag_id] = {t.task_id: {"upstream": sorted(t.upstream_task_ids),
                                   "mapped": type(t).__name__ == "MappedOperator",
                                   "cap": t.max_active_tis_per_dagrun,
                                   "outlets": [type(o).__name__ for o in t.outlets]}
                   for t in dag.tasks}
print(json.dumps(out))
"""


def shapes(env: dict[str, str]) -> dict:
    out = subprocess.run([sys.executable, "-c", SHAPE_CODE], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-4000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_dag_shape_and_a_postgres_table_landed_by_dags_test(
        airflow_env: dict[str, str], config_root: Path, pg_database: Database) -> None:
    expected = seed_pg(pg_database, rows=3000)
    job = pg_job(config_root, pg_database, "    column: grp\n    count: 3\n    parallelism: 2")
    bag = shapes(airflow_env)
    assert bag["errors"] == {}
    assert bag["dativo__acme__pg_events"] == {
        "validate": {"upstream": [], "mapped": False, "cap": None, "outlets": []},
        "plan": {"upstream": ["validate"], "mapped": False, "cap": None, "outlets": []},
        "extract": {"upstream": ["plan"], "mapped": True, "cap": 2, "outlets": []},
        # the table's Asset through an alias, as for an unpartitioned load: no downstream
        # declaration can make the load fail
        "load": {"upstream": ["extract"], "mapped": False, "cap": None,
                 "outlets": ["AssetAlias"]},
    }
    # a job without partitions keeps its shape
    assert set(bag["dativo__acme__orders"]) == {"validate", "extract", "load"}
    airflow(airflow_env, "dags", "test", "dativo__acme__pg_events")
    assert landed(job) == expected  # three ranges and the NULL part, every row once
    assert snapshots(job) == 1


def test_a_large_csv_landed_by_dags_test_and_a_failing_part_commits_nothing(
        airflow_env: dict[str, str], config_root: Path) -> None:
    expected = big_csv(config_root, 30_000)
    job = csv_job(config_root, 3)
    airflow(airflow_env, "dags", "test", "dativo__acme__csv_events")
    assert landed(job) == expected and snapshots(job) == 1

    # a second file whose part cannot be read (a line that breaks the strict contract)
    data = config_root / "examples/data/big"
    (data / "more.csv").write_text("id,grp,name,at\n1,1,a,2026-01-01T00:00:00\n"
                                   "x,1,b,not-a-time\n")
    (data / "others.csv").write_text("id,grp,name,at\n7,1,c,2026-01-01T00:00:00\n")
    result = airflow(airflow_env, "dags", "test", "dativo__acme__csv_events", check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0 or "failed" in output.lower()
    assert "refused 1 row(s)" in output  # the part's own error, in its task's log
    assert landed(job) == expected and snapshots(job) == 1  # nothing of that run committed
