"""The one interface every target implements."""

from __future__ import annotations

import enum
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO, Literal, Protocol, TypeAlias

from airflow_provider_dativo.errors import TargetError

if TYPE_CHECKING:
    import datetime

    import pyarrow as pa
    from pyiceberg.io import FileIO


@dataclass(frozen=True)
class StagedFile:
    """A Parquet data file written by extract, ready for the target to commit."""

    path: str  # URI or absolute path, as the target's file system sees it
    rows: int
    bytes: int
    partition: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CommitResult:
    table: str
    rows: int
    committed: bool  # False when the run id was already committed (an idempotent no-op)
    snapshot_id: int | None = None
    quality: tuple[Mapping[str, Any], ...] = ()  # the run's quality rule results (quality_gate)


class _Unknown(enum.Enum):
    BASE = "unknown"


# The base of a manifest written before extract recorded one: the commit is not checked against
# the writer's newest commit, as before.
UNKNOWN_BASE = _Unknown.BASE
Base: TypeAlias = str | Literal[_Unknown.BASE] | None

# How many of a writer's committed run ids a target remembers beside its data, so a retried
# load is recognized even once the table's own history (Iceberg snapshots) has been expired.
# Older run ids are still refused by the base check, as long as the manifest records a base.
RUN_ID_RECORD = 1000


@dataclass(frozen=True)
class CommitHead:
    """A writer's newest commit to a target, as extract reads it and load checks it."""

    run_id: str | None  # None before the writer's first commit
    state: dict[str, Any] | None  # the state of its newest commit that carried one
    # the quarantine-table entry the newest commit recorded (see runner.load_step)
    quarantine: dict[str, Any] | None = None


def writer_refused(writer: str | None, table: str, run_id: str, base: str | None,
                   head: str | None) -> TargetError:
    """The error a commit raises when another run of the same writer committed after ``base``."""
    who = f"job {writer}" if writer else "this job"
    since = (f"after run {base!r}, the commit this run's extract read its state from" if base
             else "after this run's extract found no earlier commit")
    return TargetError(
        f"another run of {who} committed run {head!r} to {table} {since}; nothing of run "
        f"{run_id!r} was committed (its rows would land twice); the next run picks up from there"
    )


class StagedWriter(Protocol):
    """What extract stages a run's rows with: a target's own writer, laid out for that target
    (Parquet data files for Iceberg and Parquet targets, documents for Markdown-KV)."""

    def write(self, batch: pa.RecordBatch) -> None:
        """Stage ``batch``; a batch that does not fit the target is refused with a TargetError."""

    def close(self) -> list[StagedFile]:
        """Finish every file and return all files staged; calling it again is harmless."""

    def abort(self) -> None:
        """Stop without finishing files; what was written stays uncommitted and unused."""


@dataclass(frozen=True)
class Description:
    """What ``dativo show`` prints of a target: labelled facts, and its committed rows."""

    facts: tuple[tuple[str, str], ...]
    data: Any = None  # a pyarrow Table of the committed rows, or None when not readable


class Target(Protocol):
    @property
    def table_identifier(self) -> str:
        """The table as messages, manifests and the quarantine entry name it."""

    def describe(self) -> Description:
        """Where the table is and what its history holds, for ``dativo show``."""

    def prepare(self) -> None:
        """Create the namespace and table if they are missing."""

    def check(self) -> str:
        """Reach the target without writing data (a namespace may be created, never a table);
        what was reached, or a ``TargetError`` saying what failed."""

    def data_location(self, run_id: str) -> str:
        """Where extract writes this run's data files (a run-scoped folder)."""

    def open_output(self, path: str) -> BinaryIO:
        """A writable binary stream for a new file under ``data_location``."""

    def staged_writer(self, run_id: str, **options: Any) -> StagedWriter:
        """The writer extract stages this run's data files with, laid out for this target."""

    def read_state(self) -> dict[str, Any] | None:
        """This writer's state, committed with its last successful load, or None."""

    def file_io(self) -> FileIO:
        """What the run's staged files are read back with (the quality gate, lineage facets),
        on local disk or object storage alike."""

    def committed_quality(self) -> list[dict[str, Any]]:
        """The quality rule results this writer's newest commit recorded (``dativo show``)."""

    def committed_head(self) -> CommitHead:
        """This writer's newest commit: its run id, state and quarantine entry, read at once."""

    def is_committed(self, run_id: str) -> bool: ...

    def commit(
        self,
        files: Sequence[StagedFile],
        state: Mapping[str, Any] | None,
        run_id: str,
        *,
        base: Base = UNKNOWN_BASE,
        quarantine: Mapping[str, Any] | None = None,
    ) -> CommitResult:
        """Commit staged files and state atomically; a repeated run id is a no-op.

        ``base`` is the run id of the writer's commit the state was built on (``committed_head``
        at extract); when another commit of the writer came since, nothing is committed and a
        ``TargetError`` says so. ``quarantine`` is recorded with the commit for the quarantine
        table to commit after it.
        """

    def remove_orphans(self, older_than: datetime.timedelta) -> list[str]:
        """Delete data files no commit references, once older than ``older_than``."""


_UNSAFE_RUN_ID_CHARS = re.compile(r"[^A-Za-z0-9._-]")


def safe_run_id(run_id: str) -> str:
    """A path segment for ``run_id``: readable, and distinct for distinct run ids.

    Replacing characters alone could map two run ids onto one folder, so a short hash of the raw
    id is appended.
    """
    if not run_id:
        raise TargetError("run id must not be empty")
    readable = _UNSAFE_RUN_ID_CHARS.sub("_", run_id)[:96]
    digest = hashlib.sha256(run_id.encode("utf-8")).hexdigest()[:10]
    return f"{readable}-{digest}"
