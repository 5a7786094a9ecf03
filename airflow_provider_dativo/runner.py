"""One job run without Airflow: the steps the operators call and the CLI runs in a row.

validate → extract (source batches → contract check → Parquet written once where the target
keeps it, rejects to quarantine) → load (the target commits the files and the state together).
Steps hand over a small JSON manifest only; data stays in staging.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from airflow_provider_dativo import quality_gate
from airflow_provider_dativo.config import paths
from airflow_provider_dativo.config.specs import JobSpec
from airflow_provider_dativo.engines import RejectedRecords, StateUpdate, open_source
from airflow_provider_dativo.engines.base import PendingState, ReadItem, RecordsDone, restrict
from airflow_provider_dativo.engines.native.cursor import CursorFilter, inclusive_for, json_value
from airflow_provider_dativo.errors import ContractViolation, DativoError, EngineError, TargetError
from airflow_provider_dativo.read_ahead import read_ahead
from airflow_provider_dativo.targets.base import (
    UNKNOWN_BASE,
    CommitHead,
    CommitResult,
    StagedFile,
    Target,
    safe_run_id,
)
from airflow_provider_dativo.targets.file_lock import FileLock, LockHeld
from airflow_provider_dativo.targets.registry import (
    open_quarantine_target,
    open_target,
    staging_storage,
)
from airflow_provider_dativo.targets.storage import Storage

# pyarrow and the modules built on it are imported inside the steps that use them: a
# connector starts before they are needed, and its start-up then overlaps their import.

log = logging.getLogger(__name__)

PROGRESS_EVERY_S = 10.0
ORPHAN_RETENTION_HOURS = 24.0


@dataclass
class Progress:
    """Counters of one extract; ``report`` is called as batches flow (CLI bar, task log)."""

    rows_read: int = 0
    rows_valid: int = 0
    rows_rejected: int = 0
    rows_skipped: int = 0  # at or below the committed cursor: read before, dropped on purpose
    started: float = field(default_factory=time.monotonic)

    @property
    def rows_per_s(self) -> float:
        return self.rows_read / max(time.monotonic() - self.started, 1e-9)


ProgressFn = Callable[[Progress], None]


def log_progress(every_s: float = PROGRESS_EVERY_S) -> ProgressFn:
    """A progress callback that writes a line to the log at most every ``every_s`` seconds."""
    last = [time.monotonic()]

    def report(p: Progress) -> None:
        now = time.monotonic()
        if now - last[0] >= every_s:
            last[0] = now
            log.info("extracted %s rows (%s valid, %s rejected), %.0f rows/s",
                     f"{p.rows_read:,}", f"{p.rows_valid:,}", f"{p.rows_rejected:,}", p.rows_per_s)

    return report


def new_run_id() -> str:
    now = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    return f"cli__{now}__{uuid.uuid4().hex[:8]}"


def staging_root(job: JobSpec) -> str:
    return job.staging_root or os.environ.get("DATIVO_STAGING") or str(
        job.root / ".dativo" / "staging")


def run_folder(job: JobSpec, run_id: str) -> str:
    # the streams of one job share a run id: each keeps its quarantine and manifest apart
    name = job.name if job.stream is None else f"{job.name}/{safe_run_id(job.stream)}"
    folder = f"{staging_root(job).rstrip('/')}/{job.tenant_id}/{name}/{safe_run_id(run_id)}"
    if not paths.is_local(folder) or (not job.staging_root and os.environ.get("DATIVO_STAGING")):
        return folder  # an object store, or the operator's own folder
    # the job's or the default folder: a link may have appeared since validation
    return str(paths.resolve_for_job(job.file, job.root, folder, "staging.root"))


def part_folder(job: JobSpec, run_id: str, part: Mapping[str, Any] | None) -> str:
    """Where one part of a partitioned run keeps its manifest and quarantine (the run's folder
    for a run in one part)."""
    folder = run_folder(job, run_id)
    return folder if part is None else f"{folder}/parts/part-{int(part['index']):05d}"


def files_id(run_id: str, part: Mapping[str, Any] | None) -> str:
    """The name a run's staged files are written under: the run id, and the part's index for a
    part, so a retried part writes its own files again and no part's files mix with another's."""
    return run_id if part is None else f"{run_id}.part-{int(part['index']):05d}"


def open_job_target(job: JobSpec) -> Target:
    return open_target(job, job.resolved_target_connection())


@contextlib.contextmanager
def job_lock(job: JobSpec, run_id: str) -> Iterator[None]:
    """Hold off a second ``dativo run`` of the job while this one runs, or fail at once.

    A lock file under a local staging root (the embedded default), taken with ``flock``, so a
    killed run frees it. An object-storage staging root has no lock: of two runs there, the
    second to load is refused by the target, because the first committed after the state the
    second read (see ``targets.base.Target.commit``).
    """
    root = staging_root(job)
    if "://" in root and not root.startswith("file://"):
        yield
        return
    path = f"{root.removeprefix('file://').rstrip('/')}/{job.tenant_id}/{job.name}/run.lock"
    since = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    holder = f"run {run_id}, pid {os.getpid()} on {socket.gethostname()}, since {since}"
    with contextlib.ExitStack() as held:
        try:
            held.enter_context(FileLock(path).hold(wait=False, holder=holder))
        except LockHeld as exc:
            raise TargetError(
                f"job {job.dag_id} is already running ({exc.holder or 'another process'}; lock "
                f"file {exc.path}); wait for that run to end, then run again"
            ) from None
        yield


# -- validate --------------------------------------------------------------------------------
@dataclass(frozen=True)
class SideCheck:
    """How one side of a job answered its check."""

    side: str  # "source" or "target"
    ok: bool
    message: str
    error: BaseException | None = field(default=None, compare=False, repr=False)


def check_job(job: JobSpec) -> tuple[SideCheck, SideCheck]:
    """Both sides, each checked whatever the other answered: the source's own check, and the
    target reached (its catalog answers and the namespace exists, created when missing; no
    table is created)."""
    return _check_side("source", lambda: _source_check(job)), _check_side(
        "target", lambda: open_job_target(job).check())


def _source_check(job: JobSpec) -> tuple[bool, str]:
    status = open_source(job, job.resolved_source_connection()).check()
    return status.ok, status.message


def _check_side(side: str, check: Callable[[], tuple[bool, str] | str]) -> SideCheck:
    try:
        answer = check()
    except Exception as exc:  # any failure is this side's answer; validate_step re-raises it
        text = str(exc) if isinstance(exc, DativoError) else f"{type(exc).__name__}: {exc}"
        return SideCheck(side, False, text, exc)
    ok, message = answer if isinstance(answer, tuple) else (True, answer)
    return SideCheck(side, ok, message)


def validate_step(job: JobSpec) -> dict[str, Any]:
    """Config is valid (it loaded), secrets resolve, the source answers its check and the
    target is reachable; the first side that failed raises."""
    source, target = check_job(job)
    for result in (source, target):
        if result.error is not None:
            raise result.error
        if not result.ok:
            raise EngineError(f"{result.side} check failed for {job.dag_id}: {result.message}")
    return {"job": job.dag_id, "source_check": source.message, "target_check": target.message}


# -- extract ---------------------------------------------------------------------------------
def extract_step(job: JobSpec, run_id: str, *, ingest_date: dt.date | None = None,
                 progress: ProgressFn | None = None,
                 part: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Read the source, check the contract, stage Parquet; returns the run's manifest.

    With ``part`` (a descriptor from ``partitions.plan_step``) only that part of the source is
    read, and the manifest is the part's, for ``partitions.gather`` to combine."""
    source = open_source(job, job.resolved_source_connection())
    if part is not None:
        restrict(source, part)
    stream = job.source_object or job.contract.name
    # A source that can start before it knows its state (a connector process) starts now,
    # so its start-up overlaps opening the target, which is where the state is kept.
    pending = PendingState()
    reader = read_ahead(_read_source(source, stream, pending))
    try:
        target = open_job_target(job)
        target.prepare()
        if target.is_committed(run_id):
            log.info("run %s is already committed to %s; nothing to extract", run_id, job.table)
            return {"job": job.dag_id, "run_id": run_id, "already_committed": True,
                    "files": [], "rows": 0, "rejected": 0, "state": None}
        # the state and the commit it came from, read at once: load refuses the commit if this
        # job commits again meanwhile (another run of it), instead of committing stale state
        head = target.committed_head()
        previous = head.state or {}
        pending.set(previous.get("source"))
        return _extract(job, run_id, target, previous, reader, ingest_date=ingest_date,
                        progress=progress, base=head.run_id, part=part)
    finally:
        pending.cancel()  # no-op once set; else stops a connector still waiting for it
        reader.close()


