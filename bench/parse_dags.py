"""DAG parse time: N generated dativo jobs beside N plain Python DAGs of 3 empty tasks.

    python bench/parse_dags.py [--jobs 1000] [--repeat 3] [--against DIR]

Each figure is the best of --repeat runs, each a fresh process that builds a ``DagBag`` of the
folder (what the DAG processor does), so imports and caches start cold. Also shown: a second
DagBag in the same process (YAML cached by file mtime), and building one DAG the way a task
does (parsing context set); each with its process's CPU time, steadier than wall time on a
shared machine. Every generated job writes its own table, so each is a real DAG, not
the placeholder of a refused job (the "invalid" count says so). ``--against DIR`` also parses the
same folders with the package of another checkout ``DIR`` (first on ``PYTHONPATH``), its runs
interleaved with this tree's, for a before/after measured side by side. Prints the figures;
asserts nothing.
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
target:
  table: orders_{i}
"""

MEASURE = """
import json, os, sys, time
t0 = time.perf_counter()
from airflow.dag_processing.dagbag import DagBag
t1, c1 = time.perf_counter(), time.process_time()
bag = DagBag(dag_folder=sys.argv[1])
t2, c2 = time.perf_counter(), time.process_time()
again = DagBag(dag_folder=sys.argv[1])
t3 = time.perf_counter()
assert not bag.import_errors, bag.import_errors
# a placeholder DAG of an invalid job is cheaper than a job's DAG: count them, so a figure
# never silently measures refused jobs
invalid = sum("invalid-config" in (dag.tags or ()) for dag in bag.dags.values())
print(json.dumps({"import": t1 - t0, "bag": t2 - t1, "cpu": c2 - c1, "warm": t3 - t2,
                  "dags": len(bag.dags), "invalid": invalid, "ids": sorted(bag.dags)[:3]}))
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


def best(folder: Path, envs: list[dict[str, str]], repeat: int) -> list[dict]:
    """The best run of each environment, their runs interleaved so that a change in the
    machine's load hits them alike."""
    runs: list[list[dict]] = [[] for _ in envs]
    for _ in range(repeat):
        for got, env in zip(runs, envs, strict=True):
            got.append(measure(folder, env))
    return [min(got, key=lambda r: r["bag"]) for got in runs]


def with_tree(env: dict[str, str], tree: Path) -> dict[str, str]:
    return {**env, "PYTHONPATH": os.pathsep.join(
        p for p in (str(tree), env.get("PYTHONPATH", "")) if p)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--against", type=Path, help="another checkout, parsed side by side")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dativo-parse-") as tmp:
        base = Path(tmp)
        dativo_dags = make_dativo(base / "config", args.jobs)
        plain_dags = make_plain(base / "plain", args.jobs)
        env = {**os.environ, "AIRFLOW_HOME": str(base / "airflow"),
               "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "DATIVO_HOME": str(base / "config")}
        env.pop("_AIRFLOW_PARSING_CONTEXT_DAG_ID", None)
        env = with_tree(env, REPO)
        envs = [env] + ([with_tree(env, args.against.resolve())] if args.against else [])
        task = {"_AIRFLOW_PARSING_CONTEXT_DAG_ID": "dativo__t7__job_7",
                "_AIRFLOW_PARSING_CONTEXT_TASK_ID": "extract"}
        plain, = best(plain_dags, [env], args.repeat)
        dativo = best(dativo_dags, envs, args.repeat)
        one = best(dativo_dags, [{**e, **task} for e in envs], args.repeat)
    for r in dativo:
        assert r["dags"] == plain["dags"] == args.jobs, (plain["dags"], r["dags"])
    assert all(r["dags"] == 1 for r in one), one
    print(f"DagBag of {args.jobs} DAGs, best of {args.repeat} fresh processes "
          f"({os.cpu_count()} cores):")
    print(f"| {'folder':<46} | {'DagBag':>8} | {'its CPU':>8} | {'again (cached)':>14} "
          f"| {'invalid':>7} |")
    print(f"|{'-' * 48}|{'-' * 10}|{'-' * 10}|{'-' * 16}|{'-' * 9}|")
    trees = ["", f" [{args.against}]"]
    rows = [(f"{args.jobs} plain DAGs, 3 EmptyOperators (floor)", plain)]
    rows += [(f"{args.jobs} dativo jobs (YAML → DAG){trees[i]}", r) for i, r in enumerate(dativo)]
    rows += [(f"dativo, one DAG as a task builds it{trees[i]}", r) for i, r in enumerate(one)]
    for name, r in rows:
        print(f"| {name:<46} | {r['bag']:>7.2f}s | {r['cpu']:>7.2f}s | {r['warm']:>13.2f}s | "
              f"{r.get('invalid', 0):>7} |")
    for i, r in enumerate(dativo):
        print(f"dativo{trees[i]} / floor: {r['bag'] / plain['bag']:.2f}x (target: within 2x), "
              f"CPU {r['cpu'] / plain['cpu']:.2f}x")
    print(f"`import airflow` {plain['import']:.2f}s not included")


if __name__ == "__main__":
    main()
