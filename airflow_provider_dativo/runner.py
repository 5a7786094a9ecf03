"""One job run without Airflow: the steps the operators call and the CLI runs in a row.

validate → extract (source batches → contract check → Parquet written once where the target
keeps it, rejects to quarantine) → load (the target commits the files and the state together).
Steps hand over a small JSON manifest only; data stays in staging.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_dativo import quality_gate
from airflow_provider_dativo.config.specs import JobSpec
from airflow_provider_dativo.engines import RejectedRecords, SourceEngine, StateUpdate, open_source
from airflow_provider_dativo.engines.base import PendingState, ReadItem, RecordsDone
from airflow_provider_dativo.engines.native import cursor as cursors
from airflow_provider_dativo.errors import ContractViolation, DativoError, EngineError, TargetError
from airflow_provider_dativo.read_ahead import read_ahead
from airflow_provider_dativo.run_manifest import (  # noqa: F401 - run_folder: its earlier home
    EXTRACT_KEYS,
    RunManifest,
    as_manifest,
    files_id,
    part_folder,
    run_folder,
    write_manifest,
)
from airflow_provider_dativo.targets.base import CommitHead, CommitResult, Target
from airflow_provider_dativo.targets.binding import staging_root
from airflow_provider_dativo.targets.file_lock import FileLock, LockHeld
from airflow_provider_dativo.targets.registry import JobTargets, open_target, open_targets

if TYPE_CHECKING:
    from airflow_provider_dativo.targets.quarantine import QuarantineSink

# pyarrow and the modules built on it (contracts, targets.quarantine) are imported inside the
# steps that use them: a connector starts before they are needed, and its start-up then overlaps
# their import.

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
    """``extract_run``'s manifest in its dict form, as XCom carries it."""
    return extract_run(job, run_id, ingest_date=ingest_date, progress=progress,
                       part=part).to_dict()


def extract_run(job: JobSpec, run_id: str, *, ingest_date: dt.date | None = None,
                progress: ProgressFn | None = None,
                part: Mapping[str, Any] | None = None) -> RunManifest:
    """Read the source, check the contract, stage Parquet; returns the run's manifest.

    With ``part`` (a descriptor from ``partitions.plan_step``) only that part of the source is
    read, and the manifest is the part's, for ``partitions.gather`` to combine."""
    source = open_source(job, job.resolved_source_connection())
    if part is not None:
        source.restrict(part)
    stream = job.source_object or job.contract.name
    # A source that can start before it knows its state (a connector process) starts now,
    # so its start-up overlaps opening the target, which is where the state is kept.
    pending = PendingState()
    reader = read_ahead(_read_source(source, stream, pending))
    try:
        targets = open_targets(job)
        targets.data.prepare()
        if targets.data.is_committed(run_id):
            log.info("run %s is already committed to %s; nothing to extract", run_id, job.table)
            return RunManifest.committed_already(job.dag_id, run_id)
        # the state and the commit it came from, read at once: load refuses the commit if this
        # job commits again meanwhile (another run of it), instead of committing stale state
        head = targets.data.committed_head()
        previous = head.state or {}
        pending.set(previous.get("source"))
        return _extract(job, run_id, targets, previous, reader, ingest_date=ingest_date,
                        progress=progress, base=head.run_id, part=part)
    finally:
        pending.cancel()  # no-op once set; else stops a connector still waiting for it
        reader.close()


def _read_source(source: SourceEngine, stream: str,
                 pending: PendingState) -> Iterator[ReadItem]:
    """What the source reads; an engine that needs its state up front waits for it here, on
    the read-ahead thread."""
    if source.starts_early:
        early: Any = source  # its read() takes the PendingState where others take a mapping
        yield from early.read(stream, pending)
    else:
        yield from source.read(stream, pending.wait())


