"""How an Iceberg table remembers dativo's commits: snapshot summaries and a bounded record.

Each load is one snapshot whose summary carries the run id, the writer (job and stream), the row
count, the state and the quarantine entry. A table property per writer keeps its last run ids and
newest state, so a retried load is recognized, and state found, after snapshot expiry.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from airflow_provider_dativo.errors import TargetError
from airflow_provider_dativo.targets.base import RUN_ID_RECORD, CommitHead, Description

if TYPE_CHECKING:
    from pyiceberg.table import Table
    from pyiceberg.table.metadata import TableMetadata
    from pyiceberg.table.snapshots import Snapshot

SUMMARY_RUN_ID = "dativo.run-id"
SUMMARY_STATE = "dativo.state"
SUMMARY_ROWS = "dativo.rows"
# The job (DAG id, and "/<stream>" for a stream of a multi-stream job) that made the commit.
# Snapshots from before it was recorded have none and count as every writer's.
SUMMARY_WRITER = "dativo.writer"
SUMMARY_QUARANTINE = "dativo.quarantine"

# One table property per writer, "dativo.commits.<writer>", written in the same metadata commit
# as each of its snapshots: JSON with its last RUN_ID_RECORD run ids (oldest first), its newest
# state and quarantine entry. The run ids are always consulted, so a retry is recognized after
# snapshot expiry; state is only taken from it once expiry has cut the history short, because the
# snapshot summaries follow rollbacks and branches and a property does not.
PROPERTY_COMMITS = "dativo.commits"
# What versions before the per-writer record kept: the newest commit of any writer.
PROPERTY_LAST_RUN_ID = "dativo.last-run-id"
PROPERTY_LAST_STATE = "dativo.last-state"


def ancestry(metadata: TableMetadata) -> Iterator[Snapshot]:
    """The current snapshot and its ancestors, newest first."""
    snapshot = metadata.current_snapshot()
    while snapshot is not None:
        yield snapshot
        if snapshot.parent_snapshot_id is None:
            return
        snapshot = metadata.snapshot_by_id(snapshot.parent_snapshot_id)


def history_truncated(metadata: TableMetadata) -> bool:
    """Whether snapshot expiry removed older parts of the current ancestry."""
    oldest = None
    for snapshot in ancestry(metadata):
        oldest = snapshot
    if oldest is None:
        return False
    # Java's expiry leaves a dangling parent id behind; pyiceberg's clears it, but the oldest
    # survivor's sequence number still shows that commits came before it (v2 tables number
    # commits from 1).
    return oldest.parent_snapshot_id is not None or (oldest.sequence_number or 0) > 1


def mine(summary: Mapping[str, str], writer: str | None) -> bool:
    """Whether a dativo commit belongs to ``writer``; one that names no writer is everyone's."""
    return SUMMARY_RUN_ID in summary and summary.get(SUMMARY_WRITER) in (None, writer)


def find_commit(
    metadata: TableMetadata, run_id: str, writer: str | None
) -> tuple[bool, Snapshot | None]:
    """Whether ``writer`` committed ``run_id``, and its snapshot when the history still has it."""
    for snapshot in ancestry(metadata):
        summary = snapshot_summary(snapshot)
        if summary.get(SUMMARY_RUN_ID) == run_id and mine(summary, writer):
            return True, snapshot
    if run_id in writer_record(metadata, writer).get("run_ids", ()):
        return True, None
    if history_truncated(metadata) and metadata.properties.get(PROPERTY_LAST_RUN_ID) == run_id:
        return True, None
    return False, None


