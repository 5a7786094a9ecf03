"""The run manifest: what extract hands to load (XCom, and ``manifest.json`` in the run's folder).

One typed, frozen value with ``to_dict``/``from_dict``. Its dict form is the JSON that crosses
between tasks, so its keys are those earlier versions wrote, in the same order: a manifest read
back from an in-flight run, or written by an older version, gives the same dict again
(``from_dict(d).to_dict() == d``), keys it does not know included.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_provider_dativo.config import paths
from airflow_provider_dativo.targets.base import UNKNOWN_BASE, Base, StagedFile, safe_run_id
from airflow_provider_dativo.targets.binding import staging_root
from airflow_provider_dativo.targets.storage import Storage

if TYPE_CHECKING:
    from airflow_provider_dativo.config.specs import JobSpec

MANIFEST_FILE = "manifest.json"

# The keys of an extract's manifest, in the order it writes them; ``part`` and
# ``quarantine_table`` follow when the run has them.
EXTRACT_KEYS = ("job", "run_id", "table", "files", "rows", "rows_read", "rejected", "skipped",
                "null_cursor", "unsent_columns", "rule_counts", "quarantine", "state",
                "base_run_id", "extract_seconds", "seconds")
# The manifest of a run found already committed: load has nothing to do for it.
COMMITTED_KEYS = ("job", "run_id", "already_committed", "files", "rows", "rejected", "state")
# A partitioned run's manifest, gathered from its parts' (partitions.gather).
GATHERED_KEYS = ("job", "run_id", "table", "files", "rows", "rows_read", "rejected", "skipped",
                 "null_cursor", "rule_counts", "quarantine", "state", "base_run_id", "parts",
                 "seconds")


@dataclass(frozen=True)
class RunManifest:
    job: str
    run_id: str
    table: str | None = None
    files: tuple[Mapping[str, Any], ...] = ()  # StagedFile as JSON: path, rows, bytes, partition
    rows: int = 0  # valid rows staged
    rows_read: int = 0
    rejected: int = 0
    skipped: int = 0  # at or below the committed cursor
    null_cursor: int = 0
    unsent_columns: tuple[str, ...] = ()
    rule_counts: Mapping[str, int] = field(default_factory=dict)
    quarantine: tuple[str, ...] = ()  # the run's quarantine files in staging
    state: Mapping[str, Any] | None = None
    base_run_id: str | None = None  # the commit extract read the state from (None: the first)
    extract_seconds: float | None = None
    seconds: float | None = None  # the old name of extract_seconds, for in-flight readers
    part: Mapping[str, Any] | None = None  # {index, of} for one part of a partitioned run
    quarantine_table: Mapping[str, Any] | None = None  # {table, files, rows}
    already_committed: bool = False
    parts: int | None = None  # how many parts a gathered manifest combines
    # keys this version does not know (peak_rss_mib of a part, say), kept as they came
    extra: Mapping[str, Any] = field(default_factory=dict)
    # the keys of the dict form, in order: what was read, or the shape this run wrote
    keys: tuple[str, ...] = field(default=EXTRACT_KEYS, compare=False)

    @classmethod
    def committed_already(cls, job: str, run_id: str) -> RunManifest:
        return cls(job, run_id, already_committed=True, keys=COMMITTED_KEYS)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunManifest:
        known = {f.name for f in dataclasses.fields(cls)} - {"extra", "keys"}
        values: dict[str, Any] = {k: v for k, v in data.items() if k in known}
        for name in ("files", "unsent_columns", "quarantine"):
            if values.get(name) is not None:
                values[name] = tuple(values[name])
        extra = {k: v for k, v in data.items() if k not in known}
        return cls(**values, extra=extra, keys=tuple(data))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in self.keys:
            if key in self.extra:
                out[key] = self.extra[key]
                continue
            value = getattr(self, key)
            if isinstance(value, tuple):
                value = [dict(v) if isinstance(v, Mapping) else v for v in value]
            elif isinstance(value, Mapping):
                value = dict(value)
            out[key] = value
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=str)

    @property
    def base(self) -> Base:
        """The commit the state was read from; unknown for a manifest written before extract
        recorded it (then the commit is not checked against it, as then)."""
        return self.base_run_id if "base_run_id" in self.keys else UNKNOWN_BASE

    def staged_files(self) -> list[StagedFile]:
        return staged_files(self.files)


def staged_files(entries: Sequence[Mapping[str, Any]]) -> list[StagedFile]:
    return [StagedFile(path=f["path"], rows=f["rows"], bytes=f["bytes"],
                       partition=f.get("partition", {})) for f in entries]


def as_manifest(manifest: RunManifest | Mapping[str, Any]) -> RunManifest:
    """A manifest as the runner reads it, from its type or its dict form (XCom)."""
    return manifest if isinstance(manifest, RunManifest) else RunManifest.from_dict(manifest)


# -- the run's folder in staging ---------------------------------------------------------------
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


def write_manifest(folder: str, manifest: RunManifest | Mapping[str, Any],
                   storage: Storage | None) -> str:
    """Keep the manifest in the run's folder (for audit, and for a load that finds none in
    XCom); written whole, so a reader never sees half of it. Returns its path."""
    path = f"{folder}/{MANIFEST_FILE}"
    (storage or Storage()).write_whole(path, as_manifest(manifest).to_json().encode())
    return path


def read_manifest(folder: str, storage: Storage | None) -> RunManifest:
    """The manifest in ``folder``; ``FileNotFoundError`` (or ``OSError``) when there is none."""
    path = f"{folder}/{MANIFEST_FILE}"
    if storage is not None:
        text = storage.read_bytes(path).decode()
    else:
        text = Path(path.removeprefix("file://")).read_text()
    return RunManifest.from_dict(json.loads(text))


def dated_folder(job: JobSpec, logical_date: str) -> str:
    """Where the Airflow extract of a logical date also keeps its manifest, for a load of the
    same date that finds none in XCom (``airflow tasks test`` runs each task in a DAG run of
    its own, removed with its XCom when the task ends)."""
    return f"{run_folder(job, 'by-logical-date')}/{safe_run_id(logical_date)}"


def _staging_storage(job: JobSpec) -> Storage | None:
    from airflow_provider_dativo.targets.registry import staging_storage

    root = staging_root(job)
    if not paths.is_local(root):
        return staging_storage(job, job.resolved_target_connection(), root)
    return None


def write_dated(job: JobSpec, logical_date: str, manifest: RunManifest) -> str:
    return write_manifest(dated_folder(job, logical_date), manifest, _staging_storage(job))


def find(job: JobSpec, run_id: str, logical_date: str | None) -> RunManifest | None:
    """The manifest extract kept for run ``run_id``, else the one of the logical date's latest
    extract; None when extract kept neither."""
    storage = _staging_storage(job)
    folders = [run_folder(job, run_id)]
    if logical_date is not None:
        folders.append(dated_folder(job, logical_date))
    for folder in folders:
        try:
            return read_manifest(folder, storage)
        except (FileNotFoundError, OSError):
            continue
    return None
