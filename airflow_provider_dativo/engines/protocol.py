"""What the Airbyte and Singer engines share: running one connector command and reading its
stdout as newline-delimited JSON messages, with logs masked and failures named; and
``ProtocolSource``, the base of both sources (its settings, secrets, catalog cache and stream
lookup)."""

from __future__ import annotations

import itertools
import logging
from collections import deque
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, overload

import orjson

from airflow_provider_dativo import masking
from airflow_provider_dativo.engines.base import (
    PROTOCOL_BATCH_ROWS,
    PendingState,
    WholeStreamSource,
)
from airflow_provider_dativo.engines.config_spec import ConfigKey, config_keys
from airflow_provider_dativo.engines.connector_cache import ConnectorCache
from airflow_provider_dativo.engines.launchers import Arg, FileArg, LateFile, Launcher, Masker
from airflow_provider_dativo.engines.launchers.base import block_lines
from airflow_provider_dativo.engines.nesting import DEEP_REASON, too_deep
from airflow_provider_dativo.errors import EngineError

if TYPE_CHECKING:
    from airflow_provider_dativo.config.specs import ConnectorRecipe
    from airflow_provider_dativo.contracts.model import FieldSpec

log = logging.getLogger("airflow_provider_dativo.connector")

LOG_TAIL_LINES = 10

T = TypeVar("T")
C = TypeVar("C")


@contextmanager
def started(messages: Generator[T, None, None]) -> Iterator[Iterator[T]]:
    """``messages`` with its first item already read, which starts the connector process:
    what the caller sets up next (the Arrow side of a read, imported on first use) overlaps
    the connector's own start-up instead of delaying it. Leaving the block closes
    ``messages``, which stops the process even while an error's traceback is kept."""
    with closing(messages):
        for first in messages:
            yield itertools.chain((first,), messages)
            return
        yield iter(())


def state_input(state: Mapping[str, Any] | PendingState | None,
                argument: Callable[[Mapping[str, Any] | None], Any], empty: Any,
                ) -> tuple[list[Arg], dict[str, bytes | LateFile]]:
    """The ``--state`` argument and file a read starts with, from the committed ``state``.

    ``argument`` turns that state into what the connector reads (None: nothing to pass). A
    state still pending becomes a late file, as the connector starts before it is known;
    it then holds ``empty`` (the protocol's "no state") when nothing was committed.
    """
    if isinstance(state, PendingState):
        pending = state
        content: bytes | LateFile = LateFile(
            lambda: orjson.dumps(argument(pending.wait()) or empty))
    else:
        value = argument(state)
        if value is None:
            return [], {}
        content = orjson.dumps(value)
    return ["--state", FileArg("state.json")], {"state.json": content}


@dataclass(frozen=True)
class RecordLines:
    """Consecutive stdout lines that all start as a record of the stream the caller reads,
    unparsed, the first of them line ``first``."""

    first: int
    lines: Sequence[bytes]


@dataclass(frozen=True)
class BadLine:
    """A stdout line that should have been a message and is not; kept verbatim."""

    line: int
    raw: str
    reason: str


