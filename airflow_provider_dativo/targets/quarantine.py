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
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, BinaryIO

import pyarrow as pa

from airflow_provider_dativo.contracts.checks import REASON_COLUMN, RULES_COLUMN
from airflow_provider_dativo.errors import TargetError
from airflow_provider_dativo.targets.base import CommitHead, StagedFile, StagedWriter, Target
from airflow_provider_dativo.targets.parquet_writer import StagedParquetWriter

if TYPE_CHECKING:
    from airflow_provider_dativo.targets.registry import JobTargets

log = logging.getLogger(__name__)

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
        self._unparsed: tuple[list[str], list[str]] = ([], [])
        self.rows = 0

    def unparsed(self, raw: Sequence[str], reasons: Sequence[str]) -> None:
        """Input that never became rows: kept, and written as one batch when the sink closes
        (rows that broke the contract and lines that never parsed differ in shape)."""
        self._unparsed[0].extend(raw)
        self._unparsed[1].extend(reasons)

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
        raw, reasons = self._unparsed
        if raw:
            self.write("unparsed", pa.record_batch({RAW_COLUMN: raw, REASON_COLUMN: reasons,
                                                    RULES_COLUMN: ["parse"] * len(raw)}))
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


def open_sink(targets: JobTargets, folder: str, run_id: str, written_as: str) -> QuarantineSink:
    """The run's quarantine: files in its staging ``folder``, and the quarantine table's staged
    files (named ``written_as``) when the job keeps one. The table is prepared here."""
    table = targets.quarantine
    if table is not None:
        table.prepare()
    return QuarantineSink(folder, run_id,
                          None if table is None else lambda: table.staged_writer(written_as),
                          open_output=None if targets.staging is None
                          else targets.staging.open_output)


def finish(head: CommitHead, quarantine_target: Target, earlier: bool = False) -> None:
    """Commit the quarantine entry the data commit ``head`` recorded, unless already there.

    ``earlier``: the entry of an earlier run, committed before this run's load; its files may
    be gone, which must not stop the job's loads for good.
    """
    from airflow_provider_dativo.run_manifest import staged_files

    entry = head.quarantine
    if head.run_id is None or not entry or entry.get("table") != quarantine_target.table_identifier:
        return
    try:
        quarantine_target.commit(staged_files(entry["files"]), None, head.run_id)
    except TargetError as exc:
        if not earlier:
            raise
        log.warning("could not commit the quarantine rows of earlier run %s to %s: %s",
                    head.run_id, entry.get("table"), exc)
