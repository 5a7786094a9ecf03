"""Quarantine: rows refused in warn mode, kept with the reason, the rule and the run id.

Every run keeps its refused rows as Parquet under ``<staging>/<tenant>/<job>/<run>/quarantine/``
(their contract columns as raw text, or the raw line when it never parsed). With
``target.options.quarantine_table: true`` they also land in the table ``<table>_quarantine``
beside the job's table, in one fixed shape that survives contract changes: the refused record
as JSON text. Those rows are staged where that table keeps its files during extract (written
once) and committed by load under the same run id, so a retried load adds them once. The data
commit comes first and records this table's entry (``runner.load_step`` says why), so a kill
between the two commits cannot make the next run quarantine the same lines again.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any, BinaryIO

import pyarrow as pa

from airflow_provider_dativo.contracts.checks import REASON_COLUMN, RULES_COLUMN
from airflow_provider_dativo.targets.base import StagedFile, StagedWriter
from airflow_provider_dativo.targets.staging import StagedParquetWriter

RUN_ID_COLUMN = "_dativo_run_id"
RAW_COLUMN = "_dativo_raw"

QUARANTINE_SCHEMA = pa.schema([
    pa.field("run_id", pa.string(), nullable=False),
    pa.field("quarantined_at", pa.timestamp("us", tz="UTC"), nullable=False),
    pa.field("kind", pa.string(), nullable=False),  # rows | unparsed
    pa.field("reason", pa.string(), nullable=False),
    pa.field("rules", pa.string(), nullable=False),  # comma-separated rule keys
    pa.field("record", pa.string()),  # the refused row as JSON text (kind rows)
    pa.field("raw", pa.string()),  # the line as read (kind unparsed)
])

_SYSTEM = {REASON_COLUMN, RULES_COLUMN, RUN_ID_COLUMN, RAW_COLUMN}


def table_rows(kind: str, batch: pa.RecordBatch, run_id: str,
               now: dt.datetime | None = None) -> pa.RecordBatch:
    """A staged quarantine batch in the quarantine table's shape."""
    now = now or dt.datetime.now(dt.UTC)
    n = batch.num_rows
    names = [c for c in batch.schema.names if c not in _SYSTEM]
    if kind == "unparsed" or not names:
        record: list[str | None] = [None] * n
    else:
        columns = {c: batch.column(c).to_pylist() for c in names}
        record = [json.dumps({c: columns[c][i] for c in names}, default=str, sort_keys=True)
                  for i in range(n)]
    raw = (batch.column(RAW_COLUMN) if RAW_COLUMN in batch.schema.names
           else pa.nulls(n, pa.string()))
    return pa.record_batch([
        pa.array([run_id] * n, pa.string()),
        pa.array([now] * n, pa.timestamp("us", tz="UTC")),
        pa.array([kind] * n, pa.string()),
        batch.column(REASON_COLUMN).cast(pa.string()),
        batch.column(RULES_COLUMN).cast(pa.string()),
        pa.array(record, pa.string()),
        raw.cast(pa.string()),
    ], schema=QUARANTINE_SCHEMA)


class QuarantineSink:
    """Where extract puts refused rows: staging files per kind, and the quarantine table."""

    def __init__(self, folder: str, run_id: str,
                 table_writer: Callable[[], StagedWriter] | None = None,
                 open_output: Callable[[str], BinaryIO] | None = None) -> None:
        self._folder = folder
        self._open_output = open_output  # None: a local folder
        self._run_id = run_id
        self._make_table_writer = table_writer
        self._writers: dict[str, StagedParquetWriter] = {}
        self._table: StagedWriter | None = None
        self.rows = 0

    def write(self, kind: str, batch: pa.RecordBatch) -> None:
        if not batch.num_rows:
            return
        batch = batch.append_column(RUN_ID_COLUMN, pa.array([self._run_id] * batch.num_rows,
                                                            pa.string()))
        if kind not in self._writers:
            self._writers[kind] = StagedParquetWriter(f"{self._folder}/quarantine/{kind}",
                                                      batch.schema,
                                                      open_output=self._open_output)
        self._writers[kind].write(batch)
        if self._make_table_writer is not None:
            if self._table is None:
                self._table = self._make_table_writer()
            self._table.write(table_rows(kind, batch, self._run_id))
        self.rows += batch.num_rows

    def close(self) -> tuple[list[str], list[StagedFile]]:
        """Paths of the staging files, and the files staged for the quarantine table."""
        staged = [f.path for w in self._writers.values() for f in w.close()]
        table = self._table.close() if self._table is not None else []
        return staged, table

    def abort(self) -> None:
        for writer in self._writers.values():
            writer.abort()
        if self._table is not None:
            self._table.abort()


def manifest_entry(table: str, files: list[StagedFile]) -> dict[str, Any]:
    from dataclasses import asdict

    return {"table": table, "files": [asdict(f) for f in files],
            "rows": sum(f.rows for f in files)}
