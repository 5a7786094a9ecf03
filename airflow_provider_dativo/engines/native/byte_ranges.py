"""One part of a large text file: a byte range moved to line boundaries.

The parts of a file are the ranges ``[offset, end)`` that tile it. A part starts after the first
line break at or after its offset (the first part at the file's start) and reads through the
first line break at or after its end (the last part to the file's end). Both rules look for the
same line break at every cut, so each line belongs to exactly one part, whatever the cut falls on.
A CSV part after the first is given the file's header line first, so it parses like a file.
"""

from __future__ import annotations

import io
from typing import IO

SCAN_BYTES = 1 << 20
COMPRESSED_SUFFIXES = (".gz", ".gzip", ".bz2", ".zst", ".zstd", ".lz4", ".br", ".xz", ".zip")


def split_offsets(size: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` byte ranges of about equal length that tile ``[0, size)``."""
    cuts = [size * i // parts for i in range(parts + 1)]
    return [(cuts[i], cuts[i + 1]) for i in range(parts) if cuts[i] < cuts[i + 1]]


def _line_start(fh: IO[bytes], offset: int) -> int:
    """The position after the first line break at or after ``offset``; the file's size when
    there is none."""
    fh.seek(offset)
    position = offset
    while chunk := fh.read(SCAN_BYTES):
        found = chunk.find(b"\n")
        if found >= 0:
            return position + found + 1
        position += len(chunk)
    return position


def _first_line(fh: IO[bytes]) -> bytes:
    """The file's first line with its line break (pyarrow's files have no ``readline``)."""
    fh.seek(0)
    head = b""
    while chunk := fh.read(SCAN_BYTES):
        found = chunk.find(b"\n")
        if found >= 0:
            return head + chunk[: found + 1]
        head += chunk
    return head + b"\n"


class LineRange(io.RawIOBase):
    """A readable stream of ``header`` then the lines of part ``[offset, end)`` of ``fh``."""

    def __init__(self, fh: IO[bytes], offset: int, end: int, size: int, *,
                 header: bool = False) -> None:
        super().__init__()
        self._fh = fh
        self._prefix = b""
        if header and offset > 0:
            self._prefix = _first_line(fh)
        start = 0 if offset == 0 else _line_start(fh, offset)
        stop = size if end >= size else _line_start(fh, end)
        self._left = max(stop - start, 0)
        fh.seek(start)

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        out = b""
        if self._prefix:
            out, self._prefix = self._prefix, b""
            if size is not None and size >= 0:
                out, self._prefix = out[:size], out[size:]
                size -= len(out)
        want = self._left if size is None or size < 0 else min(size, self._left)
        if want:
            data = self._fh.read(want)
            self._left -= len(data)
            out += data
        return out

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._fh.close()
        super().close()
