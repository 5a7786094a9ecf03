"""How a connector process starts, separate from the protocol it speaks.

A protocol (Airbyte, Singer) builds a command line whose file arguments are ``FileArg``s; the
launcher writes those files where the process can read them (a private temp dir, or a read-only
mount inside a container), starts the process and hands back its stdout in blocks of whole lines.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from airflow_provider_dativo.masking import Masker
from airflow_provider_dativo.read_ahead import ReadAhead

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


FIFO_POLL_S = 0.01


def feed_fifo(path: Path, late: LateFile, alive: Callable[[], bool], stop: Callable[[], None],
              failed: list[BaseException]) -> None:
    """Write a late file's content into its FIFO once the connector opens it, then leave a
    plain file with the same content in its place for any later open. A run stopped before
    the content was known stops the connector (``stop``), which is then still waiting for the
    file: it has read nothing and fetched nothing."""
    try:
        content = late.produce()
    except BaseException as exc:
        failed.append(exc)
        stop()
        return
    mode = path.stat().st_mode & 0o777
    owner = path.stat().st_uid
    while alive():
        try:
            # non-blocking: a connector that never opens the file must not keep us here
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno != errno.ENXIO:  # ENXIO: nobody has opened it for reading yet
                raise
            time.sleep(FIFO_POLL_S)
            continue
        os.set_blocking(fd, True)
        try:
            view = memoryview(content)
            while view:
                view = view[os.write(fd, view):]
        except BrokenPipeError:
            pass  # the connector closed the file early; it knows what it read
        finally:
            os.close(fd)
        break
    plain = path.with_name(f".{path.name}.plain")
    plain.write_bytes(content)
    if owner != os.geteuid():
        os.chown(plain, owner, -1)
    plain.chmod(mode)
    plain.replace(path)


def resolved(files: Mapping[str, bytes | LateFile]) -> dict[str, bytes]:
    """Every file's content, waiting for late ones."""
    return {name: content.produce() if isinstance(content, LateFile) else content
            for name, content in files.items()}


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


def line_blocks(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Runs of whole lines from chunks cut anywhere: each block ends with a newline (kept),
    except the stream's last when its last line has none. A reader that takes a block as a
    whole never cuts it into lines in Python."""
    rest = b""
    for chunk in chunks:
        cut = chunk.rfind(b"\n") + 1
        if not cut:
            rest += chunk
            continue
        if rest:
            yield rest + chunk[:cut]
        else:
            yield chunk if cut == len(chunk) else chunk[:cut]
        rest = chunk[cut:]
    if rest:
        yield rest


def block_lines(block: bytes) -> list[bytes]:
    """The lines of a block of whole lines, without their newlines (splitting in C is far
    cheaper than Python's line iteration)."""
    lines = block.split(b"\n")
    if block.endswith(b"\n"):
        lines.pop()  # the empty piece after the last newline
    return lines


def pumped_blocks(chunks: Iterable[bytes], limit: int = 64 << 20) -> Iterator[bytes]:
    """A connector's stdout as blocks of whole lines, read on its own thread up to ``limit``
    bytes ahead.

    A pipe holds little: a parser busy building a batch would otherwise leave the connector
    blocked on a full pipe for as long, so the connector's time and ours would add up instead
    of overlapping. Closing the blocks never waits for the reading thread, which ends with the
    stream once the launcher stops the process.
    """
    reader = ReadAhead(iter(chunks), limit, len, join_on_close=False)
    try:
        yield from line_blocks(reader)
    finally:
        reader.close()


class ConnectorProcess(Protocol):
    def blocks(self) -> Iterator[bytes]:
        """The process's stdout in blocks of whole lines (see ``line_blocks``) until it
        closes."""

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