def _read_source(source: Any, stream: str, pending: PendingState) -> Iterator[ReadItem]:
    """What the source reads; an engine that needs its state up front waits for it here, on
    the read-ahead thread."""
    if getattr(source, "starts_early", False):
        yield from source.read(stream, pending)
    else:
        yield from source.read(stream, pending.wait())


def _extract(job: JobSpec, run_id: str, target: Target, previous: Mapping[str, Any],
             reader: Iterable[ReadItem], *, ingest_date: dt.date | None,
             progress: ProgressFn | None, base: str | None = None,
             part: Mapping[str, Any] | None = None) -> dict[str, Any]:
    import pyarrow as pa

    from airflow_provider_dativo.contracts import check_batch
    from airflow_provider_dativo.contracts.unsent import UnsentColumns
    from airflow_provider_dativo.targets.quarantine import QuarantineSink, manifest_entry

    folder = part_folder(job, run_id, part)
    written_as = files_id(run_id, part)
    stats = Progress()
    rule_counts: dict[str, int] = {}
    source_state = previous.get("source")
    report = progress or log_progress()
    cursor = _cursor_filter(job, previous)

    data = target.staged_writer(written_as, **_writer_options(job))
    # resolved once: ${conn:...} references may ask Airflow's connections
    connection = job.resolved_target_connection()
    quarantine_target = open_quarantine_target(job, connection)
    if quarantine_target is not None:
        quarantine_target.prepare()
    # rows that broke the contract, and input that never became rows, differ in shape
    storage = staging_storage(job, connection, staging_root(job))
    rejects = QuarantineSink(folder, run_id, None if quarantine_target is None else
                             lambda: quarantine_target.staged_writer(written_as),
                             open_output=None if storage is None else storage.open_output)
    unparsed: list[RejectedRecords] = []
    quarantine = rejects.write

    finished = False  # the source has sent its last rows and the files are closed
    unsent = UnsentColumns(job.contract, job.asset_file)  # columns no batch of the run had
    try:
        for item in reader:
            if isinstance(item, StateUpdate):
                source_state = dict(item.state)
                continue
            if isinstance(item, RecordsDone):
                # the source process is still ending: its last rows are written meanwhile
                data.close()
                finished = True
                continue
            if isinstance(item, RejectedRecords):
                stats.rows_read += len(item.raw)
                stats.rows_rejected += len(item.raw)
                rule_counts["parse"] = rule_counts.get("parse", 0) + len(item.raw)
                if job.validation_mode == "strict":
                    raise ContractViolation(
                        f"{len(item.raw)} record(s) could not be parsed:\n  "
                        + "\n  ".join(item.reasons[:10])
                        + "\nFix the source, or set validation.mode: warn to quarantine them.")
                unparsed.append(item)
                continue
            if finished:
                raise EngineError(f"source of {job.dag_id} sent rows after it said it had sent "
                                  "its last; nothing was committed")
            stats.rows_read += item.num_rows
            unsent.saw(item.schema.names)
            result = check_batch(item, job.contract, ingest_date=ingest_date)
            for rule, count in result.rule_counts.items():
                rule_counts[rule] = rule_counts.get(rule, 0) + count
            if result.rejected is not None and result.rejected.num_rows:
                stats.rows_rejected += result.rejected.num_rows
                if job.validation_mode == "strict":
                    summary = ", ".join(f"{r}={n}" for r, n in sorted(result.rule_counts.items()))
                    raise ContractViolation(
                        f"contract '{job.contract.name}' refused {result.rejected.num_rows} "
                        f"row(s) ({summary}). Fix the source, or set validation.mode: warn to "
                        "quarantine bad rows and load the rest.")
                quarantine("rows", result.rejected)
            valid = result.valid
            if cursor is not None and valid.num_rows:
                before = valid.num_rows
                valid = cursor.apply(valid)
                stats.rows_skipped += before - valid.num_rows
            if valid.num_rows:
                data.write(valid)
                stats.rows_valid += valid.num_rows
            report(stats)
        # Named, not refused: connectors leave out optional keys no record of the run had,
        # and a required column is refused by its own rule already.
        unsent.report("warn")
    except BaseException:
        # the files stay uncommitted; the error raised is the one that stopped the run
        data.abort()
        rejects.abort()
        raise
    files = data.close()  # harmless when already closed
    if unparsed:
        raw = [r for item in unparsed for r in item.raw]
        reasons = [r for item in unparsed for r in item.reasons]
        quarantine("unparsed", pa.record_batch({"_dativo_raw": raw, "_dativo_reason": reasons,
                                                "_dativo_rules": ["parse"] * len(raw)}))
    quarantine_files, quarantine_table_files = rejects.close()

    state: dict[str, Any] = {}
    if source_state is not None:
        state["source"] = source_state
    if cursor is not None and cursor.newest is not None:
        state["cursor"] = json_value(cursor.newest)
    elif previous.get("cursor") is not None:
        state["cursor"] = previous["cursor"]  # a cursor the run does not apply is kept as is
    manifest = {
        "job": job.dag_id,
        "run_id": run_id,
        "table": job.table,
        "files": [asdict(f) for f in files],
        "rows": stats.rows_valid,
        "rows_read": stats.rows_read,
        "rejected": stats.rows_rejected,
        "skipped": stats.rows_skipped,
        "null_cursor": 0 if cursor is None else cursor.null_cursor,
        "unsent_columns": list(unsent.missing),
        "rule_counts": rule_counts,
        "quarantine": quarantine_files,
        "state": state or None,
        "base_run_id": base,  # the job's commit that state was read from (None: the first)
        "extract_seconds": (extract_seconds := round(time.monotonic() - stats.started, 3)),
        "seconds": extract_seconds,  # the old name of extract_seconds, for in-flight readers
    }
    if part is not None:
        manifest["part"] = {"index": part["index"], "of": part["of"]}
    if quarantine_target is not None:
        manifest["quarantine_table"] = manifest_entry(quarantine_target.table_identifier,
                                                      quarantine_table_files)
    _write_manifest(folder, manifest, storage)
    log.info("extract of %s staged %s rows in %d file(s), rejected %s, %.0f rows/s",
             job.dag_id, f"{stats.rows_valid:,}", len(files), f"{stats.rows_rejected:,}",
             stats.rows_per_s)
    if cursor is not None and (stats.rows_skipped or cursor.null_cursor):
        log.info("%s rows at or below the committed cursor %s=%s skipped; %s rows with a NULL "
                 "cursor read", f"{stats.rows_skipped:,}", cursor.field, cursor.committed,
                 f"{cursor.null_cursor:,}")
    return manifest


