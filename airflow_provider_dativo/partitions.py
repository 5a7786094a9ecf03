"""One job across many workers: plan the parts, extract each on its own, commit them together.

``plan_step`` turns ``source.partitions`` into a small list of part descriptors (JSON, for XCom):
ranges of one column for a database source, shares of the matched files (or line-aligned byte
ranges of one large file) for a file source. Each part is extracted by ``runner.extract_step``
with ``part=``, which writes the part's staged files (named by run id and part index) and its
manifest under the run's staging folder. ``gather`` reads every part's manifest and combines them
into the one manifest ``runner.load_step`` commits: one snapshot (one commit marker) with the run
id and the new state, so a run lands whole or not at all. ``run_parts`` does the same without
Airflow, in processes on one machine (``dativo run --parallel N``).

Ranges are open at the outer edges (the first part reads everything below its upper bound, the
last everything from its lower bound), so a row outside the planned min..max (inserted after the
plan, or beyond explicit ranges) is still read exactly once. Rows whose column is NULL at plan time
get a part of their own.
"""

from __future__ import annotations

import datetime as dt
import logging
import multiprocessing
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ProcessPoolExecutor, wait
from typing import Any

from airflow_provider_dativo.config.partitions import PartitionSpec
from airflow_provider_dativo.config.specs import JobSpec
from airflow_provider_dativo.engines import open_source
from airflow_provider_dativo.errors import ConfigError, ConfigIssue, EngineError, TargetError
from airflow_provider_dativo.runner import (
    ProgressFn,
    extract_step,
    load_step,
    open_job_target,
    part_folder,
    run_folder,
    staging_root,
)
from airflow_provider_dativo.targets.base import CommitResult

log = logging.getLogger(__name__)

MAX_PARTS = 1024  # Airflow maps at most 1024 task instances by default (max_map_length)
# What a part's process needs, imported once by the fork server its processes fork from: these
# imports can cost a part's process more than a small part's extract.
# "__main__" first: the server imports the main script (the dativo command, and so the CLI) once,
# where each process forked from it would otherwise import it again.
WORKER_PRELOAD = ["__main__", "airflow_provider_dativo.partitions",
                  "airflow_provider_dativo.contracts",
                  "airflow_provider_dativo.targets.iceberg",
                  "airflow_provider_dativo.targets.parquet",
                  "airflow_provider_dativo.engines.native.files",
                  "airflow_provider_dativo.engines.native.postgres",
                  "adbc_driver_postgresql.dbapi", "pyiceberg.catalog.sql", "pyarrow.parquet",
                  "pyarrow.csv", "pyarrow.json"]
_EPOCH = dt.datetime(1970, 1, 1)


# -- plan ------------------------------------------------------------------------------------
def plan_step(job: JobSpec) -> list[dict[str, Any]]:
    """The parts of this run: each a small JSON descriptor ``{index, of, ...}``."""
    spec = job.partitions
    if spec is None:
        raise ConfigError([ConfigIssue(job.file, f"job {job.dag_id} has no source.partitions; "
                                       "run it with runner.run_job", path="source.partitions")])
    source = open_source(job, job.resolved_source_connection())
    target = open_job_target(job)
    target.prepare()
    # the parts read what this run reads: the incremental bound and the files not yet read
    source_state = (target.committed_head().state or {}).get("source")
    if spec.kind == "database":
        stream = job.source_object or job.contract.name
        bounds = source.column_bounds(stream, source_state, spec.column)  # type: ignore[attr-defined]
        parts = database_parts(spec, *bounds)
    else:
        parts = file_parts(spec, source, source_state)
    if len(parts) > MAX_PARTS:
        raise EngineError(f"{job.file}: source.partitions makes {len(parts)} parts, more than "
                          f"{MAX_PARTS}; use a longer interval or fewer ranges")
    planned = [{"index": i, "of": len(parts), **p} for i, p in enumerate(parts)]
    log.info("run of %s planned in %d part(s)", job.dag_id, len(planned))
    return planned


