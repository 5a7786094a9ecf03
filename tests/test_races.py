"""Exactly once under racing loads, late retries and kills, through real runs.

Writers race as real threads (extract and load steps, the way Airflow workers run them) or as
real ``dativo run`` processes, on pyiceberg SQL catalogs on SQLite and on PostgreSQL and on the
Parquet target. Every test compares the table row by row with the source files.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dativo import runner
from airflow_provider_dativo.config.loader import ConfigRoot
from airflow_provider_dativo.config.specs import JobSpec
from airflow_provider_dativo.errors import TargetError
from airflow_provider_dativo.targets.registry import open_quarantine_target
from tests.conftest import REPO, write
from tests.services import Database

JOB = """\
tenant_id: acme
source_connector: file
source_connector_path: connectors/file.yaml
asset: orders
asset_path: assets/file/v1.0/orders.yaml
target_connector: {target}
target_connector_path: connectors/{target}.yaml
source:
  connection:
    path: examples/data/{folder}/*.csv
{extra}"""

STATUSES = ("placed", "paid", "shipped", "cancelled")
Row = tuple[int, str, str, decimal.Decimal, str, dt.datetime]


def job_file(root: Path, name: str, folder: str, target: str = "iceberg",
             catalog: str | None = None, extra: str = "") -> Path:
    if catalog is not None:
        extra = ("target:\n  connection:\n    catalog:\n      type: sql\n"
                 f"      uri: {catalog}\n      warehouse: {(root / 'wh').as_uri()}\n") + extra
    return write(root / f"jobs/acme/{name}.yaml",
                 JOB.format(target=target, folder=folder, extra=extra))


def add_source_file(root: Path, folder: str, name: str, first: int, count: int,
                    bad: int = 0) -> list[Row]:
    """A CSV of ``count`` orders from id ``first``; the first ``bad`` break the status enum."""
    lines = ["order_id,customer_email,status,amount,currency,ordered_at"]
    good: list[Row] = []
    for i in range(first, first + count):
        status = "bogus" if i < first + bad else STATUSES[i % 4]
        amount = decimal.Decimal(i % 1000) / 4
        stamp = dt.datetime(2026, 11, 25, tzinfo=dt.UTC) + dt.timedelta(seconds=i)
        lines.append(f"{i},c{i}@example.com,{status},{amount:.2f},EUR,{stamp.isoformat()}")
        if status != "bogus":
            good.append((i, f"c{i}@example.com", status, amount.quantize(decimal.Decimal("0.01")),
                         "EUR", stamp))
    write(root / "examples/data" / folder / f"{name}.csv", "\n".join(lines) + "\n")
    return good


def table_rows(job: JobSpec) -> list[Row]:
    """Every row of the job's table, sorted, duplicates kept."""
    target: Any = runner.open_job_target(job)
    data = (target.load_table().scan().to_arrow() if hasattr(target, "load_table")
            else target.read_table())
    columns = ["order_id", "customer_email", "status", "amount", "currency", "ordered_at"]
    found = [tuple(r[c] for c in columns) for r in data.select(columns).to_pylist()]
    return sorted((r[0], r[1], r[2], r[3], r[4], r[5].astimezone(dt.UTC)) for r in found)


def in_threads(work: list[Callable[[], Any]]) -> list[Any]:
    """Run every callable in its own thread, all released at once; results or exceptions."""
    start = threading.Barrier(len(work))
    results: list[Any] = [None] * len(work)

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = work[i]()
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(work))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def load(job: JobSpec, manifest: dict[str, Any]) -> Any:
    """A load task with Airflow's retries: it is retried when other writers kept winning."""
    for _ in range(10):
        try:
            return runner.load_step(job, manifest)
        except TargetError as exc:
            if "retry the load task" not in str(exc):
                raise
    raise AssertionError(f"the load of {manifest['run_id']} never got through")


@pytest.fixture(params=["sqlite", "postgres", "parquet"])
def target_kind(request: pytest.FixtureRequest) -> tuple[str, str | None]:
    """(target connector, catalog URI): SQLite and PostgreSQL Iceberg catalogs, Parquet."""
    if request.param == "sqlite":
        return "iceberg", None  # the embedded default catalog
    if request.param == "parquet":
        return "parquet", None
    db: Database = request.getfixturevalue("pg_database")
    return "iceberg", f"postgresql+psycopg://postgres@127.0.0.1:{db.port}/{db.name}"


@pytest.mark.parametrize("writers", [2, 4])
def test_racing_jobs_sharing_a_table_land_every_row_once(
        config_root: Path, target_kind: tuple[str, str | None], writers: int) -> None:
    target, catalog = target_kind
    cfg = ConfigRoot(config_root)
    jobs = [cfg.load_job(job_file(config_root, f"race{w}", f"race{w}", target, catalog))
            for w in range(writers)]
    source: list[Row] = []
    rounds, rows = 3, 200
    for r in range(rounds):
        for w in range(writers):
            source += add_source_file(config_root, f"race{w}", f"r{r}",
                                      (w * rounds + r) * rows + 1, rows)
        # every job reads its state first, then all load at once: the worst interleaving
        manifests = in_threads([lambda j=j, w=w, r=r: runner.extract_step(j, f"run-{r}-{w}")
                                for w, j in enumerate(jobs)])
        assert [m["rows"] for m in manifests] == [rows] * writers
        results = in_threads([lambda j=j, m=m: load(j, m) for j, m in zip(jobs, manifests,
                                                                            strict=True)])
        assert all(not isinstance(x, Exception) and x.committed for x in results), results
    # one more run of each job finds nothing new: every job's state is its own
    for w, job in enumerate(jobs):
        manifest, _ = runner.run_job(job, f"calm-{w}")
        assert manifest["rows"] == 0
        files = runner.open_job_target(job).read_state()["source"]["files"]
        assert sorted(files) == [f"examples/data/race{w}/r{r}.csv" for r in range(rounds)]
    assert table_rows(jobs[0]) == sorted(source)


@pytest.mark.parametrize("runs", [2, 3])
def test_racing_runs_of_one_job_commit_once_and_refuse_the_rest(
        config_root: Path, target_kind: tuple[str, str | None], runs: int) -> None:
    target, catalog = target_kind
    job = ConfigRoot(config_root).load_job(job_file(config_root, "one", "one", target, catalog))
    source: list[Row] = []
    base = None
    for r in range(2):
        source += add_source_file(config_root, "one", f"r{r}", r * 500 + 1, 500)
        manifests = in_threads([lambda i=i, r=r: runner.extract_step(job, f"run-{r}-{i}")
                                for i in range(runs)])
        assert [m["base_run_id"] for m in manifests] == [base] * runs
        results = in_threads([lambda m=m: load(job, m) for m in manifests])
        landed = [x for x in results if not isinstance(x, Exception)]
        refused = [x for x in results if isinstance(x, Exception)]
        assert len(landed) == 1 and landed[0].committed, results
        assert len(refused) == runs - 1
        assert all(isinstance(x, TargetError) and "nothing of run" in str(x) and
                   f"another run of job {job.dag_id} committed run" in str(x) for x in refused)
        base = manifests[results.index(landed[0])]["run_id"]
        assert runner.open_job_target(job).committed_head().run_id == base
    assert table_rows(job) == sorted(source)
    manifest, _ = runner.run_job(job, "calm")
    assert manifest["rows"] == 0 and table_rows(job) == sorted(source)


GATED_READER = """
import os, time
from pathlib import Path
from examples.plugins.kv_records import KeyValueReader

class GatedReader(KeyValueReader):
    '''Reads like KeyValueReader, then waits for the test's go file before it ends.'''

    def read(self, stream, state):
        yield from super().read(stream, state)
        go = Path(os.environ["RACE_GO_FILE"])
        while not go.exists():
            time.sleep(0.01)
"""

GATED_JOB = """\
tenant_id: demo
source_connector: inventory
source_connector_path: connectors/inventory.yaml
asset: inventory_items
asset_path: assets/inventory/v1.0/items.yaml
target_connector: iceberg
target_connector_path: connectors/iceberg.yaml
source:
  engine: custom_plugin
  plugin: gated_plugin:GatedReader
  connection:
    path: examples/data/inventory/*.kv
"""


def dativo_run(root: Path, job: str, go: Path, run_id: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "RACE_GO_FILE": str(go), "COLUMNS": "200"}
    return subprocess.Popen([sys.executable, "-m", "airflow_provider_dativo.cli", "--root",
                             str(root), "run", job, "--run-id", run_id],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def test_two_dativo_runs_of_one_job_at_once_load_once(config_root: Path, tmp_path: Path) -> None:
    write(config_root / "gated_plugin.py", GATED_READER)
    job_path = write(config_root / "jobs/demo/inventory_gated.yaml", GATED_JOB)
    go = tmp_path / "go"
    first = dativo_run(config_root, str(job_path), go, "cli-first")
    lock = config_root / ".dativo/staging/demo/inventory_gated/run.lock"
    try:
        # the first run holds the job once its lock file names it (it then waits for go)
        while not (lock.exists() and "cli-first" in lock.read_text()):
            assert first.poll() is None, first.communicate()
            time.sleep(0.01)
        second = dativo_run(config_root, str(job_path), go, "cli-second")
        out, err = second.communicate(timeout=120)
        assert second.returncode == 1, out + err
        message = " ".join(err.split())
        assert "job dativo__demo__inventory_gated is already running (run cli-first, pid " \
            f"{first.pid} on" in message
        assert "wait for that run to end, then run again" in message
    finally:
        go.touch()
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, out + err
    job = ConfigRoot(config_root).load_job(job_path)
    target: Any = runner.open_job_target(job)
    landed = sorted(r["sku"] for r in target.load_table().scan().to_arrow().to_pylist())
    from examples.plugins.kv_records import KeyValueReader  # the source, read directly

    reader = KeyValueReader({"path": "examples/data/inventory/*.kv",
                             "config_root": str(config_root)})
    source = sorted(r["sku"] for batch in reader.read("items", None) if not isinstance(batch, dict)
                    for r in batch.to_pylist())
    assert landed == source and len(source) > 0
    assert not target.is_committed("cli-second")
    # the lock went with the first run: the next run goes through and finds nothing new
    again = dativo_run(config_root, str(job_path), go, "cli-third")
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, out + err
    assert sorted(r["sku"] for r in target.load_table().scan().to_arrow().to_pylist()) == source


def test_a_late_retry_after_expire_snapshots_adds_nothing_and_keeps_state(
        config_root: Path, target_kind: tuple[str, str | None]) -> None:
    target_type, catalog = target_kind
    if target_type != "iceberg":
        pytest.skip("snapshot expiry is Iceberg's")
    job = ConfigRoot(config_root).load_job(job_file(config_root, "late", "late", target_type,
                                                    catalog))
    source = add_source_file(config_root, "late", "r0", 1, 300)
    old, _ = runner.run_job(job, "run-A")
    source += add_source_file(config_root, "late", "r1", 301, 300)
    runner.run_job(job, "run-B")
    target: Any = runner.open_job_target(job)
    table = target.load_table()
    expired = [s.snapshot_id for s in table.snapshots()
               if s.summary is not None and s.summary["dativo.run-id"] == "run-A"]
    table.maintenance.expire_snapshots().by_ids(expired).commit()
    state = target.read_state()
    assert state is not None and len(state["source"]["files"]) == 2

    # Airflow clears run-A: its load runs again with the manifest run-A staged back then
    assert not runner.load_step(job, old).committed
    assert target.read_state() == state
    # and so does its extract: it finds run-A committed and stages nothing
    assert runner.extract_step(job, "run-A")["already_committed"]
    manifest, _ = runner.run_job(job, "run-C")
    assert manifest["rows"] == 0
    assert table_rows(job) == sorted(source)


KILLED_LOAD = """
import json, os, signal, sys
from pathlib import Path
from airflow_provider_dativo import runner
from airflow_provider_dativo.config.loader import ConfigRoot

def kill(head, quarantine_target, earlier=False):
    if not earlier:  # this run's data is committed; its quarantine commit is next
        os.kill(os.getpid(), signal.SIGKILL)

runner._finish_quarantine = kill
job = ConfigRoot(Path(sys.argv[1])).load_job(Path(sys.argv[2]))
runner.run_job(job, sys.argv[3])
"""


@pytest.mark.parametrize("rerun", ["new run id", "same run retried"])
def test_a_kill_between_the_data_and_quarantine_commits_leaves_each_row_once(
        config_root: Path, target_kind: tuple[str, str | None], rerun: str) -> None:
    target_type, catalog = target_kind
    path = job_file(config_root, "quar", "quar", target_type, catalog,
                    extra="validation:\n  mode: warn\n")
    text = path.read_text()
    options = "  options:\n    quarantine_table: true\n"
    write(path, text.replace("target:\n", "target:\n" + options) if "target:\n" in text
          else text + "target:\n" + options)
    source = add_source_file(config_root, "quar", "f", 1, 100, bad=37)
    killed = subprocess.run([sys.executable, "-c", KILLED_LOAD, str(config_root), str(path),
                             "run-1"], capture_output=True, text=True, cwd=REPO, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    job = ConfigRoot(config_root).load_job(path)
    quarantine = open_quarantine_target(job, job.resolved_target_connection())
    assert quarantine is not None and not quarantine.is_committed("run-1")
    assert table_rows(job) == source  # the data commit landed before the kill

    if rerun == "new run id":
        runner.run_job(job, "run-2")
        runner.run_job(job, "run-3")
    else:
        runner.run_job(job, "run-1")  # Airflow's retry: same run id
    assert table_rows(job) == source
    refused = quarantine_records(quarantine)
    assert [r["run_id"] for r in refused] == ["run-1"] * 37
    assert sorted(int(json.loads(r["record"])["order_id"]) for r in refused) == list(
        range(1, 38))


def quarantine_records(target: Any) -> list[dict[str, Any]]:
    data = (target.load_table().scan().to_arrow() if hasattr(target, "load_table")
            else target.read_table())
    return data.to_pylist()
