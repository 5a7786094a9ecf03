"""Delivery guarantees under faults, on an Iceberg warehouse in moto's S3 server.

Each test asserts the exact rows in the table afterwards. "Killed" means a real process
killed with SIGKILL; "S3 unavailable" means the S3 endpoint refuses connections.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_dativo import runner
from airflow_provider_dativo.config.loader import ConfigRoot
from airflow_provider_dativo.errors import TargetError
from tests.conftest import REPO, write
from tests.services import S3Server
from tests.targets.proxy import TcpProxy

ALL_ORDERS = [1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008]

JOB = """\
tenant_id: acme
source_connector: file
source_connector_path: connectors/file.yaml
asset: orders
asset_path: assets/file/v1.0/orders.yaml
target_connector: iceberg
target_connector_path: connectors/iceberg.yaml
source:
  connection:
    path: examples/data/orders/*.csv
{extra_source}target:
  write_mode: {write_mode}
  options:
    orphan_retention_hours: 0
  connection:
    catalog:
      type: sql
      uri: ${{FAULTS_CATALOG_URI}}
      warehouse: s3://${{FAULTS_BUCKET}}/warehouse
      s3.endpoint: ${{FAULTS_S3_ENDPOINT}}
      s3.access-key-id: ${{FAULTS_S3_KEY}}
      s3.secret-access-key: ${{FAULTS_S3_SECRET}}
      s3.region: us-east-1
"""


@pytest.fixture
def proxy(s3_server: S3Server) -> Iterator[TcpProxy]:
    """moto's S3 server behind a forwarder the test can stop and restart."""
    forwarder = TcpProxy(int(s3_server.endpoint.rsplit(":", 1)[1])).start()
    yield forwarder
    forwarder.stop()


@pytest.fixture
def s3_env(s3_server: S3Server, proxy: TcpProxy, tmp_path: Path,
           monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The job's ${VAR}s: a fresh bucket reached through the proxy, a SQLite catalog."""
    env = {"FAULTS_CATALOG_URI": f"sqlite:///{tmp_path / 'catalog.db'}",
           "FAULTS_BUCKET": s3_server.new_bucket(), "FAULTS_S3_ENDPOINT": proxy.endpoint,
           "FAULTS_S3_KEY": s3_server.access_key, "FAULTS_S3_SECRET": s3_server.secret_key}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def job_file(root: Path, write_mode: str = "append", extra_source: str = "") -> Path:
    return write(root / "jobs/acme/orders_s3.yaml",
                 JOB.format(write_mode=write_mode, extra_source=extra_source))


def load(root: Path, write_mode: str = "append", extra_source: str = ""):
    return ConfigRoot(root).load_job(job_file(root, write_mode, extra_source))


def order_ids(job) -> list[int]:
    table = runner.open_job_target(job).load_table().scan().to_arrow()
    return sorted(table.column("order_id").to_pylist())


def test_the_warehouse_is_in_s3_and_a_retried_load_adds_nothing(
        config_root: Path, s3_env: dict[str, str], s3_server: S3Server) -> None:
    job = load(config_root)
    manifest, first = runner.run_job(job, "run-1")
    assert first.committed and first.rows == 8
    assert all(f["path"].startswith(f"s3://{s3_env['FAULTS_BUCKET']}/warehouse/acme/")
               for f in manifest["files"])
    again = runner.load_step(job, manifest)
    assert not again.committed
    assert order_ids(job) == ALL_ORDERS
    listed = s3_server.client().list_objects_v2(Bucket=s3_env["FAULTS_BUCKET"])
    assert any(o["Key"].endswith(".metadata.json") for o in listed["Contents"])


KILLED_EXTRACT = """
import json, sys, time
from pathlib import Path
from airflow_provider_dativo import runner
from airflow_provider_dativo.config.loader import ConfigRoot
root, job_file, run_id = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
manifest = runner.extract_step(ConfigRoot(root).load_job(job_file), run_id)
print(json.dumps(manifest), flush=True)
time.sleep(120)  # killed here: staged, never committed
runner.load_step(ConfigRoot(root).load_job(job_file), manifest)
"""


def test_process_killed_between_staging_and_commit_then_rerun(
        config_root: Path, s3_env: dict[str, str]) -> None:
    job = load(config_root)
    proc = subprocess.Popen([sys.executable, "-c", KILLED_EXTRACT, str(config_root),
                             str(job_file(config_root)), "run-killed"],
                            stdout=subprocess.PIPE, text=True, cwd=REPO, env=dict(os.environ))
    try:
        assert proc.stdout is not None
        staged = json.loads(proc.stdout.readline())
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert staged["rows"] == 8 and staged["files"]
    target = runner.open_job_target(job)
    assert target.read_state() is None and not target.is_committed("run-killed")
    assert order_ids(job) == []
    manifest, result = runner.run_job(job, "run-killed")
    assert result.committed and result.rows == 8
    assert order_ids(job) == ALL_ORDERS
    assert set(target.read_state()["source"]["files"]) == {
        "examples/data/orders/2026-11-25.csv", "examples/data/orders/2026-11-26.csv"}
    # the killed attempt's files were never committed, and the good load removed them
    committed = {f["path"] for f in manifest["files"]}
    killed = {f["path"] for f in staged["files"]}
    assert not committed & killed
    io = target.load_table().io
    assert not any(io.new_input(p).exists() for p in killed)
    assert all(io.new_input(p).exists() for p in committed)


RACER = """
import sys, time
from pathlib import Path
import pyarrow as pa
from airflow_provider_dativo.targets import IcebergSettings, IcebergTarget
props = dict(a.split("=", 1) for a in sys.argv[4:])
schema = pa.schema([pa.field("id", pa.int64(), nullable=False)])
target = IcebergTarget(IcebergSettings("race", props, "acme", "race"), schema)
target.retry_backoff_seconds = 0.01
target.prepare()
run_id, first = sys.argv[1], int(sys.argv[2])
with target.staged_writer(run_id) as w:
    w.write(pa.record_batch({"id": pa.array(range(first, first + 100), pa.int64())}, schema=schema))
go = Path(sys.argv[3])
while not go.exists():
    time.sleep(0.005)
print(target.commit(w.close(), {"by": run_id}, run_id).committed, flush=True)
"""


def test_two_loads_racing_on_one_table_both_land(tmp_path: Path,
                                                  s3_env: dict[str, str]) -> None:
    from airflow_provider_dativo.targets import IcebergSettings, IcebergTarget

    props = {"type": "sql", "uri": s3_env["FAULTS_CATALOG_URI"],
             "warehouse": f"s3://{s3_env['FAULTS_BUCKET']}/warehouse",
             "s3.endpoint": s3_env["FAULTS_S3_ENDPOINT"], "s3.region": "us-east-1",
             "s3.access-key-id": s3_env["FAULTS_S3_KEY"],
             "s3.secret-access-key": s3_env["FAULTS_S3_SECRET"]}
    args = [f"{k}={v}" for k, v in props.items()]
    go = tmp_path / "go"
    racers = [subprocess.Popen([sys.executable, "-c", RACER, f"racer-{i}", str(i * 1000),
                                str(go), *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, cwd=REPO)
              for i in (1, 2)]
    go.touch()
    results = [r.communicate(timeout=120) for r in racers]
    assert [r.returncode for r in racers] == [0, 0], [err[-3000:] for _, err in results]
    assert [out.strip() for out, _ in results] == ["True", "True"]
    import pyarrow as pa

    schema = pa.schema([pa.field("id", pa.int64(), nullable=False)])
    target = IcebergTarget(IcebergSettings("race", props, "acme", "race"), schema)
    ids = sorted(target.load_table().scan().to_arrow().column("id").to_pylist())
    assert ids == list(range(1000, 1100)) + list(range(2000, 2100))
    assert target.is_committed("racer-1") and target.is_committed("racer-2")


def test_s3_unavailable_during_commit_fails_then_succeeds_on_retry(
        config_root: Path, s3_env: dict[str, str], proxy: TcpProxy) -> None:
    job = load(config_root)
    manifest = runner.extract_step(job, "run-s3")
    proxy.stop()
    try:
        with pytest.raises(TargetError) as info:
            runner.load_step(job, manifest)
        assert "nothing was committed" in str(info.value) or "cannot load" in str(info.value)
        assert s3_env["FAULTS_S3_SECRET"] not in str(info.value)
    finally:
        proxy.start()  # the same port: S3 is back
    target = runner.open_job_target(job)
    assert not target.is_committed("run-s3") and target.read_state() is None
    result = runner.load_step(job, manifest)
    assert result.committed and result.rows == 8
    assert order_ids(job) == ALL_ORDERS


def test_lookback_re_read_with_upsert_leaves_no_duplicates(
        config_root: Path, s3_env: dict[str, str]) -> None:
    incremental = "  incremental:\n    cursor_field: ordered_at\n    lookback_days: 1\n"
    job = load(config_root, "upsert", incremental)
    runner.run_job(job, "lb-1")
    assert order_ids(job) == ALL_ORDERS
    # the file is re-exported with a corrected row and one new row; the lookback re-reads
    # the last day, so rows already in the table come again and must replace, not duplicate
    path = config_root / "examples/data/orders/2026-11-26.csv"
    text = path.read_text().replace("1007,gus@example.com,paid,310.00",
                                    "1007,gus@example.com,shipped,310.00")
    write(path, text + "1009,new@example.com,paid,5.00,EUR,2026-11-26T09:00:00Z\n")
    manifest, result = runner.run_job(job, "lb-2")
    assert manifest["rows"] > 1  # the lookback really re-read rows already loaded
    assert result.committed
    table = runner.open_job_target(job).load_table().scan().to_arrow()
    assert sorted(table.column("order_id").to_pylist()) == [*ALL_ORDERS, 1009]
    status = dict(zip(table.column("order_id").to_pylist(), table.column("status").to_pylist(),
                      strict=True))
    assert status[1007] == "shipped"
