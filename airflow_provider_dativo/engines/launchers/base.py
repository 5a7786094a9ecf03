"""How a connector process starts, separate from the protocol it speaks.

A protocol (Airbyte, Singer) builds a command line whose file arguments are ``FileArg``s; the
launcher writes those files where the process can read them (a private temp dir, or a read-only
mount inside a container), starts the process and hands back its stdout lines.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger("airflow_provider_dativo.connector")

STDERR_TAIL_LINES = 40


@dataclass(frozen=True)
class FileArg:
    """A command-line argument that is the path of a file the launcher provides."""

    name: str


Arg = str | FileArg


class LateFile:
    """A file whose content is known only after the connector has started (the committed
    state, while the target is still being opened). ``produce`` blocks until the content is
    known and raises when the run stopped before it was. A launcher that can, hands the
    connector a FIFO and writes the content when it arrives, so the connector's start-up and
    the caller's own work overlap; any other launcher asks for the content first."""

    def __init__(self, produce: Callable[[], bytes]) -> None:
        self.produce = produce


def resolved(files: Mapping[str, bytes | LateFile]) -> dict[str, bytes]:
    """Every file's content, waiting for late ones."""
    return {name: content.produce() if isinstance(content, LateFile) else content
            for name, content in files.items()}


class Masker:
    """Replaces secret values in text before it reaches a log or an error message."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: list[str] = []
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        for value in secrets:
            # very short values would mask ordinary words; they are not real secrets anyway
            if isinstance(value, str) and len(value) >= 4 and value not in self._secrets:
                self._secrets.append(value)
        self._secrets.sort(key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for value in self._secrets:
            if value in text:
                text = text.replace(value, "***")
        return text


class StderrTail:
    """Logs a connector's stderr line by line (masked) and keeps the last lines for errors."""

    def __init__(self, name: str, mask: Masker) -> None:
        self.name = name
        self.mask = mask
        self.lines: deque[str] = deque(maxlen=STDERR_TAIL_LINES)

    def feed(self, raw: bytes | str) -> None:
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        text = self.mask(text.rstrip("\r\n"))
        if text:
            self.lines.append(text)
            log.info("[%s] %s", self.name, text)

    def text(self) -> str:
        return "\n".join(self.lines)


def split_lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Whole lines (without their newline) from chunks cut anywhere; splitting a large chunk
    in C is far cheaper than Python's line iteration."""
    rest = b""
    for chunk in chunks:
        cut = chunk.rfind(b"\n") + 1
        if not cut:
            rest += chunk
            continue
        lines = (rest + chunk[:cut] if rest else chunk[:cut]).split(b"\n")
        rest = chunk[cut:]
        lines.pop()  # the empty piece after the last newline
        yield from lines
    if rest:
        yield rest


class _Raised:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class StdoutPump:
    """Reads a connector's stdout on its own thread, up to ``limit`` bytes ahead.

    A pipe holds little: a parser busy building a batch would otherwise leave the connector
    blocked on a full pipe for as long, so the connector's time and ours would add up instead
    of overlapping. The byte limit bounds the memory; closing ``lines()`` never waits for the
    thread, which ends with the stream once the launcher stops the process.
    """

    def __init__(self, chunks: Iterable[bytes], limit: int = 64 << 20) -> None:
        self._limit = limit
        self._ready = threading.Condition()
        self._queue: deque[bytes | _Raised | None] = deque()  # None: the stream ended
        self._queued = 0
        self._closed = False
        threading.Thread(target=self._pump, args=(chunks,), daemon=True,
                         name="dativo-connector-stdout").start()

    def _put(self, item: bytes | _Raised | None) -> bool:
        with self._ready:
            while self._queued > self._limit and not self._closed:
                self._ready.wait(0.1)
            if self._closed:
                return False
            self._queue.append(item)
            self._queued += len(item) if isinstance(item, bytes) else 0
            self._ready.notify_all()
            return True

    def _pump(self, chunks: Iterable[bytes]) -> None:
        try:
            for chunk in chunks:
                if chunk and not self._put(chunk):
                    return
        except BaseException as exc:  # the stream broke (a Docker API error): the reader raises
            self._put(_Raised(exc))
        self._put(None)

    def _chunks(self) -> Iterator[bytes]:
        while True:
            with self._ready:
                while not self._queue:
                    self._ready.wait()
                item = self._queue.popleft()
                if isinstance(item, bytes):
                    self._queued -= len(item)
                self._ready.notify_all()
            if item is None:
                return
            if isinstance(item, _Raised):
                raise item.error
            yield item

    def lines(self) -> Iterator[bytes]:
        try:
            yield from split_lines(self._chunks())
        finally:
            with self._ready:
                self._closed = True
                self._ready.notify_all()


class ConnectorProcess(Protocol):
    def lines(self) -> Iterator[bytes]:
        """The process's stdout, one line at a time (without its newline), until it closes."""

    def wait(self) -> int:
        """Exit code once the process has ended."""

    def stderr_tail(self) -> str:
        """The last lines the process wrote to stderr, secrets masked."""

    def kill(self) -> None: ...


class Launcher(Protocol):
    name: str

    def start(self, args: Sequence[Arg], files: Mapping[str, bytes | LateFile],
              mask: Masker) -> AbstractContextManager[ConnectorProcess]:
        """Start the connector with ``args``; ``files`` are the contents of its ``FileArg``s."""

    def describe(self) -> str:
        """What runs, for messages (image or command), never with secrets."""

    def identity(self) -> str:
        """What, besides its config, decides a connector's spec and catalog: the key of their
        caches (an image reference; a command and when its files last changed)."""


# processes started by any launcher in this process, so a killed task stops its connectors
_running: set[ConnectorProcess] = set()
_running_lock = threading.Lock()


def track(process: ConnectorProcess, running: bool) -> None:
    with _running_lock:
        (_running.add if running else _running.discard)(process)


def stop_running() -> int:
    """Stop every connector process still running (the operators' ``on_kill``)."""
    with _running_lock:
        processes = list(_running)
    for process in processes:
        process.kill()
    return len(processes)