def _extract(job: JobSpec, run_id: str, targets: JobTargets, previous: Mapping[str, Any],
             reader: Iterable[ReadItem], *, ingest_date: dt.date | None,
             progress: ProgressFn | None, base: str | None = None,
             part: Mapping[str, Any] | None = None) -> RunManifest:
    from airflow_provider_dativo.contracts.unsent import UnsentColumns
    from airflow_provider_dativo.targets import quarantine as quarantines

    folder = part_folder(job, run_id, part)
    written_as = files_id(run_id, part)
    stats = Progress()
    rule_counts: dict[str, int] = {}
    source_state = previous.get("source")
    report = progress or log_progress()
    cursor = cursors.for_job(job, previous)
    data = targets.data.staged_writer(written_as, **_writer_options(job))
    rejects = quarantines.open_sink(targets, folder, run_id, written_as)
    finished = False  # the source has sent its last rows and the files are closed
    unsent = UnsentColumns(job.contract, job.asset_file)  # columns no batch of the run had
    try:
        for item in reader:  # read
            if isinstance(item, StateUpdate):
                source_state = dict(item.state)
                continue
            if isinstance(item, RecordsDone):
                # the source process is still ending: its last rows are written meanwhile
                data.close()
                finished = True
                continue
            if isinstance(item, RejectedRecords):
                _unparsed(job, item, stats, rule_counts, rejects)
                continue
            if finished:
                raise EngineError(f"source of {job.dag_id} sent rows after it said it had sent "
                                  "its last; nothing was committed")
            stats.rows_read += item.num_rows
            unsent.saw(item.schema.names)
            valid = _checked(job, item, stats, rule_counts, rejects, ingest_date)  # check
            if cursor is not None and valid.num_rows:  # cursor
                before = valid.num_rows
                valid = cursor.apply(valid)
                stats.rows_skipped += before - valid.num_rows
            if valid.num_rows:  # write
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
    quarantine_files, quarantine_table_files = rejects.close()

    state: dict[str, Any] = {}
    if source_state is not None:
        state["source"] = source_state
    if (newest := cursors.next_state(cursor, previous)) is not None:
        state["cursor"] = newest
    keys = EXTRACT_KEYS + (("part",) if part is not None else ()) + (
        ("quarantine_table",) if targets.quarantine is not None else ())
    seconds = round(time.monotonic() - stats.started, 3)
    manifest = RunManifest(
        job=job.dag_id, run_id=run_id, table=job.table,
        files=tuple(dataclasses.asdict(f) for f in files), rows=stats.rows_valid,
        rows_read=stats.rows_read, rejected=stats.rows_rejected, skipped=stats.rows_skipped,
        null_cursor=0 if cursor is None else cursor.null_cursor,
        unsent_columns=tuple(unsent.missing), rule_counts=rule_counts,
        quarantine=tuple(quarantine_files), state=state or None,
        base_run_id=base,  # the job's commit that state was read from (None: the first)
        extract_seconds=seconds, seconds=seconds,
        part=None if part is None else {"index": part["index"], "of": part["of"]},
        quarantine_table=None if targets.quarantine is None else quarantines.manifest_entry(
            targets.quarantine.table_identifier, quarantine_table_files),
        keys=keys)
    write_manifest(folder, manifest, targets.staging)
    log.info("extract of %s staged %s rows in %d file(s), rejected %s, %.0f rows/s",
             job.dag_id, f"{stats.rows_valid:,}", len(files), f"{stats.rows_rejected:,}",
             stats.rows_per_s)
    if cursor is not None and (stats.rows_skipped or cursor.null_cursor):
        log.info("%s rows at or below the committed cursor %s=%s skipped; %s rows with a NULL "
                 "cursor read", f"{stats.rows_skipped:,}", cursor.field, cursor.committed,
                 f"{cursor.null_cursor:,}")
    return manifest


def _unparsed(job: JobSpec, item: RejectedRecords, stats: Progress, rule_counts: dict[str, int],
              rejects: QuarantineSink) -> None:
    """Input that never became rows: refused in strict mode, quarantined in warn mode."""
    stats.rows_read += len(item.raw)
    stats.rows_rejected += len(item.raw)
    rule_counts["parse"] = rule_counts.get("parse", 0) + len(item.raw)
    if job.validation_mode == "strict":
        raise ContractViolation(
            f"{len(item.raw)} record(s) could not be parsed:\n  " + "\n  ".join(item.reasons[:10])
            + "\nFix the source, or set validation.mode: warn to quarantine them.")
    rejects.unparsed(item.raw, item.reasons)


def _checked(job: JobSpec, batch: Any, stats: Progress, rule_counts: dict[str, int],
             rejects: QuarantineSink, ingest_date: dt.date | None) -> Any:
    """The batch's rows that keep the contract; the others refuse the run in strict mode and
    go to quarantine in warn mode."""
    from airflow_provider_dativo.contracts import check_batch

    result = check_batch(batch, job.contract, ingest_date=ingest_date)
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
        rejects.write("rows", result.rejected)
    return result.valid


# -- load ------------------------------------------------------------------------------------
def load_step(job: JobSpec, manifest: RunManifest | Mapping[str, Any]) -> CommitResult:
    """Commit the staged files and the new state; a run already committed is a no-op.

    With a quarantine table, the data commit comes first and records the run's quarantine
    entry; the quarantine table's commit follows under the same run id. Committing quarantine
    first let a kill between the two leave the data uncommitted, so the next run (a new run id)
    read the same lines again and quarantined them a second time. Now a kill between them leaves
    the entry in the data commit, and the next load of the job commits it before anything else:
    the refused rows land exactly once, and a run id the quarantine table has is a no-op.
    """
    run = as_manifest(manifest)
    targets = open_targets(job)
    target, quarantine_target = targets.data, targets.quarantine
    if quarantine_target is not None:
        _finish_quarantine(target.committed_head(), quarantine_target, earlier=True)
    if run.already_committed:
        return CommitResult(table=job.table, rows=0, committed=False)
    entry = run.quarantine_table if quarantine_target is not None else None
    # the contract's quality rules over the staged run: a failed error rule commits nothing
    quality = quality_gate.check_run(job, run.to_dict(), target)
    result = target.commit(run.staged_files(), quality.state, run.run_id, base=run.base,
                           quarantine=entry)
    if quarantine_target is not None and entry is not None:
        _finish_quarantine(CommitHead(run.run_id, None, dict(entry)), quarantine_target)
    verb = "committed" if result.committed else "already committed; nothing to do for"
    log.info("%s %s rows to %s (snapshot %s)", verb, f"{result.rows:,}", result.table,
             result.snapshot_id)
    _remove_orphans(job, target)
    return dataclasses.replace(result, quality=quality.records)


def _finish_quarantine(head: CommitHead, quarantine_target: Target, earlier: bool = False) -> None:
    """The quarantine table's commit of the entry ``head`` recorded (``quarantine.finish``)."""
    from airflow_provider_dativo.targets.quarantine import finish

    finish(head, quarantine_target, earlier)


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
