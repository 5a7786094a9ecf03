"""The Airbyte protocol end to end on a real connector process (``airbyte_script.py``):
records, state hand-back, logs and secrets, and malformed output that must commit nothing."""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_provider_dativo import runner
from airflow_provider_dativo.config.loader import ConfigRoot
from airflow_provider_dativo.engines import open_source
from airflow_provider_dativo.engines.base import PROTOCOL_BATCH_ROWS
from airflow_provider_dativo.engines.connector_cache import cache_dir
from airflow_provider_dativo.errors import ContractViolation, EngineError, TargetError
from tests.conftest import write

SCRIPT = Path(__file__).with_name("airbyte_script.py")
TOKEN = "tok-SECRET-4711"
JOB = "jobs/examples/script_users.yaml"


def make_job(root: Path, scenario: str, mode: str = "strict", *, script: Path = SCRIPT,
             region: str = "us", spelling: str = "compact",
             watch: Path | None = None) -> runner.JobSpec:
    write(root / "connectors" / "faker.yaml", f"""\
type: faker
version: 1.0.0
default_engine:
  type: airbyte
  command: [{sys.executable}, {script}]
""")
    write(root / JOB, f"""\
tenant_id: demo
source_connector: faker
source_connector_path: connectors/faker.yaml
asset: faker_users
asset_path: assets/faker/v1.0/users.yaml
target_connector: iceberg
target_connector_path: connectors/iceberg.yaml
source:
  connection:
    scenario: {scenario}
    region: {region}
    spelling: {spelling}
    watch: {watch or root}
    credentials: {{token: {TOKEN}}}
target:
  table: script_users
validation:
  mode: {mode}
""")
    return ConfigRoot(root).load_job(JOB)


def committed(job: runner.JobSpec) -> list[int]:
    target = runner.open_job_target(job)
    target.prepare()
    return sorted(target.load_table().scan().to_arrow().column("id").to_pylist())  # type: ignore[attr-defined]


@pytest.mark.parametrize("spelling", ["compact", "spaced"])  # bulk-parsed, and line by line
def test_records_and_state_round_trip(config_root: Path, caplog: pytest.LogCaptureFixture,
                                      spelling: str) -> None:
    job = make_job(config_root, "ok", spelling=spelling)
    with caplog.at_level(logging.INFO):
        manifest, _ = runner.run_job(job)
    assert manifest["rows"] == 3
    assert manifest["state"]["source"] == {"airbyte": [{"type": "STREAM", "stream": {
        "stream_descriptor": {"name": "users"}, "stream_state": {"offset": 3}}}]}
    assert "reading from 0" in caplog.text and "estimate for users: 3 rows" in caplog.text
    # the spec marks the token airbyte_secret: it never reaches the log
    assert "checking with ***" in caplog.text and TOKEN not in caplog.text
    # the second run is handed the committed state and continues after it
    caplog.clear()
    with caplog.at_level(logging.INFO):
        runner.run_job(job)
    assert "reading from 3" in caplog.text
    assert committed(job) == [1, 2, 3, 4, 5, 6]


