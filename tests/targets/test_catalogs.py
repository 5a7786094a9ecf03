"""The SQL catalog on a real PostgreSQL server, as shared deployments run it."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from airflow_provider_dativo import runner
from airflow_provider_dativo.config.loader import ConfigRoot
from airflow_provider_dativo.targets.iceberg_catalog import open_catalog
from tests.conftest import write
from tests.services import S3Server

PG = "postgres@127.0.0.1:5432"


@pytest.fixture
def pg_databases() -> Iterator[Callable[[], str]]:
    """Fresh PostgreSQL databases, as many as the test asks for; dropped afterwards."""
    psycopg = pytest.importorskip("psycopg")
    made: list[str] = []

    def add() -> str:
        name = f"dativo_catalog_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(f"postgresql://{PG}/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        return f"postgresql+psycopg://{PG}/{name}"

    yield add
    with psycopg.connect(f"postgresql://{PG}/postgres", autocommit=True) as conn:
        for name in made:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_catalog_uri(pg_databases: Callable[[], str]) -> str:
    return pg_databases()


def test_a_job_on_a_postgresql_catalog(config_root: Path, pg_catalog_uri: str,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PG_CATALOG_URI", pg_catalog_uri)
    job_file = config_root / "jobs/acme/orders.yaml"
    write(job_file, job_file.read_text() + (
        "target:\n"
        "  write_mode: upsert\n"
        "  connection:\n"
        "    catalog:\n"
        "      type: sql\n"
        "      uri: ${PG_CATALOG_URI}\n"
        f"      warehouse: {(config_root / 'wh').as_uri()}\n"))
    job = ConfigRoot(config_root).load_job(job_file)
    manifest, result = runner.run_job(job, "pg-1")
    assert result.committed and result.rows == 8
    assert not runner.load_step(job, manifest).committed
    table = runner.open_job_target(job).load_table()
    assert sorted(table.scan().to_arrow().column("order_id").to_pylist()) == list(
        range(1001, 1009))
    assert table.properties["dativo.owner"] == "data-platform@acme.example"



def test_tasks_opening_a_fresh_catalog_at_once_all_get_it(
        tmp_path: Path, pg_databases: Callable[[], str]) -> None:
    # A SQL catalog creates its tables on first open; tasks doing so together race on the
    # CREATE TABLE (a unique violation in pg_type, or "already exists"). Without the retry
    # most rounds of six openers lost that race on this machine.
    warehouse = (tmp_path / "wh").as_uri()
    for _ in range(3):
        uri = pg_databases()
        start = threading.Barrier(6)

        def open_it(uri: str = uri, start: threading.Barrier = start) -> int:
            start.wait()
            catalog = open_catalog("race", {"type": "sql", "uri": uri, "warehouse": warehouse})
            return len(catalog.list_namespaces())

        with ThreadPoolExecutor(6) as pool:
            assert list(pool.map(lambda _: open_it(), range(6))) == [0] * 6


def test_an_s3_block_puts_the_embedded_catalogs_files_in_its_bucket(
        config_root: Path, s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a catalog block the catalog is the embedded SQLite one, but an ``s3`` block
    moves the warehouse to its bucket and prefix, reached with the block's own endpoint and
    region (no AWS endpoint variable is set here)."""
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    bucket = s3_server.new_bucket()
    job_file = config_root / "jobs/acme/orders.yaml"
    write(job_file, job_file.read_text() + (
        "target:\n"
        "  connection:\n"
        "    s3:\n"
        f"      bucket: {bucket}\n"
        "      prefix: /lake/orders/\n"
        f"      endpoint: {s3_server.endpoint}\n"
        f"      region: {s3_server.region}\n"))
    job = ConfigRoot(config_root).load_job(job_file)
    _, result = runner.run_job(job, "s3-block-1")
    assert result.committed and result.rows == 8
    keys = [o["Key"] for o in s3_server.client().list_objects_v2(Bucket=bucket)["Contents"]]
    assert any(k.startswith("lake/orders/acme/orders/data/") and k.endswith(".parquet")
               for k in keys), keys
    assert any(k.startswith("lake/orders/acme/orders/metadata/") for k in keys), keys
    assert (config_root / ".dativo" / "catalog.db").is_file()  # the catalog itself stays local
    assert not (config_root / ".dativo" / "warehouse").exists()
    table = runner.open_job_target(job).load_table()  # type: ignore[attr-defined]
    assert table.location() == f"s3://{bucket}/lake/orders/acme/orders"
    assert table.scan().to_arrow().num_rows == 8
