"""The Singer tap ``tap-jsonl`` from PyPI through the local launcher: discover, a full read into
Iceberg, then a run that loads only the new file."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from airflow_provider_dativo import cli, runner
from airflow_provider_dativo.config.loader import ConfigRoot
from tests.conftest import write
from tests.connectors.venvs import connectors_home  # noqa: F401 - fixture

JOB = "jobs/examples/jsonl_people.yaml"


def test_discover_through_the_cli(config_root: Path, connectors_home: Path,  # noqa: F811
                                  capsys: object) -> None:
    data = config_root / "examples" / "data" / "jsonl" / "*.jsonl"
    assert cli.main(["--root", str(config_root), "discover", "--connector", "jsonl", "--json",
                     "--set", f"path={data}", "--set", "stream_name=people"]) == 0
    out = json.loads(capsys.readouterr().out)  # type: ignore[attr-defined]
    assert out == [{"name": "people", "cursor_fields": ["_sdc_last_modified"],
                    "primary_key": [], "supports_incremental": True}]


def test_full_read_then_only_the_new_file(config_root: Path,
                                          connectors_home: Path) -> None:  # noqa: F811
    job = ConfigRoot(config_root).load_job(JOB)
    manifest, _ = runner.run_job(job)
    assert manifest["rows"] == 3
    bookmarks = manifest["state"]["source"]["singer"]["bookmarks"]["people"]
    assert bookmarks["replication_key"] == "_sdc_last_modified"

    newer = write(config_root / "examples" / "data" / "jsonl" / "people-2024-02.jsonl",
                  '{"id": 4, "name": "Barbara", "signed_up": "2024-02-01", "score": 6}\n')
    later = time.time() + 5  # file times have one-second resolution in the tap's cursor
    os.utime(newer, (later, later))
    manifest, _ = runner.run_job(job)
    # the tap sends the old file again: the connector's state decides, and upsert keeps each
    # person once
    assert manifest["rows"] == 4 and manifest["skipped"] == 0
    table = runner.open_job_target(job).load_table().scan().to_arrow()  # type: ignore[attr-defined]
    assert sorted(table.column("id").to_pylist()) == [1, 2, 3, 4]
    assert table.column("signed_up").type == "date32[day]"


def test_connectors_install_through_the_cli(config_root: Path, connectors_home: Path,  # noqa: F811
                                            capsys: object) -> None:
    assert cli.main(["--root", str(config_root), "connectors", "install", "jsonl"]) == 0
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert "installed tap-jsonl==0.3.1 for jsonl" in out
    assert (connectors_home / "jsonl" / "bin" / "tap-jsonl").exists()
    # an image-only connector has nothing to install, and says so
    assert cli.main(["--root", str(config_root), "connectors", "install", "stripe"]) == 1
    assert "has no pip requirement" in capsys.readouterr().err  # type: ignore[attr-defined]
