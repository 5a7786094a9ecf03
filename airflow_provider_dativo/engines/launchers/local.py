"""Runs a connector as a local executable (a connector installed from PyPI in its own venv)."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

from airflow_provider_dativo.engines.launchers.base import (
    Arg,
    FileArg,
    LateFile,
    Masker,
    StderrTail,
    pumped_lines,
    track,
)
from airflow_provider_dativo.errors import EngineError

READ_BUFFER = 1 << 20
FIFO_POLL_S = 0.01


def _feed_fifo(path: Path, late: LateFile, popen: subprocess.Popen[bytes],
               failed: list[BaseException]) -> None:
    """Write a late file's content into its FIFO once the connector opens it, then leave a
    plain file with the same content in its place for any later open. A run stopped before
    the content was known stops the connector, which is then still waiting for the file:
    it has read nothing and fetched nothing."""
    try:
        content = late.produce()
    except BaseException as exc:
        failed.append(exc)
        popen.kill()
        return
    while popen.poll() is None:
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
    plain.chmod(0o600)
    plain.replace(path)


class LocalProcess:
    def __init__(self, popen: subprocess.Popen[bytes], tail: StderrTail,
                 late_failures: list[BaseException] | None = None) -> None:
        self._popen = popen
        self._tail = tail
        self._late_failures = late_failures if late_failures is not None else []
        self._reader = threading.Thread(target=self._drain_stderr, daemon=True)
        self._reader.start()

    def _drain_stderr(self) -> None:
        # stderr is read on its own thread so a chatty connector never blocks on a full pipe
        assert self._popen.stderr is not None
        for raw in self._popen.stderr:
            self._tail.feed(raw)

    def lines(self) -> Iterator[bytes]:
        stdout = self._popen.stdout
        assert stdout is not None
        return pumped_lines(iter(lambda: stdout.read1(READ_BUFFER), b""))

    def wait(self) -> int:
        code = self._popen.wait()
        self._reader.join(timeout=5)
        if self._late_failures:  # the connector was stopped because its input never came
            raise self._late_failures[0]
        return code

    def stderr_tail(self) -> str:
        return self._tail.text()

    def kill(self) -> None:
        if self._popen.poll() is None:
            self._popen.kill()


class LocalLauncher:
    """``command`` is the connector executable and its leading arguments."""

    name = "local"

    def __init__(self, command: Sequence[str], *, env: Mapping[str, str] | None = None,
                 cwd: Path | None = None, label: str | None = None) -> None:
        if not command:
            raise EngineError("the local launcher needs a command")
        self.command = tuple(command)
        self.env = dict(env or {})
        self.cwd = cwd
        self.label = label or Path(command[0]).name

    def describe(self) -> str:
        return " ".join(self.command)

    def identity(self) -> str:
        # a reinstalled connector (or an edited connector script) rewrites its files
        stamps = [str(Path(part).stat().st_mtime_ns) for part in self.command
                  if Path(part).is_file()]
        return " ".join([*self.command, *stamps])

    @contextmanager
    def start(self, args: Sequence[Arg], files: Mapping[str, bytes | LateFile],
              mask: Masker) -> Iterator[LocalProcess]:
        folder = Path(tempfile.mkdtemp(prefix="dativo-connector-"))  # mode 0700: private
        late: dict[Path, LateFile] = {}
        try:
            for name, content in files.items():
                path = folder / name
                if isinstance(content, LateFile):
                    os.mkfifo(path, 0o600)
                    late[path] = content
                    continue
                path.write_bytes(content)
                path.chmod(0o600)
            argv = [*self.command, *(str(folder / a.name) if isinstance(a, FileArg) else a
                                     for a in args)]
            try:
                popen = subprocess.Popen(
                    argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE, bufsize=READ_BUFFER, pipesize=READ_BUFFER,
                    cwd=self.cwd,
                    env={**os.environ, **self.env})
            except OSError as exc:
                raise EngineError(f"cannot start connector '{self.describe()}': {exc}. Check "
                                  "the recipe's command, or run `dativo connectors install "
                                  "NAME`") from exc
            failed: list[BaseException] = []
            for path, content in late.items():
                threading.Thread(target=_feed_fifo, args=(path, content, popen, failed),
                                 daemon=True, name=f"dativo-{path.name}").start()
            process = LocalProcess(popen, StderrTail(self.label, mask), failed)
            track(process, True)
            try:
                yield process
            finally:
                track(process, False)
                process.kill()
                with suppress(Exception):  # a late file's failure was raised to the reader
                    process.wait()
                for stream in (popen.stdout, popen.stderr):
                    if stream is not None:
                        stream.close()
        finally:
            shutil.rmtree(folder, ignore_errors=True)
