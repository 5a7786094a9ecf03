"""The connector guide's toy HTTP API read in-process by the native REST extractor
(connectors/toy_http_native.yaml, jobs/examples/toy_http_tickets_native.yaml) against the HTTP
tests' API server: every ticket lands, and the rerun asks only for the lookback window."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_dativo import runner
from airflow_provider_dativo.config.loader import ConfigRoot
from tests.connectors.test_http import KEY, api, write  # noqa: F401 - the API server fixture


def test_native_toy_http_job_runs_into_iceberg(config_root: Path, api: str,  # noqa: F811
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOY_HTTP_API_KEY", KEY)
    rel = "jobs/examples/toy_http_tickets_native.yaml"
    text = (config_root / rel).read_text().replace("https://mock.toy-http.dev", api)
    job = ConfigRoot(config_root).load_job(write(config_root / rel, text))
    manifest, result = runner.run_job(job, "run-1")
    assert result.committed and manifest["rows"] == 12
    assert manifest["state"]["cursor"] == "2026-11-22T08:00:00+00:00"
    manifest, _ = runner.run_job(job, "run-2")
    # only the two-day lookback window is asked for again (t-11 and t-12); they replace
    # themselves by primary key
    assert manifest["rows_read"] == 2
    ids = runner.open_job_target(job).load_table().scan().to_arrow().column("id")  # type: ignore[attr-defined]
    assert sorted(ids.to_pylist()) == sorted(f"t-{i}" for i in range(1, 13))