class Session:
    """One connector command. Iterate ``messages()``; failures raise when the process ends."""

    def __init__(self, launcher: Launcher, mask: Masker, connector: str, command: str) -> None:
        self.launcher = launcher
        self.mask = mask
        self.connector = connector
        self.command = command
        self.error: str | None = None  # the connector's own failure message, when it sent one
        self.logs: deque[str] = deque(maxlen=LOG_TAIL_LINES)

    def log(self, level: int, text: str) -> None:
        text = self.mask(text)
        self.logs.append(text)
        log.log(level, "[%s] %s", self.connector, text)

    def fail(self, message: str) -> None:
        """Remember the connector's own error; the first one is the cause, later ones follow."""
        self.error = self.mask(message) if self.error is None else self.error

    @overload
    def messages(self, args: Sequence[Arg], files: Mapping[str, bytes | LateFile],
                 passthrough: None = None,
                 ) -> Generator[dict[str, Any] | BadLine, None, None]: ...

    @overload
    def messages(self, args: Sequence[Arg], files: Mapping[str, bytes | LateFile],
                 passthrough: bytes,
                 ) -> Generator[dict[str, Any] | BadLine | RecordLines, None, None]: ...

    def messages(self, args: Sequence[Arg], files: Mapping[str, bytes | LateFile],
                 passthrough: bytes | None = None,
                 ) -> Generator[dict[str, Any] | BadLine | RecordLines, None, None]:
        """Each stdout message parsed, or a ``BadLine``; lines that start with
        ``passthrough`` come unparsed as ``RecordLines``, many at once, for the caller to
        parse together."""
        with self.launcher.start(args, files, self.mask) as process:
            number = 0  # stdout lines before the block
            for block in process.blocks():
                lines = block_lines(block)
                yield from self._block(number, lines, passthrough)
                number += len(lines)
            code = process.wait()
            stderr = process.stderr_tail()
        if self.error is not None or code != 0:
            raise EngineError(self._failure(code, stderr))

    def _block(self, number: int, lines: Sequence[bytes], passthrough: bytes | None,
               ) -> Iterator[dict[str, Any] | BadLine | RecordLines]:
        """The messages of stdout ``lines`` that follow line ``number``, each run of record
        lines (those starting with ``passthrough``) handed on whole, unparsed."""
        run = -1  # where the run of record lines being gathered began (-1: none)
        for index, raw in enumerate(lines):
            if passthrough is not None and raw.startswith(passthrough):
                if run < 0:
                    run = index
                continue
            if run >= 0:
                yield RecordLines(number + run + 1, lines[run:index])
                run = -1
            message = self._message(number + index + 1, raw)
            if message is not None:
                yield message
        if run >= 0:
            yield RecordLines(number + run + 1, lines[run:] if run else lines)

    def _message(self, number: int, raw: bytes) -> dict[str, Any] | BadLine | None:
        """Stdout line ``number`` parsed; None for a blank line or a stray line of text."""
        text = raw.strip()
        if not text:
            return None
        if too_deep(text):  # before any parser recurses into it
            return BadLine(number, text.decode("utf-8", "replace"),
                           f"stdout line {number}: {DEEP_REASON}")
        try:
            message = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            if text[:1] != b"{":
                # connectors may print stray non-JSON lines; those are not messages
                self.log(logging.INFO, text.decode("utf-8", "replace")[:2000])
                return None
            return BadLine(number, text.decode("utf-8", "replace"),
                           f"stdout line {number}: not valid JSON ({exc.msg})")
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            return BadLine(number, text.decode("utf-8", "replace"),
                           f"stdout line {number}: a JSON value without a message type")
        return message

    def output(self, args: Sequence[Arg], files: Mapping[str, bytes],
               limit: int = 256 << 20) -> bytes:
        """The whole stdout of a command that prints one document (Singer's ``--discover``)."""
        chunks: list[bytes] = []
        size = 0
        with self.launcher.start(args, files, self.mask) as process:
            for block in process.blocks():
                size += len(block)
                if size > limit:
                    raise EngineError(f"{self.connector} {self.command} printed more than "
                                      f"{limit >> 20} MiB")
                chunks.append(block)
            code = process.wait()
            stderr = process.stderr_tail()
        if code != 0:
            raise EngineError(self._failure(code, stderr))
        return b"".join(chunks)

    def _failure(self, code: int, stderr: str) -> str:
        head = f"{self.connector} {self.command} failed"
        detail = self.error if self.error is not None else f"exit code {code}"
        context = stderr or "\n".join(self.logs)
        text = f"{head}: {detail}"
        if context and self.error is None:
            text += f"\nlast output of {self.launcher.describe()}:\n{context[-3000:]}"
        return self.mask(text)


def recipe_settings(root: Path, recipe: ConnectorRecipe, engine: str) -> dict[str, Any]:
    """What every protocol source takes from its recipe: launcher, name, secrets, cache."""
    from airflow_provider_dativo.engines.connector_cache import cache_dir
    from airflow_provider_dativo.engines.launchers import launcher_for

    return {"launcher": launcher_for(root, recipe, engine), "connector": recipe.type,
            "secrets": masking.env_secrets(recipe.secret_envs), "cache_dir": cache_dir(root)}


class ProtocolSource(WholeStreamSource):
    """One connector process behind a launcher, configured with the job's connection."""

    starts_early = True  # read() takes a PendingState: see engines.base
    kind = "protocol"  # the engine's name, which keys its cache entries

    def __init__(self, launcher: Launcher, config: Mapping[str, Any], *, connector: str,
                 batch_size: int = PROTOCOL_BATCH_ROWS, secrets: Sequence[str] = (),
                 cache_dir: Path | None = None, fields: Sequence[str] = (),
                 nested: Sequence[FieldSpec] = ()) -> None:
        self.launcher = launcher
        self.config = dict(config)
        self.connector = connector
        self.batch_size = batch_size
        self.mask = Masker(secrets)
        self.fields = tuple(fields)  # what the job's contract reads from the stream
        self.nested = tuple(nested)  # the contract's struct and list columns, typed on arrival
        self.cache = ConnectorCache(cache_dir, self.kind, launcher.identity(), self.fields)

    def _config_file(self) -> dict[str, bytes]:
        return {"config.json": orjson.dumps(self.config)}

    def config_schema(self) -> Mapping[str, Any] | None:
        """The JSON Schema of the connector's config, or None when it publishes none."""
        raise NotImplementedError

    @staticmethod
    def is_secret(name: str, prop: Mapping[str, Any]) -> bool:
        """Whether the config key ``name`` (its schema ``prop``) holds a secret."""
        raise NotImplementedError

    def config_keys(self) -> list[ConfigKey] | None:
        """The connector's config keys (its ``connection`` in a recipe), or None."""
        schema = self.config_schema()
        return None if schema is None else config_keys(schema, self.is_secret)

    def _find(self, stream: str, catalog: Callable[[bool], C],
              streams: Callable[[C], Mapping[str, T]]) -> tuple[C, T]:
        """The catalog and its entry for ``stream``: from the cached discover, else from a
        fresh one (the connector may have gained the stream since), else an error."""
        found = catalog(False)
        entries = streams(found)
        if stream not in entries:
            found = catalog(True)
            entries = streams(found)
        if stream not in entries:
            raise EngineError(f"{self.connector} has no stream '{stream}' (it offers: "
                              f"{', '.join(sorted(entries)) or 'none'}); fix the job's "
                              "source.object or the asset's object")
        return found, entries[stream]
