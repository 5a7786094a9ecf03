"""The Parquet target through real runs: Hive partitions, commit markers, S3, orphans."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from airflow_provider_dativo import runner
from airflow_provider_dativo.config.loader import ConfigRoot
from airflow_provider_dativo.errors import ConfigError, TargetError
from airflow_provider_dativo.targets.base import safe_run_id
from airflow_provider_dativo.targets.parquet import ParquetTarget
from tests.conftest import write
from tests.services import S3Server

JOB = """\
tenant_id: acme
source_connector: file
source_connector_path: connectors/file.yaml
asset: orders
asset_path: assets/file/v1.0/orders.yaml
target_connector: parquet
target_connector_path: connectors/parquet.yaml
source:
  connection:
    path: examples/data/orders/*.csv
target:
{target}"""


def parquet_job(root: Path, target: str = "  options: {orphan_retention_hours: 0}\n"):
    path = write(root / "jobs/acme/orders_files.yaml", JOB.format(target=target))
    return ConfigRoot(root).load_job(path)


def open_parquet(job) -> ParquetTarget:
    target = runner.open_job_target(job)
    assert isinstance(target, ParquetTarget)
    return target


def test_a_run_lands_hive_partitions_and_a_marker_last(config_root: Path) -> None:
    job = parquet_job(config_root)
    manifest, result = runner.run_job(job, "p-1")
    assert result.committed and result.rows == 8
    target = open_parquet(job)
    root = config_root / ".dativo/parquet/acme/orders"
    assert target.root == str(root)
    today = dt.datetime.now(dt.UTC).date().isoformat()
    files = sorted(root.glob("ingest_date=*/*.parquet"))
    assert [f.parent.name for f in files] == [f"ingest_date={today}"]
    assert files[0].name.startswith("p-1-")
    assert (root / "_dativo/commits").is_dir()
    assert target.committed_paths() == [str(files[0])]
    assert sorted(target.read_table().column("order_id").to_pylist()) == list(range(1001, 1009))
    footer = pq.read_metadata(files[0]).metadata
    assert footer[b"dativo.owner"] == b"data-platform@acme.example"
    assert footer[b"dativo.classification"] == b"confidential"
    assert footer[b"dativo.retention_days"] == b"730"
    # a retried load does nothing; the next run resumes from the marker's state
    assert not runner.load_step(job, manifest).committed
    assert set(target.read_state()["source"]["files"]) == {
        "examples/data/orders/2026-11-25.csv", "examples/data/orders/2026-11-26.csv"}
    manifest, result = runner.run_job(job, "p-2")
    assert manifest["rows"] == 0
    assert target.read_table().num_rows == 8
    assert len(target.log.markers()) == 2


def test_uncommitted_files_are_invisible_and_removed_by_a_later_load(config_root: Path) -> None:
    job = parquet_job(config_root)
    target = open_parquet(job)
    staged = runner.extract_step(job, "p-lost")  # extract ran, its load never did
    assert staged["files"] and all(os.path.exists(f["path"]) for f in staged["files"])
    assert target.read_table().num_rows == 0 and target.read_state() is None
    _, result = runner.run_job(job, "p-good")
    assert result.rows == 8
    assert not any(os.path.exists(f["path"]) for f in staged["files"])
    assert target.read_table().num_rows == 8
    assert target.is_committed("p-good") and not target.is_committed("p-lost")


def test_young_orphans_are_kept_for_runs_still_extracting(config_root: Path) -> None:
    job = parquet_job(config_root, "  options: {}\n")  # the default retention: 24 hours
    staged = runner.extract_step(job, "p-busy")
    runner.run_job(job, "p-other")
    assert all(os.path.exists(f["path"]) for f in staged["files"])


def test_a_missing_staged_file_fails_the_commit_and_commits_nothing(config_root: Path) -> None:
    job = parquet_job(config_root)
    manifest = runner.extract_step(job, "p-gone")
    os.remove(manifest["files"][0]["path"])
    with pytest.raises(TargetError, match="missing, so nothing was committed"):
        runner.load_step(job, manifest)
    assert not open_parquet(job).is_committed("p-gone")


def test_parquet_only_appends(config_root: Path) -> None:
    with pytest.raises(ConfigError, match=r"target\.write_mode: target 'parquet' only appends"):
        runner.open_job_target(parquet_job(config_root, "  write_mode: upsert\n"))


