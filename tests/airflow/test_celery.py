"""Scale out with Airflow's own executor: a generated DAG under the CeleryExecutor.

Redis (127.0.0.1:6379) is the broker and a fresh PostgreSQL database the metadata store. Two
Celery workers run as separate processes, each with its own Airflow home and its own copy of
the config repository: worker A serves validate and extract, worker B serves load. The Iceberg
catalog lives in PostgreSQL and the warehouse and staging on S3 (moto's server), so the load
can only succeed if extract handed everything over through shared storage, never a local disk.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pyarrow.compute as pc
import pytest

from tests.conftest import BIN, CONFIG_DIRS, REPO, write
from tests.services import Database, S3Server, free_port, wait_for_port
from tests.test_partitions import ASSET, seed_pg

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

PG = "postgresql+psycopg://postgres@127.0.0.1:5432"
DAG_ID = "dativo__acme__orders"


def _admin(sql: str) -> None:
    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres",
                         autocommit=True) as conn:
        conn.execute(sql)


@pytest.fixture
def databases() -> Iterator[tuple[str, str]]:
    """A fresh metadata database and a fresh Iceberg catalog database, dropped afterwards."""
    suffix = uuid.uuid4().hex[:10]
    names = (f"airflow_celery_{suffix}", f"iceberg_celery_{suffix}")
    for name in names:
        _admin(f'CREATE DATABASE "{name}"')
    try:
        yield names
    finally:
        for name in names:
            _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def config_copy(base: Path, name: str, job_tail: str) -> Path:
    root = base / name
    for rel in CONFIG_DIRS:
        shutil.copytree(REPO / rel, root / rel)
    job = root / "jobs/acme/orders.yaml"
    job.write_text(job.read_text().replace('schedule: "@daily"', "schedule: null") + job_tail)
    return root


class Cluster:
    """Airflow components as child processes, each with its own environment."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, env: dict[str, str], *args: str) -> None:
        log = open(self.base / f"{name}.log", "wb")  # noqa: SIM115 - lives as long as the process
        proc = subprocess.Popen([str(BIN / "airflow"), *args], env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append((name, proc))

    def logs(self) -> str:
        return "\n".join(f"===== {name}\n" + (self.base / f"{name}.log").read_text(
            errors="replace")[-3000:] for name, _ in self.procs)

    def check_alive(self) -> None:
        dead = [name for name, proc in self.procs if proc.poll() is not None]
        assert not dead, f"{', '.join(dead)} exited early\n{self.logs()}"

    def stop(self) -> None:
        for _, proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for _, proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def cluster_env(s3_server: S3Server, metadata_db: str, broker: str) -> dict[str, str]:
    """What every component of one cluster shares: executor, metadata DB, broker, API."""
    api_port = free_port()
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "DATIVO"))},
        **s3_server.env(),
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"{PG}/{metadata_db}",
        # psycopg 3 drives the async engine too (Airflow would otherwise want asyncpg)
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": f"{PG}/{metadata_db}",
        "AIRFLOW__CELERY__BROKER_URL": broker,
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{PG}/{metadata_db}",
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": "1",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        # every component must sign and check task tokens with the same key
        "AIRFLOW__API_AUTH__JWT_SECRET": uuid.uuid4().hex,
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
        "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "300",
    }