def _cursor_filter(job: JobSpec, previous: Mapping[str, Any]) -> CursorFilter | None:
    """The run's cursor rule, or None where the runner must not drop rows by cursor.

    An Airbyte or Singer connector's own state is its incremental mechanism: it may send
    older rows on purpose (a backfill, a late file, a tie it re-sends), and they are loaded.
    A cursor the contract does not carry is left to the source's state as well.
    """
    inc = job.incremental
    if inc is None or job.source_keeps_state:
        return None
    if inc.cursor_field not in job.contract.field_names:
        log.warning("cursor field %s is not in contract %s; incremental reads rely on the "
                    "source's own state", inc.cursor_field, job.contract.name)
        return None
    return CursorFilter(inc.cursor_field, committed=previous.get("cursor"),
                        lookback_days=inc.lookback_days, inclusive=inclusive_for(job.write_mode))


def _write_manifest(folder: str, manifest: Mapping[str, Any], storage: Storage | None) -> None:
    """Keep the manifest beside the run's quarantine, for audit."""
    text = json.dumps(manifest, indent=2, default=str)
    if storage is not None:
        storage.write_bytes(f"{folder}/manifest.json", text.encode(), overwrite=True)
        return
    path = Path(folder.removeprefix("file://"))
    path.mkdir(parents=True, exist_ok=True)
    (path / "manifest.json").write_text(text)


