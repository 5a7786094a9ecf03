"""Commit markers for targets made of plain files (Parquet, Markdown-KV).

A run's data files are written first; its marker — the list of files, row counts, the new state
and the run id — is written last, as one object. A run without a marker never happened for
readers and for the next extract, whatever files it left behind, and a repeated run id finds
its marker and does nothing.

Markers are kept per writer (the job, and the stream of a multi-stream job) under
``_dativo/commits/<writer>/``, so jobs sharing a folder each read back their own state; markers
of earlier versions, directly in ``_dativo/commits/``, name no writer and count as everyone's.
A marker records the run id of the writer's newest marker its state was built on (``base``):
a commit whose base is no longer the writer's newest is refused. On local disk that check and
the write hold an exclusive lock; on object storage two racing commits of one job can both pass
the check in the moment between it and the write.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, BinaryIO

from airflow_provider_dativo.contracts.quality import results_in_state
from airflow_provider_dativo.errors import TargetError
from airflow_provider_dativo.targets.base import (
    UNKNOWN_BASE,
    Base,
    CommitHead,
    CommitResult,
    Description,
    StagedFile,
    safe_run_id,
    writer_refused,
)
from airflow_provider_dativo.targets.file_lock import FileLock
from airflow_provider_dativo.targets.storage import Storage

if TYPE_CHECKING:
    from pyiceberg.io import FileIO

log = logging.getLogger(__name__)

COMMITS = "_dativo/commits"
LOCKS = "_dativo/locks"
TEMP = "_dativo/tmp"
MARKER_VERSION = 1


class CommitLog:
    """The markers of one table folder, under ``<root>/_dativo/commits/``."""

    def __init__(self, storage: Storage, root: str, table: str,
                 writer: str | None = None) -> None:
        self.storage = storage
        self.root = root.rstrip("/")
        self.table = table
        self.writer = writer

    @property
    def folder(self) -> str:
        return f"{self.root}/{COMMITS}"

    def marker_path(self, run_id: str) -> str:
        if self.writer is None:
            return self._legacy_path(run_id)
        return f"{self.folder}/{safe_run_id(self.writer)}/{safe_run_id(run_id)}.json"

    def _legacy_path(self, run_id: str) -> str:
        return f"{self.folder}/{safe_run_id(run_id)}.json"

    def marker(self, run_id: str) -> dict[str, Any] | None:
        """This writer's marker of ``run_id`` (or one of an earlier version, naming no writer)."""
        for path in dict.fromkeys((self.marker_path(run_id), self._legacy_path(run_id))):
            if not self.storage.exists(path):
                continue
            marker = self._read(path)
            if marker.get("run_id") == run_id and self._mine(marker):
                return marker
        return None

    def _mine(self, marker: Mapping[str, Any]) -> bool:
        return marker.get("writer") in (None, self.writer)

    def markers(self) -> list[dict[str, Any]]:
        """Every commit of every writer, oldest first."""
        found = [
            self._read(f.path)
            for f in self.storage.list_files(self.folder)
            if f.path.endswith(".json")
        ]
        return sorted(found, key=lambda m: (m.get("committed_at", ""), m.get("run_id", "")))

    def head(self) -> CommitHead:
        """This writer's newest marker, and the state of its newest marker that has one."""
        lineage = self.lineage()
        if not lineage:
            return CommitHead(None, None)
        newest = lineage[0]
        state = next((dict(m["state"]) for m in lineage if m.get("state") is not None), None)
        return CommitHead(str(newest["run_id"]), state, newest.get("quarantine"))

    def lineage(self) -> list[dict[str, Any]]:
        """This writer's markers, newest first, by the bases they name rather than the clock.

        Every commit records the run it was built on, so the newest marker is the one no other
        marker names as its base, and the ones before it follow from base to base. Commit times
        come from the committing machine's clock: a clock that stepped back, or a worker whose
        clock runs behind another's, would otherwise make an older marker the newest, and the
        next extract would read again what came after it. Markers naming no base (written by
        earlier versions, or two commits of one base that raced on object storage) are ordered
        by their commit times."""
        mine = [m for m in self.markers() if self._mine(m)]  # oldest first by the clock
        by_run = {str(m.get("run_id")): m for m in mine}
        named = {str(m["base"]) for m in mine if m.get("base") is not None}
        tips = [m for m in mine if str(m.get("run_id")) not in named]
        marker: dict[str, Any] | None = tips[-1] if tips else (mine[-1] if mine else None)
        ordered: list[dict[str, Any]] = []
        seen: set[str] = set()
        while marker is not None and str(marker.get("run_id")) not in seen:
            ordered.append(marker)
            seen.add(str(marker.get("run_id")))
            base = marker.get("base")
            marker = by_run.get(str(base)) if base is not None else None
        return ordered + [m for m in reversed(mine) if str(m.get("run_id")) not in seen]

    def latest_state(self) -> dict[str, Any] | None:
        return self.head().state

    def committed_paths(self) -> list[str]:
        return [self.absolute(f["path"]) for m in self.markers() for f in m.get("files", [])]

    def absolute(self, relative: str) -> str:
        return f"{self.root}/{relative}"

    def commit(
        self,
        files: Sequence[StagedFile],
        state: Mapping[str, Any] | None,
        run_id: str,
        extra: Mapping[str, Any] | None = None,
        *,
        base: Base = UNKNOWN_BASE,
        quarantine: Mapping[str, Any] | None = None,
    ) -> CommitResult:
        """Write the marker for ``files`` after checking they are all there; idempotent."""
        if not run_id:
            raise TargetError("run id must not be empty")
        with self._lock():
            previous = self.marker(run_id)
            if previous is not None:
                log.info("run %s is already committed to %s", run_id, self.table)
                return CommitResult(self.table, int(previous.get("rows", 0)), committed=False)
            if base is not UNKNOWN_BASE:
                head = self.head().run_id
                if head != base:
                    raise writer_refused(self.writer, self.table, run_id, base, head)
            marker = self._marker(files, state, run_id, extra, base, quarantine)
            self._write_whole(self.marker_path(run_id), marker)
        return CommitResult(self.table, sum(f.rows for f in files), committed=True)

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """Holds off other commits of this writer on this host's disk; object stores have no
        such lock (see the module's docstring)."""
        if "://" in self.root and not self.root.startswith("file://"):
            yield
            return
        name = safe_run_id(self.writer or "default")
        path = f"{self.root.removeprefix('file://')}/{LOCKS}/{name}.lock"
        with FileLock(path).hold(wait=True):
            yield

    def _marker(self, files: Sequence[StagedFile], state: Mapping[str, Any] | None, run_id: str,
                extra: Mapping[str, Any] | None, base: Base,
                quarantine: Mapping[str, Any] | None) -> bytes:
        entries = []
        for f in files:
            if not f.path.startswith(f"{self.root}/"):
                raise TargetError(
                    f"staged file {f.path} is outside table folder {self.root}; "
                    "re-run extract for this target"
                )
            if not self.storage.exists(f.path):
                raise TargetError(
                    f"a staged file of run {run_id!r} is missing, so nothing was committed to "
                    f"{self.table}: {f.path}; re-run extract, then load"
                )
            entry = asdict(f)
            entry["path"] = f.path[len(self.root) + 1:]
            entries.append(entry)
        marker: dict[str, Any] = {
            "version": MARKER_VERSION,
            "run_id": run_id,
            "table": self.table,
            "committed_at": dt.datetime.now(dt.UTC).isoformat(),
            "rows": sum(f.rows for f in files),
            "files": entries,
            "state": dict(state) if state is not None else None,
            **dict(extra or {}),
        }
        if self.writer is not None:
            marker["writer"] = self.writer
        if base is not UNKNOWN_BASE:
            marker["base"] = base
        if quarantine is not None:
            marker["quarantine"] = dict(quarantine)
        try:
            return json.dumps(marker, sort_keys=True, allow_nan=False, default=str).encode()
        except ValueError as exc:
            raise TargetError(f"the state of run {run_id!r} is not plain JSON: {exc}") from exc

    def _write_whole(self, path: str, data: bytes) -> None:
        """Readers see the marker complete or not at all."""
        # written beside the commits folder, not in it: a file that vanishes while another
        # writer lists the markers fails that listing
        self.storage.write_whole(path, data, temp_dir=f"{self.root.removeprefix('file://')}/{TEMP}")

    def _read(self, path: str) -> dict[str, Any]:
        try:
            marker = json.loads(self.storage.read_bytes(path))
        except (OSError, ValueError) as exc:
            raise TargetError(
                f"commit marker {path} of {self.table} cannot be read: {exc}; restore it or "
                "remove it (its run then counts as never committed)"
            ) from exc
        if not isinstance(marker, dict):
            raise TargetError(f"commit marker {path} of {self.table} is not a JSON object")
        return marker

    def remove_orphans(self, older_than: dt.timedelta, keep: Sequence[str] = ()) -> list[str]:
        """Delete data files no marker lists, once older than ``older_than``; returns them."""
        referenced = set(self.committed_paths()) | set(keep)
        cutoff = dt.datetime.now(dt.UTC) - older_than
        removed = []
        for f in self.storage.list_files(self.root):
            if f.path.startswith(f"{self.root}/_dativo/") or f.path in referenced:
                continue
            if f.modified is not None and f.modified > cutoff:
                continue  # may belong to a run still extracting
            self.storage.delete(f.path)
            removed.append(f.path)
        return removed


