"""Runs a connector as a local executable (a connector installed from PyPI in its own venv)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

from airflow_provider_dativo.engines.launchers.base import (
    Arg,
    FileArg,
    LateFile,
    Masker,
    StderrTail,
    feed_fifo,
    pumped_blocks,
    track,
)
from airflow_provider_dativo.errors import EngineError

READ_BUFFER = 1 << 20


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

    def blocks(self) -> Iterator[bytes]:
        stdout = self._popen.stdout
        assert isinstance(stdout, io.BufferedReader)  # bufsize > 0: buffered, so it has read1
        return pumped_blocks(iter(lambda: stdout.read1(READ_BUFFER), b""))

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
                threading.Thread(target=feed_fifo,
                                 args=(path, content, lambda: popen.poll() is None, popen.kill,
                                       failed),
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
