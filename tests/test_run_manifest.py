"""The run manifest: one typed value whose dict form is the JSON earlier versions wrote."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_provider_dativo import runner
from airflow_provider_dativo.config.loader import ConfigRoot
from airflow_provider_dativo.run_manifest import RunManifest, read_manifest
from airflow_provider_dativo.targets.base import UNKNOWN_BASE
from tests.conftest import write

# What an extract of the previous version returned to XCom, byte for byte (key order included).
OLD_EXTRACT = (
    '{"job": "dativo__acme__orders", "run_id": "manual__2026-11-26T00:00:00+00:00", '
    '"table": "orders", "files": [{"path": "file:///w/acme.db/orders/data/_dativo_run=m-1/'
    'part-00000.parquet", "rows": 8, "bytes": 4242, "partition": {"ingest_date": "2026-11-26"}}'
    '], "rows": 8, "rows_read": 9, "rejected": 1, "skipped": 0, "null_cursor": 0, '
    '"unsent_columns": ["notes"], "rule_counts": {"enum:status": 1}, "quarantine": '
    '["/s/acme/orders/m-1/quarantine/rows/part-00000.parquet"], "state": {"source": {"files": '
    '{"a.csv": "v1"}}, "cursor": "2026-11-26T08:00:00+00:00"}, "base_run_id": null, '
    '"extract_seconds": 0.412, "seconds": 0.412, "part": {"index": 2, "of": 4}, '
    '"quarantine_table": {"table": "acme.orders_quarantine", "files": [], "rows": 0}}')
OLD_COMMITTED = ('{"job": "dativo__acme__orders", "run_id": "r-1", "already_committed": true, '
                 '"files": [], "rows": 0, "rejected": 0, "state": null}')
# from before extract recorded its base and its extract seconds, with a key this version
# does not know
OLDER = ('{"job": "j", "run_id": "r-0", "table": "t", "files": [], "rows": 0, "rejected": 0, '
         '"state": null, "seconds": 1.5, "peak_rss_mib": 88.2}')


@pytest.mark.parametrize("text", [OLD_EXTRACT, OLD_COMMITTED, OLDER])
def test_an_old_manifest_round_trips_byte_for_byte(text: str) -> None:
    manifest = RunManifest.from_dict(json.loads(text))
    assert json.dumps(manifest.to_dict()) == text
    with pytest.raises(AttributeError):
        manifest.rows = 1  # type: ignore[misc]  # frozen


def test_typed_fields_read_the_dict_form() -> None:
    manifest = RunManifest.from_dict(json.loads(OLD_EXTRACT))
    assert manifest.rows == 8 and manifest.rejected == 1 and manifest.part == {"index": 2, "of": 4}
    assert manifest.staged_files()[0].partition == {"ingest_date": "2026-11-26"}
    assert manifest.base is None  # recorded: the job's first commit
    assert RunManifest.from_dict(json.loads(OLDER)).base is UNKNOWN_BASE  # not recorded
    assert RunManifest.from_dict(json.loads(OLD_COMMITTED)).already_committed


def test_extract_returns_the_manifest_it_keeps_in_the_run_folder(config_root: Path) -> None:
    write(config_root / "examples/data/orders/2026-11-27.csv",
          "order_id,customer_email,status,amount,currency,ordered_at\n"
          "3001,ok@example.com,paid,1.00,EUR,2026-11-27T07:00:00Z\n")
    job = ConfigRoot(config_root).load_job(config_root / "jobs/acme/orders.yaml")
    manifest = runner.extract_step(job, "run-m")
    assert list(manifest) == ["job", "run_id", "table", "files", "rows", "rows_read", "rejected",
                              "skipped", "null_cursor", "unsent_columns", "rule_counts",
                              "quarantine", "state", "base_run_id", "extract_seconds", "seconds"]
    assert manifest["rows"] == 9
    kept = read_manifest(runner.run_folder(job, "run-m"), None)
    assert kept.to_dict() == json.loads(json.dumps(manifest))
    assert runner.load_step(job, kept).rows == 9  # load takes the typed form as well