class MarkedFilesTarget:
    """The part of ``targets.base.Target`` every file target shares: data files land under
    ``root`` and become visible through the run's commit marker, written last."""

    format = "files"

    def __init__(self, storage: Storage, root: str, table: str,
                 writer: str | None = None) -> None:
        self.storage = storage
        self.log = CommitLog(storage, root, table, writer)
        self._table = table

    @property
    def table_identifier(self) -> str:
        return self._table

    @property
    def root(self) -> str:
        return self.log.root

    def describe(self) -> Description:
        """Commit markers list what each run committed."""
        return Description((("location", self.root),
                            ("committed files", str(len(self.committed_paths())))))

    def prepare(self) -> None:
        """Nothing to create up front: folders appear with the first file."""

    def check(self) -> str:
        """The table folder's commit log can be read (an absent folder is an empty table)."""
        try:
            commits = len(self.log.markers())
        except Exception as exc:  # any storage error: the check reports it, worded
            raise TargetError(f"cannot read {self.log.folder} for {self.table_identifier}: "
                              f"{type(exc).__name__}: {exc}; check the target's path and "
                              "storage settings") from exc
        return f"{self.root} readable; {commits} commit(s) so far"

    def data_location(self, run_id: str) -> str:
        return self.root

    def open_output(self, path: str) -> BinaryIO:
        try:
            return self.storage.open_output(path)
        except Exception as exc:
            raise TargetError(f"cannot create {path} for {self.table_identifier}: {exc}") from exc

    def read_state(self) -> dict[str, Any] | None:
        return self.log.latest_state()

    def file_io(self) -> FileIO:
        return self.storage.io

    def committed_quality(self) -> list[dict[str, Any]]:
        return results_in_state(self.read_state())

    def committed_head(self) -> CommitHead:
        return self.log.head()

    def is_committed(self, run_id: str) -> bool:
        return self.log.marker(run_id) is not None

    def commit_details(self) -> dict[str, Any]:
        """What the marker records about the layout, besides files, rows and state."""
        return {"format": self.format}

    def commit(
        self,
        files: Sequence[StagedFile],
        state: Mapping[str, Any] | None,
        run_id: str,
        *,
        base: Base = UNKNOWN_BASE,
        quarantine: Mapping[str, Any] | None = None,
    ) -> CommitResult:
        return self.log.commit(files, state, run_id, extra=self.commit_details(), base=base,
                               quarantine=quarantine)

    def remove_orphans(self, older_than: dt.timedelta) -> list[str]:
        return self.log.remove_orphans(older_than)

    def committed_paths(self) -> list[str]:
        return self.log.committed_paths()