def test_reads_reuse_the_spec_and_a_discover_until_the_connector_or_config_changes(
        config_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = tmp_path / "calls.txt"
    monkeypatch.setenv("AIRBYTE_SCRIPT_CALLS", str(calls))
    monkeypatch.setenv("DATIVO_CONNECTORS_HOME", str(tmp_path / "connectors"))  # its own cache
    script = shutil.copy(SCRIPT, tmp_path / "connector.py")
    job = make_job(config_root, "ok", script=script)
    runner.run_job(job)
    runner.run_job(job)
    ran = calls.read_text().split()
    assert ran.count("read") == 2 and ran.count("check") == 2
    assert ran.count("discover") == 1  # the second read used the cached catalog
    assert ran.count("spec") == 1
    cached = list(cache_dir(config_root).glob("airbyte-catalog-*.json"))
    assert len(cached) == 1 and TOKEN not in cached[0].name
    assert TOKEN not in cached[0].read_text()

    # a changed config asks the connector again; the spec still comes from the cache
    def read_catalog(job: runner.JobSpec) -> None:  # what a read asks first
        open_source(job, job.resolved_source_connection()).catalog(fresh=False)  # type: ignore[attr-defined]

    read_catalog(make_job(config_root, "ok", script=script, region="eu"))
    # so does a reinstalled connector (its files change), for the spec too
    later = time.time_ns() + 10**9
    os.utime(script, ns=(later, later))
    read_catalog(make_job(config_root, "ok", script=script))
    ran = calls.read_text().split()
    assert ran.count("discover") == 3 and ran.count("spec") == 2


def test_a_committed_run_stops_its_connector_before_it_reads_anything(
        config_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = tmp_path / "calls.txt"
    monkeypatch.setenv("AIRBYTE_SCRIPT_CALLS", str(calls))
    job = make_job(config_root, "ok")
    runner.run_job(job, "once")
    # the connector starts while the target is opened; the target then says the run is
    # committed, and the connector, still waiting for its state, is stopped
    assert runner.extract_step(job, "once")["already_committed"]
    assert calls.read_text().split().count("state-read") == 1
    assert committed(job) == [1, 2, 3]


def test_files_are_written_while_the_connector_is_still_ending(
        config_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = tmp_path / "calls.txt"
    monkeypatch.setenv("AIRBYTE_SCRIPT_CALLS", str(calls))
    # the connector reports the stream COMPLETE, then does not end until a data file exists
    job = make_job(config_root, "slow_exit", watch=config_root / ".dativo" / "warehouse")
    manifest, _ = runner.run_job(job)
    assert "saw-data-file" in calls.read_text().split()
    assert manifest["rows"] == 3 and committed(job) == [1, 2, 3]
    assert manifest["state"]["source"]["airbyte"][0]["stream"]["stream_state"] == {"offset": 30}


def test_a_data_file_that_cannot_be_written_is_the_error_reported(config_root: Path) -> None:
    job = make_job(config_root, "ok")
    target = runner.open_job_target(job)
    target.prepare()
    # a plain file where the run's data folder goes: its Parquet file cannot be created
    folder = Path(target.data_location("blocked").removeprefix("file://"))  # type: ignore[attr-defined]
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.write_text("in the way")
    with pytest.raises(TargetError,
                       match=r"cannot create .*_dativo_run=blocked.*non-directory entry exists"):
        runner.run_job(job, "blocked")
    assert committed(job) == []


def test_a_failed_check_names_the_connector_message(config_root: Path) -> None:
    job = make_job(config_root, "bad_check")
    with pytest.raises(EngineError, match=r"token \*\*\* was refused") as err:
        runner.validate_step(job)
    assert TOKEN not in str(err.value)


@pytest.mark.parametrize(("scenario", "error", "match"), [
    ("bad_json", ContractViolation, r"stdout line \d+: not valid JSON"),
    ("missing_data", ContractViolation, "RECORD without a data object"),
    ("unknown_stream", EngineError, "stream 'secrets', which the configured catalog does not"),
    ("crash", EngineError, r"(?s)exit code 3.*boom while reading with \*\*\*"),
    ("trace_error", EngineError, r"API quota exhausted \(transient_error\)"),
    # the stream was reported COMPLETE and its files finished before these
    ("fail_after_complete", EngineError, r"(?s)exit code 4.*boom while ending with \*\*\*"),
    ("record_after_complete", EngineError, "sent a RECORD after reporting stream 'users' "
                                           "COMPLETE"),
])
def test_malformed_output_fails_cleanly_and_commits_nothing(
        config_root: Path, scenario: str, error: type[Exception], match: str) -> None:
    job = make_job(config_root, scenario)
    with pytest.raises(error, match=match) as err:
        runner.run_job(job)
    assert TOKEN not in str(err.value)
    assert committed(job) == []
    assert runner.open_job_target(job).read_state() is None


def test_warn_mode_quarantines_bad_lines_and_values_and_loads_the_rest(
        config_root: Path) -> None:
    job = make_job(config_root, "bad_json", mode="warn")
    manifest, _ = runner.run_job(job)
    assert manifest["rows"] == 3 and manifest["rule_counts"] == {"parse": 1}
    unparsed = pq.read_table(next(p for p in manifest["quarantine"] if "unparsed" in p))
    assert unparsed.column("_dativo_raw").to_pylist()[0] == (
        '{"type":"RECORD","record":{"stream":"users","data":{"id":9')

    job = make_job(config_root, "bad_value", mode="warn")
    manifest, _ = runner.run_job(job, "second")
    # one value of the wrong type rejects one row, not the batch
    assert manifest["rows"] == 3 and manifest["rejected"] == 1
    assert committed(job) == [1, 2, 3, 4, 5, 6]


def test_connector_batches_default_to_the_protocol_size_and_follow_the_job(
        config_root: Path) -> None:
    job = make_job(config_root, "ok")
    assert job.batch_size is None
    assert open_source(job, job.resolved_source_connection()).batch_size == PROTOCOL_BATCH_ROWS  # type: ignore[attr-defined]
    sized = dataclasses.replace(job, batch_size=2)
    batches = [item for item in open_source(sized, sized.resolved_source_connection()).read(
        "users", None) if isinstance(item, pa.RecordBatch)]
    assert [b.num_rows for b in batches] == [2, 1]
