"""Rows refused in warn mode: staged with the run id, and loaded into a quarantine table."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_provider_dativo import runner
from airflow_provider_dativo.config.loader import ConfigRoot
from airflow_provider_dativo.errors import ConfigError
from airflow_provider_dativo.targets.iceberg import safe_run_id
from airflow_provider_dativo.targets.registry import open_quarantine_target
from tests.conftest import write
from tests.services import S3Server


def events_job(root: Path, target: str):
    path = root / "jobs/globex/web_events.yaml"
    path.write_text(path.read_text() + target)
    return ConfigRoot(root).load_job(path)


def quarantine_rows(job) -> list[dict]:
    target = open_quarantine_target(job, job.resolved_target_connection())
    assert target is not None
    table = target.load_table().scan().to_arrow()  # type: ignore[attr-defined]
    return sorted(table.to_pylist(), key=lambda r: (r["kind"], r["reason"]))


def test_refused_rows_land_in_the_quarantine_table_once(config_root: Path) -> None:
    write(config_root / "examples/data/events/2026-11-26T11.jsonl",
          '{"event_id": "e-7", "event_type": "click", "occurred_at": "2026-11-26T11:00:00Z"}\n'
          '{"event_id": "e-8", "event_type": \n')
    job = events_job(config_root, "target:\n  options:\n    quarantine_table: true\n")
    manifest, result = runner.run_job(job, "q-1")
    assert result.committed
    assert manifest["rejected"] == 3
    assert manifest["quarantine_table"]["table"] == "globex.web_events_quarantine"
    assert manifest["quarantine_table"]["rows"] == 3
    rows = quarantine_rows(job)
    assert [r["kind"] for r in rows] == ["rows", "rows", "unparsed"]
    assert {r["run_id"] for r in rows} == {"q-1"}
    by_id = {json.loads(r["record"])["event_id"]: r for r in rows if r["record"]}
    assert set(by_id) == {"e-4", "e-5"}
    assert by_id["e-4"]["rules"] == "enum:event_type"
    assert "event_type" in by_id["e-4"]["reason"]
    assert json.loads(by_id["e-5"]["record"])["duration_ms"] == "-5"  # raw text is kept
    assert rows[2]["raw"] == '{"event_id": "e-8", "event_type":'
    assert rows[2]["rules"] == "parse"
    # a retried load adds neither data nor quarantine rows twice
    assert not runner.load_step(job, manifest).committed
    assert len(quarantine_rows(job)) == 3
    # staged quarantine files carry the run id too
    staged = [r for p in manifest["quarantine"] for r in pq.read_table(p).to_pylist()]
    assert {r["_dativo_run_id"] for r in staged} == {"q-1"}


def test_quarantine_files_and_the_manifest_reach_an_s3_staging_root(
        config_root: Path, s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    bucket = s3_server.new_bucket()
    monkeypatch.setenv("STAGE_ENDPOINT", s3_server.endpoint)
    monkeypatch.setenv("STAGE_SECRET", s3_server.secret_key)
    write(config_root / "examples/data/events/2026-11-26T11.jsonl",
          '{"event_id": "e-8", "event_type": \n')
    # the staging root is reached with the target's own S3 settings
    job = events_job(config_root, (
        f"staging:\n  root: s3://{bucket}/staging\n"
        "target:\n  connection:\n    catalog:\n"
        "      s3.endpoint: ${STAGE_ENDPOINT}\n      s3.access-key-id: testing\n"
        "      s3.secret-access-key: ${STAGE_SECRET}\n      s3.region: us-east-1\n"))
    manifest, result = runner.run_job(job, "s3-q")
    assert result.committed and manifest["rule_counts"]["parse"] == 1
    client = s3_server.client()
    keys = sorted(o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"])
    run = f"staging/globex/web_events/{safe_run_id('s3-q')}"
    assert f"{run}/manifest.json" in keys
    assert any(k.startswith(f"{run}/quarantine/rows/") for k in keys)
    assert any(k.startswith(f"{run}/quarantine/unparsed/") for k in keys)
    stored = json.loads(client.get_object(Bucket=bucket, Key=f"{run}/manifest.json")["Body"]
                        .read())
    assert stored["rejected"] == manifest["rejected"] == 3
    assert all(p.startswith(f"s3://{bucket}/{run}/quarantine/") for p in stored["quarantine"])
    raw = client.get_object(Bucket=bucket, Key=next(k for k in keys if "/unparsed/" in k))
    unparsed = pq.read_table(pa.BufferReader(raw["Body"].read()))
    assert unparsed.column("_dativo_raw").to_pylist() == ['{"event_id": "e-8", "event_type":']


def test_a_target_without_quarantine_tables_is_refused(config_root: Path) -> None:
    job = events_job(config_root, "target:\n  options:\n    quarantine_table: true\n")
    from dataclasses import replace

    other = replace(job, target=replace(job.target, type="markdown_kv"))
    with pytest.raises(ConfigError, match="cannot keep a quarantine table"):
        open_quarantine_target(other, {})