# -- load ------------------------------------------------------------------------------------
def load_step(job: JobSpec, manifest: Mapping[str, Any]) -> CommitResult:
    """Commit the staged files and the new state; a run already committed is a no-op.

    With a quarantine table, the data commit comes first and records the run's quarantine
    entry; the quarantine table's commit follows under the same run id. Committing quarantine
    first let a kill between the two leave the data uncommitted, so the next run (a new run id)
    read the same lines again and quarantined them a second time. Now a kill between them leaves
    the entry in the data commit, and the next load of the job commits it before anything else:
    the refused rows land exactly once, and a run id the quarantine table has is a no-op.
    """
    # resolved once: ${conn:...} references may ask Airflow's connections
    connection = job.resolved_target_connection()
    target = open_target(job, connection)
    quarantine_target = open_quarantine_target(job, connection)
    if quarantine_target is not None:
        _finish_quarantine(target.committed_head(), quarantine_target, earlier=True)
    if manifest.get("already_committed"):
        return CommitResult(table=job.table, rows=0, committed=False)
    run_id = manifest["run_id"]
    entry = manifest.get("quarantine_table") if quarantine_target is not None else None
    # a manifest from before extract recorded its base is committed unchecked, as then
    base = manifest.get("base_run_id", UNKNOWN_BASE)
    # the contract's quality rules over the staged run: a failed error rule commits nothing
    quality = quality_gate.check_run(job, manifest, target)
    result = target.commit(_staged_files(manifest["files"]), quality.state, run_id,
                           base=base, quarantine=entry)
    if quarantine_target is not None and entry is not None:
        _finish_quarantine(CommitHead(run_id, None, entry), quarantine_target)
    verb = "committed" if result.committed else "already committed; nothing to do for"
    log.info("%s %s rows to %s (snapshot %s)", verb, f"{result.rows:,}", result.table,
             result.snapshot_id)
    _remove_orphans(job, target)
    return dataclasses.replace(result, quality=quality.records)


