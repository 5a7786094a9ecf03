"""The one interface every source engine implements."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, Union

from airflow_provider_dativo.errors import EngineError

if TYPE_CHECKING:
    import pyarrow as pa

    from airflow_provider_dativo.contracts.model import Contract, FieldSpec


def contract_reads(contract: Contract) -> tuple[str, ...]:
    """The stream properties a contract reads: its names and the physicalNames they come as."""
    return tuple(dict.fromkeys(n for f in contract.fields for n in (f.name, f.source_name)))


def nested_columns(contract: Contract) -> tuple[FieldSpec, ...]:
    """The contract's struct and list columns, which protocol engines type as they read."""
    return tuple(f for f in contract.fields if f.type in ("struct", "list"))


@dataclass(frozen=True)
class CheckStatus:
    ok: bool
    message: str = ""


@dataclass(frozen=True)
class StreamInfo:
    name: str
    columns: Mapping[str, str] = field(default_factory=dict)  # column -> type as the engine sees it
    cursor_fields: tuple[str, ...] = ()
    primary_key: tuple[str, ...] = ()
    supports_incremental: bool = False


@dataclass(frozen=True)
class StateUpdate:
    """A checkpoint from the source; only the last one of a run is committed, with the data."""

    state: Mapping[str, Any]


@dataclass(frozen=True)
class RejectedRecords:
    """Input that could not be parsed into rows, kept verbatim so nothing is lost."""

    raw: tuple[str, ...]
    reasons: tuple[str, ...]  # each names the file or stream and the line or message


@dataclass(frozen=True)
class RecordsDone:
    """The source has sent its last row of the read, though its process may still be ending.

    The runner finishes its data files meanwhile rather than after the process exits.
    Checkpoints and rejects may still follow, and a failure after this (a non-zero exit)
    still fails the run with nothing committed.
    """


# pyarrow named by string: a connector starts before the Arrow side of a run is imported
ReadItem: TypeAlias = Union["pa.RecordBatch", StateUpdate, RejectedRecords, RecordsDone]


# Rows per batch unless a job sets source.batch_size. Connector protocols hand over rows as a
# process writes them, so the last batch is built after the process ends: smaller batches
# keep that tail short, and the bulk JSON parser gains nothing from larger ones.
DEFAULT_BATCH_ROWS = 65536
PROTOCOL_BATCH_ROWS = 16384


class RunStopped(EngineError):
    """The run ended before the source needed what it was waiting for."""


class PendingState:
    """The committed state of a read, known once the target has been opened.

    A source that can start before it knows the state (a connector process spends seconds
    on its own start-up) takes this instead of the state itself; ``wait`` blocks until the
    runner calls ``set``, or raises ``RunStopped`` after ``cancel``.
    """

    def __init__(self) -> None:
        self._known = threading.Event()
        self._state: Mapping[str, Any] | None = None
        self._cancelled = False

    def set(self, state: Mapping[str, Any] | None) -> None:
        self._state = state
        self._known.set()

    def cancel(self) -> None:
        if not self._known.is_set():
            self._cancelled = True
            self._known.set()

    def wait(self) -> Mapping[str, Any] | None:
        self._known.wait()
        if self._cancelled:
            raise RunStopped("the run stopped before the source's state was known")
        return self._state


class SourceEngine(Protocol):
    # true: read() takes a PendingState and starts before the state is known (see runner)
    starts_early: bool

    def check(self) -> CheckStatus: ...

    def discover(self) -> list[StreamInfo]: ...

    def read(self, stream: str, state: Mapping[str, Any] | None) -> Iterator[ReadItem]:
        """Record batches of ``stream``, interleaved with state checkpoints and rejects.

        A source whose ``starts_early`` is true also takes a ``PendingState``."""

    def restrict(self, part: Mapping[str, Any]) -> None:
        """Read one part of the stream only (a partitioned run; ``partitions.plan_step``)."""


class WholeStreamSource:
    """What a source that cannot read one part of its stream shares: ``restrict`` refuses
    (validation refuses source.partitions for it first, so reaching this is a job changed
    since), and it waits for its state before it starts."""

    starts_early = False

    def restrict(self, part: Mapping[str, Any]) -> None:
        raise EngineError(f"the {type(self).__name__} source cannot read one part of a stream; "
                          "remove source.partitions from the job")