def run(env: dict[str, str], *args: str) -> str:
    out = subprocess.run([str(BIN / "airflow"), *args], env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, f"airflow {' '.join(args)}:\n{out.stdout[-3000:]}\n" \
                                f"{out.stderr[-3000:]}"
    return out.stdout


def run_state(metadata_db: str, run_id: str) -> str | None:
    with psycopg.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={metadata_db}") as db:
        row = db.execute("SELECT state FROM dag_run WHERE run_id = %s", (run_id,)).fetchone()
    return row[0] if row else None


def wait_for_run(cluster: Cluster, metadata_db: str, run_id: str, timeout: float) -> str | None:
    state, deadline = None, time.monotonic() + timeout
    while time.monotonic() < deadline and state not in ("success", "failed"):
        time.sleep(1)
        cluster.check_alive()
        state = run_state(metadata_db, run_id)
    return state


def run_dag_on_cluster(tmp_path: Path, core: dict[str, str],
                       workers: dict[str, tuple[dict[str, str], str]], tag: str, dag_id: str,
                       run_id: str, metadata_db: str, timeout: float) -> None:
    """Migrate, start the API server, the scheduler and one Celery worker of concurrency 1 per
    ``workers`` entry (name: its environment and queue), trigger ``dag_id`` as ``run_id`` and
    wait for it to succeed; everything is stopped afterwards."""
    run(core, "db", "migrate")
    run(core, "dags", "reserialize")
    cluster = Cluster(tmp_path)
    try:
        cluster.start("api", core, "api-server")
        cluster.start("scheduler", core, "scheduler")
        for name, (env, queue) in workers.items():
            cluster.start(name, env, "celery", "worker", "-q", queue, "-c", "1", "-s",
                          "-H", f"{name}_{tag}@%h", "--without-gossip", "--without-mingle")
        wait_for_port(int(core["AIRFLOW__API__PORT"]), timeout=120)
        run(core, "dags", "unpause", dag_id)
        run(core, "dags", "trigger", dag_id, "--run-id", run_id)
        state = wait_for_run(cluster, metadata_db, run_id, timeout=timeout)
        assert state == "success", f"run ended as {state}\n{cluster.logs()}"
    finally:
        cluster.stop()


def test_extract_and_load_run_on_different_celery_workers(
        tmp_path: Path, s3_server: S3Server, databases: tuple[str, str]) -> None:
    metadata_db, catalog_db = databases
    bucket = s3_server.new_bucket()
    tag = uuid.uuid4().hex[:8]
    queue_a, queue_b = f"dativo_a_{tag}", f"dativo_b_{tag}"
    job_tail = f"""queue: {{validate: {queue_a}, extract: {queue_a}, load: {queue_b}}}
staging:
  root: s3://{bucket}/staging
target:
  connection:
    catalog:
      type: sql
      uri: {PG}/{catalog_db}
      warehouse: s3://{bucket}/warehouse
      s3.endpoint: {s3_server.endpoint}
      s3.region: {s3_server.region}
      s3.access-key-id: {s3_server.access_key}
      s3.secret-access-key: {s3_server.secret_key}
"""
    common = cluster_env(s3_server, metadata_db, "redis://127.0.0.1:6379/0")

    def component(name: str) -> dict[str, str]:
        """Own Airflow home (task logs land there), own copy of the config repository."""
        root = config_copy(tmp_path, f"config_{name}", job_tail)
        home = tmp_path / f"home_{name}"
        home.mkdir()
        return {**common, "AIRFLOW_HOME": str(home), "DATIVO_HOME": str(root),
                "AIRFLOW__CORE__DAGS_FOLDER": str(root / "dags")}

    core, worker_a, worker_b = component("core"), component("a"), component("b")
    run_dag_on_cluster(tmp_path, core, {"worker_a": (worker_a, queue_a),
                                        "worker_b": (worker_b, queue_b)},
                       tag, DAG_ID, f"celery_{tag}", metadata_db, timeout=240)

    with psycopg.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={metadata_db}") as db:
        queues = dict(db.execute("SELECT task_id, queue FROM task_instance WHERE run_id = %s",
                                 (f"celery_{tag}",)).fetchall())
    assert queues == {"validate": queue_a, "extract": queue_a, "load": queue_b}

    def task_logs(env: dict[str, str]) -> set[str]:
        logs = Path(env["AIRFLOW_HOME"]) / "logs"
        return {p.parent.name.removeprefix("task_id=") for p in logs.rglob("attempt=*.log")}

    # each task's log was written by the worker that ran it, in that worker's own home
    assert task_logs(worker_a) == {"validate", "extract"}
    assert task_logs(worker_b) == {"load"}
    # neither worker kept anything on its local disk: no embedded catalog, no local staging
    for env in (worker_a, worker_b, core):
        assert not (Path(env["DATIVO_HOME"]) / ".dativo").exists()

    keys = [o["Key"] for o in s3_server.client().list_objects_v2(Bucket=bucket)["Contents"]]
    assert any(k.startswith("warehouse/acme/orders/data/") and k.endswith(".parquet")
               for k in keys)
    from pyiceberg.catalog import load_catalog

    catalog = load_catalog("dativo", type="sql", uri=f"{PG}/{catalog_db}",
                           **{"s3.endpoint": s3_server.endpoint, "s3.region": s3_server.region,
                              "s3.access-key-id": s3_server.access_key,
                              "s3.secret-access-key": s3_server.secret_key})
    table = catalog.load_table("acme.orders")
    rows = table.scan().to_arrow()
    assert rows.num_rows == 8
    assert pc.min(rows["order_id"]).as_py() == 1001
    assert table.current_snapshot().summary["dativo.run-id"] == f"celery_{tag}"


PARTITIONED_JOB = """\
tenant_id: acme
source_connector: postgres
source_connector_path: connectors/postgres.yaml
asset: pg_events
asset_path: assets/postgres/v1.0/pg_events.yaml
target_connector: iceberg
target_connector_path: connectors/iceberg.yaml
schedule: null
queue: {queue}
source:
  object: events
  connection:
    database: {database}
  partitions:
    column: grp
    count: 3
    parallelism: 2
"""


def test_the_parts_of_one_job_spread_over_two_celery_workers_and_commit_once(
        tmp_path: Path, s3_server: S3Server, databases: tuple[str, str],
        pg_database: Database) -> None:
    """validate → plan → extract mapped over 4 parts (3 ranges of grp and its NULLs) → load,
    with two workers of concurrency 1 on one queue: both run parts, the load commits once."""
    metadata_db, catalog_db = databases
    expected = seed_pg(pg_database, rows=3000)
    bucket = s3_server.new_bucket()
    tag = uuid.uuid4().hex[:8]
    queue, run_id, dag_id = f"dativo_parts_{tag}", f"parts_{tag}", "dativo__acme__pg_events"
    catalog = {"type": "sql", "uri": f"{PG}/{catalog_db}", "warehouse": f"s3://{bucket}/warehouse",
               "s3.endpoint": s3_server.endpoint, "s3.region": s3_server.region,
               "s3.access-key-id": s3_server.access_key,
               "s3.secret-access-key": s3_server.secret_key}
    job_text = PARTITIONED_JOB.format(queue=queue, database=pg_database.name) + (
        f"staging:\n  root: s3://{bucket}/staging\ntarget:\n  connection:\n    catalog:\n"
        + "".join(f"      {k}: {v}\n" for k, v in catalog.items()))
    # a Redis database of its own: the other Celery test's broker keys never meet these
    common = cluster_env(s3_server, metadata_db, "redis://127.0.0.1:6379/7")

    def component(name: str, **extra: str) -> dict[str, str]:
        root = tmp_path / f"config_{name}"
        for rel in CONFIG_DIRS:
            shutil.copytree(REPO / rel, root / rel)
        write(root / "assets/postgres/v1.0/pg_events.yaml",
              ASSET.format(name="pg_events", source="postgres"))
        write(root / "jobs/acme/pg_events.yaml", job_text)
        home = tmp_path / f"home_{name}"
        home.mkdir()
        return {**common, "AIRFLOW_HOME": str(home), "DATIVO_HOME": str(root),
                "AIRFLOW__CORE__DAGS_FOLDER": str(root / "dags"), **extra}

    def worker(name: str) -> dict[str, str]:
        # the task instances' hostname is this worker's name (they share one machine)
        return component(name, DATIVO_TEST_WORKER_HOSTNAME=f"{name}_{tag}",
                         AIRFLOW__CORE__HOSTNAME_CALLABLE=f"{__package__}.worker_hostname.hostname",
                         PYTHONPATH=os.pathsep.join(
                             p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p))

    core, workers = component("core"), {name: worker(name) for name in ("worker_a", "worker_b")}
    run_dag_on_cluster(tmp_path, core, {name: (env, queue) for name, env in workers.items()},
                       tag, dag_id, run_id, metadata_db, timeout=300)

    with psycopg.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={metadata_db}") as db:
        ran = db.execute("SELECT task_id, map_index, hostname, state FROM task_instance "
                         "WHERE run_id = %s ORDER BY task_id, map_index", (run_id,)).fetchall()
    assert {(t, s) for t, _, _, s in ran} == {(t, "success")
                                             for t in ("validate", "plan", "extract", "load")}
    parts = {i: host for t, i, host, _ in ran if t == "extract"}
    assert sorted(parts) == [0, 1, 2, 3]  # three ranges of grp and the part of its NULLs
    assert set(parts.values()) == {f"worker_a_{tag}", f"worker_b_{tag}"}, parts
    # and each part's log is in the home of the worker its task instance names
    for name, env in workers.items():
        logged = {int(p.parent.name.removeprefix("map_index="))
                  for p in (Path(env["AIRFLOW_HOME"]) / "logs").rglob("attempt=*.log")
                  if "task_id=extract" in str(p)}
        assert logged == {i for i, host in parts.items() if host == f"{name}_{tag}"}

    from pyiceberg.catalog import load_catalog

    table = load_catalog("dativo", **catalog).load_table("acme.pg_events")
    got = sorted((r["id"], r["grp"], r["name"], r["at"])
                 for r in table.scan().to_arrow().to_pylist())
    assert got == expected  # every row once, the NULL part's too
    assert len(table.metadata.snapshots) == 1
    assert table.current_snapshot().summary["dativo.run-id"] == run_id
