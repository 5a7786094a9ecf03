"""The Airbyte protocol end to end on a real connector process (``airbyte_script.py``):
records, state hand-back, logs and secrets, and malformed output that must commit nothing."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from airflow_provider_dativo import runner
from airflow_provider_dativo.config.loader import ConfigRoot
from airflow_provider_dativo.errors import ContractViolation, EngineError
from tests.conftest import write

SCRIPT = Path(__file__).with_name("airbyte_script.py")
TOKEN = "tok-SECRET-4711"
JOB = "jobs/examples/script_users.yaml"


def make_job(root: Path, scenario: str, mode: str = "strict") -> runner.JobSpec:
    write(root / "connectors" / "faker.yaml", f"""\
type: faker
version: 1.0.0
default_engine:
  type: airbyte
  command: [{sys.executable}, {SCRIPT}]
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


def test_records_and_state_round_trip(config_root: Path, caplog: pytest.LogCaptureFixture) -> None:
    job = make_job(config_root, "ok")
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


def test_a_read_reuses_a_recent_discover(config_root: Path, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    calls = tmp_path / "calls.txt"
    monkeypatch.setenv("AIRBYTE_SCRIPT_CALLS", str(calls))
    job = make_job(config_root, "ok")
    runner.run_job(job)
    runner.run_job(job)
    ran = calls.read_text().split()
    assert ran.count("read") == 2 and ran.count("check") == 2
    assert ran.count("discover") == 1  # the second read used the cached catalog
    assert ran.count("spec") == 1
    cached = list((config_root / ".dativo/cache").glob("airbyte-catalog-*.json"))
    assert len(cached) == 1 and TOKEN not in cached[0].name


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
    assert unparsed.column("_dativo_raw").to_pylist()[0].startswith('{"type": "RECORD"')

    job = make_job(config_root, "bad_value", mode="warn")
    manifest, _ = runner.run_job(job, "second")
    # one value of the wrong type rejects one row, not the batch
    assert manifest["rows"] == 3 and manifest["rejected"] == 1
    assert committed(job) == [1, 2, 3, 4, 5, 6]
