"""The one interface every target implements."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

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
