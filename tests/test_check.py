"""``dativo check`` and the validate step open both sides: the source answers its check, the
target's catalog answers and its namespace exists (created when missing, no table created), and
the output says which side failed."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from airflow_provider_dativo import runner
from airflow_provider_dativo.config.loader import ConfigRoot
from airflow_provider_dativo.errors import TargetError
from airflow_provider_dativo.targets.iceberg_catalog import open_catalog
from tests.conftest import BIN, REPO, write
from tests.services import Database

JOB = "jobs/acme/orders.yaml"


def dativo(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"COLUMNS": "250", "PATH": str(BIN), "PYTHONPATH": str(REPO)}
    return subprocess.run([str(BIN / "dativo"), "--root", str(root), *args],
                          capture_output=True, text=True, timeout=120, env=env)


def catalog_job(config_root: Path, uri: str, path: str = "examples/data/orders/*.csv") -> Path:
    job = config_root / JOB
    text = job.read_text().replace("examples/data/orders/*.csv", path)
    return write(job, text + ("target:\n  connection:\n    catalog:\n      type: sql\n"
                              f"      uri: {uri}\n"
                              f"      warehouse: {(config_root / 'wh').as_uri()}\n"))


def row(output: str, side: str) -> str:
    return next(line for line in output.splitlines() if line.lstrip("│ ").startswith(side))


def pg_uri(db: Database) -> str:
    return f"postgresql+psycopg://postgres@127.0.0.1:{db.port}/{db.name}"


def test_check_reaches_the_catalog_and_creates_only_the_namespace(
        config_root: Path, pg_database: Database) -> None:
    catalog_job(config_root, pg_uri(pg_database))
    result = dativo(config_root, "check", JOB)
    assert result.returncode == 0, result.stdout + result.stderr
    source = row(result.stdout, "source")
    assert "ok" in source and "file(s) match 'examples/data/orders/*.csv'" in source
    target = row(result.stdout, "target")
    assert "ok" in target and "namespace 'acme' created" in target
    catalog = open_catalog("dativo", {"type": "sql", "uri": pg_uri(pg_database)})
    assert ("acme",) in catalog.list_namespaces()
    assert catalog.list_tables("acme") == []  # the check creates no table
    again = dativo(config_root, "check", JOB)
    assert "namespace 'acme' exists" in row(again.stdout, "target")


def test_an_unreachable_catalog_fails_the_target_side(config_root: Path) -> None:
    catalog_job(config_root, "postgresql+psycopg://postgres@127.0.0.1:1/nowhere")
    result = dativo(config_root, "check", JOB)
    assert result.returncode == 1
    assert "ok" in row(result.stdout, "source")
    target = row(result.stdout, "target")
    assert "failed" in target and "cannot load Iceberg catalog" in target
    assert "target check failed" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    job = ConfigRoot(config_root).load_job(JOB)
    with pytest.raises(TargetError, match="cannot load Iceberg catalog 'dativo'"):
        runner.validate_step(job)  # the DAG's validate task fails on it too


def test_both_sides_are_reported_when_both_fail(config_root: Path) -> None:
    catalog_job(config_root, "postgresql+psycopg://postgres@127.0.0.1:1/nowhere",
                path="examples/data/orders/*.nothing")
    result = dativo(config_root, "check", JOB)
    assert result.returncode == 1
    source = row(result.stdout, "source")
    assert "failed" in source and "no file matches" in source
    assert "failed" in row(result.stdout, "target")
    assert "source and target check failed" in result.stdout


def test_file_targets_check_their_commit_log(config_root: Path) -> None:
    job_file = config_root / JOB
    write(job_file, job_file.read_text().replace("target_connector: iceberg",
                                                 "target_connector: parquet")
          .replace("connectors/iceberg.yaml", "connectors/parquet.yaml"))
    job = ConfigRoot(config_root).load_job(job_file)
    source, target = runner.check_job(job)
    assert source.ok and target.ok, (source, target)
    assert "0 commit(s) so far" in target.message
    runner.run_job(job, "pq-1")
    assert "1 commit(s) so far" in runner.check_job(job)[1].message