def database_parts(spec: PartitionSpec, low: Any, high: Any,
                   nulls: bool) -> list[dict[str, Any]]:
    """Ranges of ``spec.column`` over the values ``low``..``high`` found at plan time."""
    if spec.ranges:
        cuts = [lo for lo, _ in spec.ranges] + [spec.ranges[-1][1]]
    elif low is None:
        cuts = []  # no row has a value: one part reads whatever is there by then
    elif spec.interval:
        cuts = _interval_cuts(spec, low, high)
    else:
        cuts = _even_cuts(low, high, int(spec.count or 1))
    column = spec.column
    if len(cuts) < 2:
        parts = [{"column": column, "lo": None, "hi": None, "null": False}]
    else:
        last = len(cuts) - 2
        parts = [{"column": column, "lo": None if i == 0 else _json(cuts[i]),
                  "hi": None if i == last else _json(cuts[i + 1]), "null": False}
                 for i in range(last + 1)]
    if nulls:
        parts.append({"column": column, "lo": None, "hi": None, "null": True})
    return parts


def _even_cuts(low: Any, high: Any, count: int) -> list[Any]:
    """``count`` equal ranges from ``low`` to ``high`` as their count + 1 bounds (fewer when the
    values are too close together to make that many distinct ranges)."""
    if isinstance(low, bool) or not isinstance(low, int | float | dt.date):
        raise EngineError(f"source.partitions.column holds {type(low).__name__} values; count "
                          "ranges need an integer, float, date or timestamp column (or give "
                          "source.partitions.ranges)")
    cuts: list[Any]
    if isinstance(low, int) and isinstance(high, int):
        cuts = [low + (high - low) * i // count for i in range(count)]
    elif isinstance(low, float | int | dt.datetime):
        cuts = [low + (high - low) * i / count for i in range(count)]
    else:
        cuts = [low + dt.timedelta(days=(high - low).days * i // count) for i in range(count)]
    return sorted(set(cuts)) + ([high] if high not in cuts else [])


def _interval_cuts(spec: PartitionSpec, low: Any, high: Any) -> list[Any]:
    step = dt.timedelta(seconds=spec.interval_seconds or 0)
    first: dt.date  # a datetime for timestamp columns
    if isinstance(low, dt.datetime):
        epoch = _EPOCH.replace(tzinfo=low.tzinfo)
        first = epoch + ((low - epoch) // step) * step
    elif isinstance(low, dt.date):
        if step % dt.timedelta(days=1):
            raise EngineError(f"source.partitions.interval {spec.interval} is shorter than a day, "
                              "but the column holds dates; use whole days (1d, 1w)")
        days = step.days
        first = _EPOCH.date() + dt.timedelta(days=((low - _EPOCH.date()).days // days) * days)
    else:
        raise EngineError(f"source.partitions.interval needs a date or timestamp column; the "
                          f"column holds {type(low).__name__} values (use count or ranges)")
    cuts = [first]
    while cuts[-1] <= high:
        if len(cuts) > MAX_PARTS + 1:
            raise EngineError(f"source.partitions.interval {spec.interval} makes more than "
                              f"{MAX_PARTS} parts between {low} and {high}; use a longer one")
        cuts.append(cuts[-1] + step)
    return cuts


def file_parts(spec: PartitionSpec, source: Any, state: Mapping[str, Any] | None
               ) -> list[dict[str, Any]]:
    """The files this run reads, spread over ``count`` parts by size; one large CSV or JSON
    Lines file is cut into byte ranges instead."""
    from airflow_provider_dativo.engines.native.byte_ranges import split_offsets

    seen = dict((state or {}).get("files", {}))
    found = [f for f in source.files() if seen.get(f.key) != f.stamp]
    count = int(spec.count or 1)

    def entry(f: Any, span: tuple[int, int] | None = None) -> dict[str, Any]:
        return {"key": f.key, "stamp": f.stamp, "span": None if span is None else list(span)}

    if len(found) == 1 and count > 1 and source.splittable(found[0]):
        spans = split_offsets(found[0].size, count)
        if len(spans) > 1:
            return [{"files": [entry(found[0], span)]} for span in spans]
    shares: list[list[Any]] = [[] for _ in range(max(min(count, len(found)), 1))]
    sizes = [0] * len(shares)
    for f in sorted(found, key=lambda f: (-f.size, f.key)):  # largest first, to the lightest
        smallest = sizes.index(min(sizes))
        shares[smallest].append(f)
        sizes[smallest] += f.size
    return [{"files": [entry(f) for f in sorted(share, key=lambda f: f.key)]} for share in shares]


def _json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value  # datetime is a date


# -- gather ----------------------------------------------------------------------------------
def read_part_manifest(job: JobSpec, run_id: str, part: Mapping[str, Any]) -> dict[str, Any]:
    from airflow_provider_dativo.run_manifest import MANIFEST_FILE, read_manifest
    from airflow_provider_dativo.targets.registry import staging_storage

    folder = part_folder(job, run_id, part)
    storage = staging_storage(job, job.resolved_target_connection(), staging_root(job))
    try:
        return read_manifest(folder, storage).to_dict()
    except (FileNotFoundError, OSError) as exc:
        raise TargetError(
            f"part {part['index']} of {part['of']} of run {run_id!r} has no manifest "
            f"({folder}/{MANIFEST_FILE}: {exc}); its extract did not finish, so nothing of the "
            "run was committed: run that part's extract again, then load") from None


def gather(job: JobSpec, run_id: str, parts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The manifest of the whole run, from every part's: ``runner.load_step`` commits it once."""
    from airflow_provider_dativo.run_manifest import write_manifest
    from airflow_provider_dativo.targets.registry import staging_storage

    if open_job_target(job).is_committed(run_id):
        return {"job": job.dag_id, "run_id": run_id, "already_committed": True, "files": [],
                "rows": 0, "rejected": 0, "state": None}
    if not parts:
        raise TargetError(f"run {run_id!r} of {job.dag_id} has no parts; run its plan again")
    manifests = [read_part_manifest(job, run_id, p) for p in parts]
    bases = {m.get("base_run_id") for m in manifests}
    if len(bases) > 1:
        raise TargetError(
            f"the parts of run {run_id!r} read the state of different commits "
            f"({', '.join(sorted(map(str, bases)))}): another run of {job.dag_id} committed "
            "while they ran; nothing was committed, and the next run picks up from there")
    rule_counts: dict[str, int] = {}
    for m in manifests:
        for rule, n in (m.get("rule_counts") or {}).items():
            rule_counts[rule] = rule_counts.get(rule, 0) + n
    merged: dict[str, Any] = {
        "job": job.dag_id, "run_id": run_id, "table": job.table,
        "files": [f for m in manifests for f in m["files"]],
        **{key: sum(m.get(key, 0) for m in manifests)
           for key in ("rows", "rows_read", "rejected", "skipped", "null_cursor")},
        "rule_counts": rule_counts,
        "quarantine": [q for m in manifests for q in m.get("quarantine", [])],
        "state": merge_states([m.get("state") for m in manifests]),
        "base_run_id": bases.pop(),
        "parts": len(manifests),
        "seconds": max(m.get("seconds", 0) for m in manifests),
    }
    tables = [m["quarantine_table"] for m in manifests if m.get("quarantine_table")]
    if tables:
        files = [f for t in tables for f in t["files"]]
        merged["quarantine_table"] = {"table": tables[0]["table"], "files": files,
                                      "rows": sum(f["rows"] for f in files)}
    storage = staging_storage(job, job.resolved_target_connection(), staging_root(job))
    write_manifest(run_folder(job, run_id), merged, storage)
    return merged


def merge_states(states: Sequence[Mapping[str, Any] | None]) -> dict[str, Any] | None:
    """The run's state from its parts': the newest cursor over all parts, and the union of the
    file versions they read."""
    merged: dict[str, Any] = {}
    for state in states:
        for key, value in (state or {}).items():
            if key == "cursor":
                merged[key] = newer(merged.get(key), value)
            elif key == "source" and isinstance(value, Mapping):
                merged[key] = merge_states([merged.get(key), value])
            elif key == "files" and isinstance(value, Mapping):
                merged[key] = dict(sorted({**merged.get(key, {}), **value}.items()))
            elif value is not None:
                merged[key] = value
    return merged or None


def newer(current: Any, candidate: Any) -> Any:
    """The later of two cursors in JSON form (numbers, or ISO dates and timestamps)."""
    if current is None or candidate is None:
        return candidate if current is None else current
    if isinstance(current, int | float) and isinstance(candidate, int | float):
        return max(current, candidate)
    try:
        a, b = dt.datetime.fromisoformat(str(current)), dt.datetime.fromisoformat(str(candidate))
        if (a.tzinfo is None) != (b.tzinfo is None):
            a, b = a.replace(tzinfo=None), b.replace(tzinfo=None)
        return candidate if b > a else current
    except ValueError:
        return candidate if str(candidate) > str(current) else current


# -- without Airflow -------------------------------------------------------------------------
def _load(job_file: str, root: str, stream: str | None) -> JobSpec:
    from airflow_provider_dativo.config.loader import ConfigRoot

    return ConfigRoot(root).load_job(job_file, stream=stream)


def _plan_part(job_file: str, root: str, stream: str | None) -> list[dict[str, Any]]:
    """The plan, in a worker process."""
    return plan_step(_load(job_file, root, stream))


def _extract_part(job_file: str, root: str, stream: str | None, run_id: str,
                  part: dict[str, Any]) -> dict[str, Any]:
    """One part in a worker process: the job is loaded there (specs do not pickle)."""
    return _with_peak(extract_step(_load(job_file, root, stream), run_id, part=part))


def _commit_parts(job_file: str, root: str, stream: str | None, run_id: str,
                  parts: list[dict[str, Any]]) -> tuple[dict[str, Any], CommitResult]:
    job = _load(job_file, root, stream)
    manifest = gather(job, run_id, parts)
    return manifest, load_step(job, manifest)


def _with_peak(manifest: dict[str, Any]) -> dict[str, Any]:
    """The part's manifest and the peak memory of the process that extracted it (MiB)."""
    import resource

    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {**manifest, "peak_rss_mib": round(peak_kib / 1024, 1)}


def run_parts(job: JobSpec, run_id: str, *, parallel: int = 1,
              progress: ProgressFn | None = None,
              on_part: Callable[[dict[str, Any]], None] | None = None
              ) -> tuple[dict[str, Any], CommitResult]:
    """Plan, extract every part (``parallel`` processes at once; in this process when 1), then
    commit them all at once. A part that fails stops the run before anything is committed."""
    if parallel <= 1:
        parts = plan_step(job)
        for part in parts:
            summary = _with_peak(extract_step(job, run_id, part=part, progress=progress))
            if on_part is not None:
                on_part(summary)
        manifest = gather(job, run_id, parts)
        return manifest, load_step(job, manifest)
    # Plan, parts and commit all run in processes forked from a fork server: a clean
    # single-threaded process (this one may hold threads of its own, which a plain fork would
    # copy) that imports what they need once. This process then imports none of it: planning
    # here meant importing pyiceberg twice at once, here and in the fork server, and on few
    # cores the plan then took several times as long while every part waited for it.
    from multiprocessing import forkserver

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(WORKER_PRELOAD)
    forkserver.ensure_running()
    where = (job.file, str(job.root), job.stream)
    with ProcessPoolExecutor(max_workers=parallel, mp_context=context) as pool:
        parts = pool.submit(_plan_part, *where).result()
        futures: list[Future[dict[str, Any]]] = [
            pool.submit(_extract_part, *where, run_id, part) for part in parts]
        done, pending = wait(futures, return_when=FIRST_EXCEPTION)
        failed = [(i, f.exception()) for i, f in enumerate(futures)
                  if f in done and f.exception() is not None]
        if failed:
            for f in pending:
                f.cancel()
            index, error = failed[0]
            raise EngineError(f"part {index} of {len(parts)} of run {run_id!r} failed, so "
                              f"nothing of the run was committed: {error}") from error
        if on_part is not None:
            for f in futures:
                on_part(f.result())
        return pool.submit(_commit_parts, *where, run_id, parts).result()