def writer_head(metadata: TableMetadata, writer: str | None, table: str) -> CommitHead:
    """``writer``'s newest commit in the current ancestry; its record fills in what snapshot
    expiry removed."""
    newest: Mapping[str, str] | None = None
    for snapshot in ancestry(metadata):
        summary = snapshot_summary(snapshot)
        if not mine(summary, writer):
            continue
        newest = newest or summary
        if SUMMARY_STATE in summary:
            return CommitHead(newest[SUMMARY_RUN_ID], decode_state(summary[SUMMARY_STATE], table),
                              decode_optional(newest.get(SUMMARY_QUARANTINE), table))
    quarantine = None if newest is None else newest.get(SUMMARY_QUARANTINE)
    run_id = None if newest is None else newest[SUMMARY_RUN_ID]
    if not history_truncated(metadata):
        return CommitHead(run_id, None, decode_optional(quarantine, table))
    record = writer_record(metadata, writer)
    if record:
        run_ids = record.get("run_ids") or [None]
        if newest is None:
            return CommitHead(run_ids[-1], record.get("state"), record.get("quarantine"))
        return CommitHead(run_id, record.get("state"), decode_optional(quarantine, table))
    legacy = metadata.properties.get(PROPERTY_LAST_STATE)
    return CommitHead(run_id or metadata.properties.get(PROPERTY_LAST_RUN_ID),
                      decode_optional(legacy, table), decode_optional(quarantine, table))


def record_property(writer: str | None) -> str:
    return PROPERTY_COMMITS if writer is None else f"{PROPERTY_COMMITS}.{writer}"


def writer_record(metadata: TableMetadata, writer: str | None) -> dict[str, Any]:
    raw = metadata.properties.get(record_property(writer))
    if not raw:
        return {}
    try:
        record = json.loads(raw)
    except ValueError:
        return {}  # damaged by hand: the snapshot history still answers
    return record if isinstance(record, dict) else {}


def commit_record(
    metadata: TableMetadata,
    writer: str | None,
    run_id: str,
    state: Mapping[str, Any] | None,
    head: CommitHead,
    quarantine: Mapping[str, Any] | None,
    keep: int = RUN_ID_RECORD,
) -> str:
    """The writer's record after this commit: its last ``keep`` run ids, so table metadata
    stays small."""
    run_ids = [r for r in writer_record(metadata, writer).get("run_ids", []) if r != run_id]
    record: dict[str, Any] = {
        "run_ids": [*run_ids, run_id][-keep:],
        "state": dict(state) if state is not None else head.state,
    }
    if quarantine is not None:
        record["quarantine"] = dict(quarantine)
    return encode_state(record)


def describe(table: Table) -> Description:
    """What ``dativo show`` prints of a table: its snapshots (the current one carries the run
    id that committed it), its partitioning, and the current snapshot's rows."""
    snapshot = table.current_snapshot()
    facts = [("location", table.location()), ("snapshots", str(len(table.snapshots())))]
    if snapshot is not None:
        facts += [("current snapshot", str(snapshot.snapshot_id)),
                  ("committed by run", snapshot_summary(snapshot).get(SUMMARY_RUN_ID, "-"))]
    facts.append(("partitioning", str(table.spec())))
    return Description(tuple(facts), table.scan().to_arrow())


def snapshot_summary(snapshot: Snapshot | None) -> dict[str, str]:
    if snapshot is None or snapshot.summary is None:
        return {}
    return snapshot.summary.additional_properties


def encode_state(state: Mapping[str, Any]) -> str:
    try:
        return json.dumps(dict(state), sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TargetError(
            f"incremental state must be plain JSON (strings, numbers, booleans, lists, objects): "
            f"{exc}"
        ) from exc


def decode_optional(raw: str | None, table: str) -> dict[str, Any] | None:
    return None if raw is None else decode_state(raw, table)


def decode_state(raw: str, table: str) -> dict[str, Any]:
    try:
        state = json.loads(raw)
    except ValueError as exc:
        raise TargetError(f"the state recorded in {table} is not valid JSON: {exc}") from exc
    if not isinstance(state, dict):
        raise TargetError(f"the state recorded in {table} is not a JSON object")
    return state


def as_int(value: str | None) -> int:
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0

