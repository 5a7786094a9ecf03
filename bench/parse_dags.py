"""DAG parse time: N generated dativo jobs beside N plain Python DAGs of 3 empty tasks.

    python bench/parse_dags.py [--jobs 1000] [--repeat 3]

Each figure is the best of --repeat runs, each a fresh process that builds a ``DagBag`` of the
folder (what the DAG processor does), so imports and caches start cold. Also shown: a second
DagBag in the same process (YAML cached by file mtime), and building one DAG the way a task
does (parsing context set). Prints the figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIG_DIRS = ("connectors", "assets", "registry", "dags", "examples/data/orders")

PLAIN_DAG = '''\
import datetime as dt
from airflow.sdk import DAG
from airflow.providers.standard.operators.empty import EmptyOperator

with DAG(dag_id="plain_{i}", schedule="@daily", start_date=dt.datetime(2024, 1, 1),
         catchup=False, tags=["plain", "tenant:t{t}"]):
    EmptyOperator(task_id="validate") >> EmptyOperator(task_id="extract") >> EmptyOperator(
        task_id="load")
'''

JOB = """\
tenant_id: t{t}
name: job_{i}
description: generated job {i}
schedule: "@daily"
tags: [bench]
source_connector: file
source_connector_path: connectors/file.yaml
asset: orders
asset_path: assets/file/v1.0/orders.yaml
target_connector: iceberg
target_connector_path: connectors/iceberg.yaml
source:
  connection:
    path: examples/data/orders/*.csv
"""

MEASURE = """
import json, os, sys, time
t0 = time.perf_counter()
from airflow.dag_processing.dagbag import DagBag
t1 = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1])
t2 = time.perf_counter()
again = DagBag(dag_folder=sys.argv[1])
t3 = time.perf_counter()
assert not bag.import_errors, bag.import_errors
print(json.dumps({"import": t1 - t0, "bag": t2 - t1, "warm": t3 - t2, "dags": len(bag.dags),
                  "ids": sorted(bag.dags)[:3]}))
"""


def make_dativo(root: Path, n: int) -> Path:
    for rel in CONFIG_DIRS:
        shutil.copytree(REPO / rel, root / rel)
    for i in range(n):
        path = root / "jobs" / f"t{i % 20}" / f"job_{i}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(JOB.format(i=i, t=i % 20))
    return root / "dags"


def make_plain(folder: Path, n: int) -> Path:
    folder.mkdir(parents=True)
    for i in range(n):
        (folder / f"plain_{i}.py").write_text(PLAIN_DAG.format(i=i, t=i % 20))
    return folder


def measure(folder: Path, env: dict[str, str]) -> dict:
    out = subprocess.run([sys.executable, "-c", MEASURE, str(folder)], env=env,
                         capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"parsing {folder} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def best(folder: Path, env: dict[str, str], repeat: int) -> dict:
    runs = [measure(folder, env) for _ in range(repeat)]
    return min(runs, key=lambda r: r["bag"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dativo-parse-") as tmp:
        base = Path(tmp)
        dativo_dags = make_dativo(base / "config", args.jobs)
        plain_dags = make_plain(base / "plain", args.jobs)
        env = {**os.environ, "AIRFLOW_HOME": str(base / "airflow"),
               "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "DATIVO_HOME": str(base / "config")}
        env.pop("_AIRFLOW_PARSING_CONTEXT_DAG_ID", None)
        plain = best(plain_dags, env, args.repeat)
        dativo = best(dativo_dags, env, args.repeat)
        one = best(dativo_dags, {**env, "_AIRFLOW_PARSING_CONTEXT_DAG_ID": "dativo__t7__job_7",
                                 "_AIRFLOW_PARSING_CONTEXT_TASK_ID": "extract"}, args.repeat)
    assert plain["dags"] == dativo["dags"] == args.jobs, (plain["dags"], dativo["dags"])
    assert one["dags"] == 1, one
    print(f"DagBag of {args.jobs} DAGs, best of {args.repeat} fresh processes "
          f"({os.cpu_count()} cores):")
    print(f"| {'folder':<42} | {'DagBag':>8} | {'again (cached)':>14} |")
    print(f"|{'-' * 44}|{'-' * 10}|{'-' * 16}|")
    rows = [(f"{args.jobs} plain DAGs, 3 EmptyOperators (floor)", plain),
            (f"{args.jobs} dativo jobs (YAML → DAG)", dativo),
            ("dativo, one DAG as a task run builds it", one)]
    for name, r in rows:
        print(f"| {name:<42} | {r['bag']:>7.2f}s | {r['warm']:>13.2f}s |")
    print(f"dativo / floor: {dativo['bag'] / plain['bag']:.2f}x (target: within 2x); "
          f"`import airflow` {plain['import']:.2f}s not included")


if __name__ == "__main__":
    main()