def test_parquet_on_s3_with_storage_properties_from_env(
        config_root: Path, s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    bucket = s3_server.new_bucket()
    monkeypatch.setenv("PQ_BUCKET", bucket)
    monkeypatch.setenv("PQ_ENDPOINT", s3_server.endpoint)
    monkeypatch.setenv("PQ_SECRET", s3_server.secret_key)
    job = parquet_job(config_root, (
        "  connection:\n"
        "    path: s3://${PQ_BUCKET}/lake\n"
        "    storage:\n"
        "      s3.endpoint: ${PQ_ENDPOINT}\n"
        "      s3.access-key-id: testing\n"
        "      s3.secret-access-key: ${PQ_SECRET}\n"
        "      s3.region: us-east-1\n"))
    _, result = runner.run_job(job, "s3-1")
    assert result.rows == 8
    keys = [o["Key"] for o in
            s3_server.client().list_objects_v2(Bucket=bucket)["Contents"]]
    assert any(k.startswith("lake/acme/orders/ingest_date=") for k in keys)
    assert "lake/acme/orders/_dativo/commits/" in " ".join(keys)
    target = open_parquet(job)
    assert target.read_table().num_rows == 8
    assert target.is_committed("s3-1")


def direct_target(root: Path, writer: str | None) -> ParquetTarget:
    from airflow_provider_dativo.targets.parquet import ParquetSettings
    from airflow_provider_dativo.targets.quarantine import QUARANTINE_SCHEMA

    return ParquetTarget(ParquetSettings(str(root), "acme.shared"), QUARANTINE_SCHEMA,
                         writer=writer)


def test_markers_are_kept_per_job_and_a_stale_base_is_refused(tmp_path: Path) -> None:
    a, b = direct_target(tmp_path, "job-a"), direct_target(tmp_path, "job-b")
    run_id = "scheduled__2026-01-01T00:00:00+00:00"  # both DAGs get it
    assert a.commit([], {"cursor": "a"}, run_id, base=None).committed
    assert b.read_state() is None and not b.is_committed(run_id)
    assert b.commit([], {"cursor": "b"}, run_id, base=None).committed
    assert a.read_state() == {"cursor": "a"} and b.read_state() == {"cursor": "b"}
    assert (tmp_path / "_dativo/commits" / safe_run_id("job-a")).is_dir()
    # two runs of job-a built on its commit; the second to load is refused
    assert a.commit([], {"cursor": "a2"}, "run-2", base=run_id).committed
    with pytest.raises(TargetError, match=r"another run of job job-a committed run 'run-2'"):
        a.commit([], {"cursor": "a2"}, "run-3", base=run_id)
    assert not a.is_committed("run-3") and a.read_state() == {"cursor": "a2"}
    assert a.committed_head().run_id == "run-2" and b.committed_head().run_id == run_id


def test_markers_of_an_earlier_version_are_read_back(tmp_path: Path) -> None:
    legacy = direct_target(tmp_path, None)  # flat markers that name no writer
    legacy.commit([], {"cursor": 9}, "old")
    assert (tmp_path / f"_dativo/commits/{safe_run_id('old')}.json").is_file()
    job = direct_target(tmp_path, "job-a")
    assert job.is_committed("old") and job.read_state() == {"cursor": 9}
    assert not job.commit([], {"cursor": 9}, "old").committed
    assert job.commit([], {"cursor": 10}, "new", base="old").committed
    assert job.read_state() == {"cursor": 10}


def test_a_clock_that_stepped_back_never_makes_an_older_commit_the_newest(
        config_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The second run commits with the clock an hour behind the first (an NTP step, a worker
    whose clock lags): the third run still builds on the second and reads only the new file."""
    from types import SimpleNamespace

    from airflow_provider_dativo.targets import commit_log

    data = config_root / "examples/data/orders"
    later = (data / "2026-11-26.csv").read_text()
    (data / "2026-11-26.csv").unlink()
    job = parquet_job(config_root)
    assert runner.run_job(job, "c-1")[0]["rows"] == 5

    class Behind(dt.datetime):
        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> dt.datetime:
            return dt.datetime.now(tz) - dt.timedelta(hours=1)

    write(data / "2026-11-26.csv", later)
    with monkeypatch.context() as patch:
        patch.setattr(commit_log, "dt", SimpleNamespace(datetime=Behind, UTC=dt.UTC,
                                                        timedelta=dt.timedelta))
        assert runner.run_job(job, "c-2")[0]["rows"] == 3
    target = open_parquet(job)
    assert target.committed_head().run_id == "c-2"
    # by the clock c-2 came first; by its base it came after c-1
    markers = {m["run_id"]: m for m in target.log.markers()}
    assert markers["c-2"]["committed_at"] < markers["c-1"]["committed_at"]
    assert markers["c-2"]["base"] == "c-1"
    write(data / "2026-11-27.csv", later.replace(",2026-11-26", ",2026-11-27").replace(
        "\n100", "\n200"))
    assert runner.run_job(job, "c-3")[0]["rows"] == 3  # not the 3 of c-2 again
    ids = sorted(target.read_table().column("order_id").to_pylist())
    assert ids == [*range(1001, 1009), 2006, 2007, 2008]
    assert [m["run_id"] for m in target.log.lineage()] == ["c-3", "c-2", "c-1"]
