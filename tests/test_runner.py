"""One job run without Airflow: contract modes, quarantine, state, idempotence."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from airflow_provider_dativo import runner
from airflow_provider_dativo.config.loader import ConfigRoot
from airflow_provider_dativo.errors import ContractViolation
from tests.conftest import write


def load(root: Path, rel: str):
    return ConfigRoot(root).load_job(root / rel)


def rows(job) -> list[dict]:
    return runner.open_job_target(job).load_table().scan().to_arrow().to_pylist()


def test_warn_mode_quarantines_bad_rows_and_loads_the_rest(config_root: Path) -> None:
    job = load(config_root, "jobs/globex/web_events.yaml")
    manifest, result = runner.run_job(job, "run-1")
    landed = sorted(r["event_id"] for r in rows(job))
    assert landed == ["e-1", "e-2", "e-3", "e-6"]
    assert result.committed and result.rows == 4
    assert manifest["rejected"] == 2
    assert manifest["rule_counts"] == {"enum:event_type": 1, "minimum:duration_ms": 1}
    quarantined = pq.read_table(manifest["quarantine"][0]).to_pylist()
    by_id = {r["event_id"]: r for r in quarantined}
    assert set(by_id) == {"e-4", "e-5"}
    assert "event_type" in by_id["e-4"]["_dativo_reason"]
    assert by_id["e-5"]["duration_ms"] == "-5"  # the raw value is kept
    events = {r["event_id"]: r for r in rows(job)}
    assert events["e-1"]["properties"] == '{"path":"/"}'
    assert events["e-3"]["duration_ms"] is None


def test_strict_mode_fails_the_run_and_commits_nothing(config_root: Path) -> None:
    write(config_root / "examples/data/orders/2026-11-27.csv",
          "order_id,customer_email,status,amount,currency,ordered_at\n"
          "3001,ok@example.com,paid,1.00,EUR,2026-11-27T07:00:00Z\n"
          "3002,not-an-email,paid,1.00,EUR,2026-11-27T07:00:00Z\n"
          "3003,x@example.com,lost,abc,EUR,2026-11-27T07:00:00Z\n")
    job = load(config_root, "jobs/acme/orders.yaml")
    with pytest.raises(ContractViolation) as info:
        runner.run_job(job, "run-strict")
    message = str(info.value)
    assert "refused 2 row(s)" in message
    assert "pattern:customer_email=1" in message and "enum:status=1" in message
    assert "not-an-email" not in message  # values never reach error messages
    target = runner.open_job_target(job)
    assert target.read_state() is None
    assert not target.is_committed("run-strict")


def test_unparseable_lines_are_quarantined_verbatim_in_warn_mode(config_root: Path) -> None:
    write(config_root / "examples/data/events/2026-11-26T11.jsonl",
          '{"event_id": "e-7", "event_type": "click", "occurred_at": "2026-11-26T11:00:00Z"}\n'
          '{"event_id": "e-8", "event_type": \n')
    job = load(config_root, "jobs/globex/web_events.yaml")
    manifest, _ = runner.run_job(job, "run-parse")
    assert manifest["rule_counts"]["parse"] == 1
    parsed = [pq.read_table(p).to_pylist() for p in manifest["quarantine"]]
    raw = [r for rows_ in parsed for r in rows_ if r.get("_dativo_raw")]
    assert raw[0]["_dativo_raw"] == '{"event_id": "e-8", "event_type":'
    assert "2026-11-26T11.jsonl:2: invalid JSON" in raw[0]["_dativo_reason"]
    assert "e-7" in {r["event_id"] for r in rows(job)}


def test_a_repeated_run_id_commits_once_and_state_resumes(config_root: Path) -> None:
    job = load(config_root, "jobs/acme/orders.yaml")
    manifest, first = runner.run_job(job, "run-a")
    assert first.committed and first.rows == 8
    again = runner.load_step(job, manifest)  # a retried load
    assert not again.committed
    assert len(rows(job)) == 8
    state = runner.open_job_target(job).read_state()
    assert set(state["source"]["files"]) == {"examples/data/orders/2026-11-25.csv",
                                             "examples/data/orders/2026-11-26.csv"}
    manifest, _ = runner.run_job(job, "run-b")
    assert manifest["rows"] == 0 and manifest["files"] == []
    assert len(rows(job)) == 8


def test_incremental_cursor_skips_rows_already_loaded(config_root: Path) -> None:
    registry = config_root / "registry/connectors.yaml"
    job_file = config_root / "jobs/acme/orders.yaml"
    job_file.write_text(job_file.read_text().replace(
        "source:\n", "source:\n  incremental:\n    cursor_field: ordered_at\n"))
    assert "incremental: true" in registry.read_text()
    job = load(config_root, "jobs/acme/orders.yaml")
    runner.run_job(job, "inc-1")
    state = runner.open_job_target(job).read_state()
    assert state["cursor"] == "2026-11-26T08:20:00+00:00"
    # a re-exported file repeats old rows and adds one newer row: only that row lands
    write(config_root / "examples/data/orders/2026-11-26.csv",
          (config_root / "examples/data/orders/2026-11-26.csv").read_text()
          + "1009,new@example.com,paid,5.00,EUR,2026-11-26T09:00:00Z\n")
    manifest, _ = runner.run_job(job, "inc-2")
    assert manifest["rows"] == 1
    assert len(rows(job)) == 9


def test_a_cursor_outside_the_contract_is_left_to_the_source(config_root: Path) -> None:
    job_file = config_root / "jobs/globex/web_events.yaml"
    job_file.write_text(job_file.read_text().replace(
        "source:\n", "source:\n  incremental:\n    cursor_field: updated_at\n"))
    job = load(config_root, "jobs/globex/web_events.yaml")
    manifest, result = runner.run_job(job, "no-cursor")
    assert result.rows == 4
    assert "cursor" not in (manifest["state"] or {})