def _finish_quarantine(head: CommitHead, quarantine_target: Target, earlier: bool = False) -> None:
    """Commit the quarantine entry the data commit ``head`` recorded, unless already there."""
    entry = head.quarantine
    if head.run_id is None or not entry or entry.get("table") != quarantine_target.table_identifier:
        return
    try:
        quarantine_target.commit(_staged_files(entry["files"]), None, head.run_id)
    except TargetError as exc:
        if not earlier:
            raise
        # the earlier run's files are gone: that must not stop this job's loads for good
        log.warning("could not commit the quarantine rows of earlier run %s to %s: %s",
                    head.run_id, entry.get("table"), exc)


def _staged_files(entries: list[Mapping[str, Any]]) -> list[StagedFile]:
    return [StagedFile(path=f["path"], rows=f["rows"], bytes=f["bytes"],
                       partition=f.get("partition", {})) for f in entries]


def _writer_options(job: JobSpec) -> dict[str, Any]:
    rows = job.target_options.get("target_file_rows")
    return {} if rows is None else {"target_file_rows": int(rows)}


def _remove_orphans(job: JobSpec, target: Target) -> None:
    """Files of runs that never committed (a killed extract) go once they are old enough."""
    hours = float(job.target_options.get("orphan_retention_hours", ORPHAN_RETENTION_HOURS))
    try:
        removed = target.remove_orphans(dt.timedelta(hours=hours))
    except Exception as exc:  # the load itself succeeded; cleanup is retried by the next run
        log.warning("could not remove orphaned files of %s: %s", job.table, exc)
        return
    if removed:
        log.info("removed %d orphaned file(s) of runs that never committed to %s",
                 len(removed), job.table)


# -- the whole run ---------------------------------------------------------------------------
def run_job(job: JobSpec, run_id: str | None = None, *,
            progress: ProgressFn | None = None) -> tuple[dict[str, Any], CommitResult]:
    run_id = run_id or new_run_id()
    validate_step(job)
    manifest = extract_step(job, run_id, progress=progress)
    return manifest, load_step(job, manifest)
