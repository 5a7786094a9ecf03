"""The one interface every source engine implements."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import pyarrow as pa


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


ReadItem = pa.RecordBatch | StateUpdate | RejectedRecords


class SourceEngine(Protocol):
    def check(self) -> CheckStatus: ...

    def discover(self) -> list[StreamInfo]: ...

    def read(self, stream: str, state: Mapping[str, Any] | None) -> Iterator[ReadItem]:
        """Record batches of ``stream``, interleaved with state checkpoints and rejects."""
