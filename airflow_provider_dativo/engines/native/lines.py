"""Text files as blocks of whole lines, and what makes one line unreadable.

Blocks bound memory: a line longer than the block size is never held whole; it comes out as a
``LongLine`` (its length and first bytes) so that the reader can quarantine it and go on.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

import pyarrow as pa

KEPT_BYTES = 64 << 10  # bytes of an over-long line kept for the quarantine


@dataclass(frozen=True)
class LongLine:
    """A line longer than the block size: read past, not kept whole."""

    length: int  # bytes, without the line break
    head: bytes  # its first KEPT_BYTES bytes

    def problem(self, block_bytes: int) -> str:
        kept = (f" (the quarantine keeps its first {KEPT_BYTES:,} bytes)"
                if self.length > KEPT_BYTES else "")
        return (f"the line is {self.length:,} bytes, longer than source.connection.block_bytes "
                f"({block_bytes:,}): raise that setting above the line's length to read it"
                + kept)


def line_blocks(fh: IO[bytes], size: int) -> Iterator[bytes | LongLine]:
    """Blocks of whole lines of about ``size`` bytes, each ending in a line break; a line
    longer than ``size`` comes out on its own as a ``LongLine``, in its place in the file."""
    rest = b""
    while chunk := fh.read(size):
        data = rest + chunk
        first = data.find(b"\n", len(rest))
        if first < 0 and len(data) <= size:
            rest = data
            continue
        if first < 0 or first > size:  # the line carried over is too long
            long, rest = _long_line(fh, data, size, first)
            yield long
            if not rest:
                continue
            data = rest
        cut = data.rfind(b"\n")
        if cut < 0:
            rest = data
            continue
        rest = data[cut + 1:]
        yield data[: cut + 1]
    if rest.strip():  # the last line, without its line break
        yield rest + b"\n"


def _long_line(fh: IO[bytes], data: bytes, size: int, end: int) -> tuple[LongLine, bytes]:
    """The over-long line that starts ``data`` (ending at ``end``, or not yet when -1), read
    to its end without keeping it; and what follows it."""
    head = data[:KEPT_BYTES]
    length = end
    if end < 0:
        length = len(data)
        while chunk := fh.read(size):
            end = chunk.find(b"\n")
            if end >= 0:
                return LongLine(length + end, head), chunk[end + 1:]
            length += len(chunk)
        return LongLine(length, head), b""
    return LongLine(length, head), data[end + 1:]


def is_utf8(data: bytes) -> bool:
    """Whether ``data`` is UTF-8, checked by Arrow in place: no copy, no decoded text."""
    offsets = pa.array([0, len(data)], pa.int64()).buffers()[1]
    text = pa.Array.from_buffers(pa.large_string(), 1, [None, offsets, pa.py_buffer(data)])
    try:
        text.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def utf8_problem(line: bytes) -> str | None:
    """Why a line is not UTF-8 text, or None when it is."""
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return (f"not valid UTF-8 (byte 0x{line[exc.start]:02x} at byte {exc.start + 1} of the "
                "line); the file source reads UTF-8: re-encode the file")
    return None


def raw_text(line: bytes) -> str:
    """A line as text for the quarantine, with bytes that are not UTF-8 escaped (``\\xff``)."""
    return line.rstrip(b"\r").decode("utf-8", errors="backslashreplace")
