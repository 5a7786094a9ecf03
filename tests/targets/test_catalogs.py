"""The SQL catalog on a real PostgreSQL server, as shared deployments run it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_dativo import runner
from airflow_provider_dativo.config.loader import ConfigRoot
from tests.conftest import write

PG = "postgres@127.0.0.1:5432"


@pytest.fixture
def pg_catalog_uri() -> Iterator[str]:
    psycopg = pytest.importorskip("psycopg")
    name = f"dativo_catalog_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(f"postgresql://{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql+psycopg://{PG}/{name}"
    with psycopg.connect(f"postgresql://{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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
