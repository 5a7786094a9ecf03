"""Airbyte's source-faker from PyPI, through the local launcher: discover, a full read through
``airflow dags test`` into Iceberg, and an incremental run that resumes from committed state."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from airflow_provider_dativo import runner
from airflow_provider_dativo.config.loader import ConfigRoot
from tests.conftest import BIN, airflow
from tests.connectors.venvs import connectors_home  # noqa: F401 - fixture

JOB = "jobs/examples/faker_users.yaml"


def test_discover_lists_streams_cursors_and_keys(config_root: Path,
                                                 connectors_home: Path) -> None:  # noqa: F811
    done = subprocess.run([str(BIN / "dativo"), "--root", str(config_root), "discover",
                           "--connector", "faker", "--json", "--verbose"],
                          capture_output=True, text=True, timeout=120, check=True)
    streams = {s["name"]: s for s in json.loads(done.stdout)}
    assert set(streams) == {"users", "products", "purchases"}
    users = streams["users"]
    assert users["cursor_fields"] == ["updated_at"]
    assert users["primary_key"] == ["id"]
    assert users["supports_incremental"] is True
    assert users["columns"]["age"] == "integer"


def test_full_read_in_airflow_then_incremental_resume(config_root: Path,
                                                      airflow_env: dict[str, str],
                                                      connectors_home: Path) -> None:  # noqa: F811
    job_file = config_root / JOB
    job_file.write_text(job_file.read_text().replace("count: 1000", "count: 250"))
    env = {**airflow_env, "DATIVO_CONNECTORS_HOME": str(connectors_home)}
    airflow(env, "dags", "test", "dativo__demo__faker_users", "2024-01-01")

    job = ConfigRoot(config_root).load_job(JOB)
    table = runner.open_job_target(job).load_table()  # type: ignore[attr-defined]
    rows = table.scan().to_arrow()
    assert rows.num_rows == 250
    assert sorted(rows.column("id").to_pylist()) == list(range(1, 251))
    assert rows.schema.field("updated_at").type.tz is not None  # the contract's type won
    first = table.current_snapshot()
    state = json.loads(first.summary["dativo.state"])["source"]["airbyte"]
    users = next(s for s in state if s["stream"]["stream_descriptor"]["name"] == "users")
    assert users["stream"]["stream_state"]["loop_offset"] == 250

    # faker sends nothing once it is handed its state: every row again would mean the
    # committed state never reached the connector
    manifest = runner.extract_step(job, "second")
    runner.load_step(job, manifest)
    assert manifest["rows"] == 0 and manifest["rows_read"] == 0
    assert manifest["state"]["source"]["airbyte"] == state
    assert table.refresh().scan().to_arrow().num_rows == 250
