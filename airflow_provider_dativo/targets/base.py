"""The one interface every target implements."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

from airflow_provider_dativo.errors import TargetError

if TYPE_CHECKING:
    import datetime

    from airflow_provider_dativo.targets.staging import StagedParquetWriter


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


class Target(Protocol):
    def prepare(self) -> None:
        """Create the namespace and table if they are missing."""

    def check(self) -> str:
        """Reach the target without writing data (a namespace may be created, never a table);
        what was reached, or a ``TargetError`` saying what failed."""

    def data_location(self, run_id: str) -> str:
        """Where extract writes this run's data files (a run-scoped folder)."""

    def open_output(self, path: str) -> BinaryIO:
        """A writable binary stream for a new file under ``data_location``."""

    def staged_writer(self, run_id: str, **options: Any) -> StagedParquetWriter:
        """The writer extract stages this run's data files with, laid out for this target."""

    def read_state(self) -> dict[str, Any] | None:
        """The state committed with the last successful load, or None."""

    def is_committed(self, run_id: str) -> bool: ...

    def commit(
        self, files: Sequence[StagedFile], state: Mapping[str, Any] | None, run_id: str
    ) -> CommitResult:
        """Commit staged files and state atomically; a repeated run id is a no-op."""

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
