"""An exclusive lock on a local file, for writers on one machine.

``fcntl.flock`` locks belong to the open file: the kernel releases them when the holder ends in
any way, SIGKILL included, so a crash never leaves a stale lock behind. The lock file itself
stays and holds a line about its last holder, for the message of whoever finds it locked.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator

from airflow_provider_dativo.errors import TargetError


class LockHeld(TargetError):
    """Someone else holds the lock."""

    def __init__(self, path: str, holder: str) -> None:
        super().__init__(f"{path} is locked by {holder or 'another process'}")
        self.path = path
        self.holder = holder


class FileLock:
    def __init__(self, path: str) -> None:
        self.path = path

    @contextlib.contextmanager
    def hold(self, *, wait: bool, holder: str = "") -> Iterator[None]:
        """Hold the lock while the block runs; without ``wait``, raise ``LockHeld`` at once
        when it is taken. ``holder`` is written into the file for that message."""
        folder = os.path.dirname(self.path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                holder_line = os.pread(fd, 4096, 0).decode(errors="replace").strip()
                raise LockHeld(self.path, holder_line) from None
            if holder:
                os.ftruncate(fd, 0)
                os.pwrite(fd, holder.encode(), 0)
            yield
        finally:
            os.close(fd)  # releases the lock
