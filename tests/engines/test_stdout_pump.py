"""A connector's stdout read ahead on a thread: blocks of whole lines, intact and in order,
memory bounded, a broken stream raised to the reader, and an early stop that waits for nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from airflow_provider_dativo.engines.launchers.base import block_lines, pumped_blocks


def test_lines_cut_across_chunks_arrive_whole_and_in_order() -> None:
    text = b"".join(b'{"n":%d}\n' % i for i in range(5000))
    chunks = [text[i:i + 997] for i in range(0, len(text), 997)]
    blocks = list(pumped_blocks(chunks))
    assert all(block.endswith(b"\n") for block in blocks) and b"".join(blocks) == text
    lines = [line for block in blocks for line in block_lines(block)]
    assert lines == [b'{"n":%d}' % i for i in range(5000)]


def test_the_last_line_without_its_newline_still_arrives() -> None:
    assert list(pumped_blocks([b"a\nb", b"c\nd"])) == [b"a\n", b"bc\n", b"d"]
    assert block_lines(b"bc\n") == [b"bc"] and block_lines(b"d") == [b"d"]


def test_the_pump_stays_within_its_byte_limit() -> None:
    pulled = []

    def chunks() -> Iterator[bytes]:
        for i in range(100):
            pulled.append(i)
            yield b"x" * 1000 + b"\n"

    blocks = pumped_blocks(chunks(), limit=10_000)
    next(blocks)
    # a reader busy elsewhere: the pump runs ahead, but only up to the limit
    deadline = time.monotonic() + 10
    while len(pulled) < 10 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)  # time to overrun the limit, if it would
    assert 10 <= len(pulled) <= 14
    assert sum(block.count(b"\n") for block in blocks) == 99


def test_a_broken_stream_is_raised_after_the_lines_before_it() -> None:
    def chunks() -> Iterator[bytes]:
        yield b"a\nb\n"
        raise ConnectionError("docker API went away")

    got = []
    with pytest.raises(ConnectionError, match="went away"):
        for block in pumped_blocks(chunks()):
            got.extend(block_lines(block))
    assert got == [b"a", b"b"]


def test_stopping_early_releases_the_pump() -> None:
    finished = threading.Event()

    def chunks() -> Iterator[bytes]:
        try:
            while True:
                yield b"y" * 100 + b"\n"
        finally:
            finished.set()

    blocks = pumped_blocks(chunks(), limit=1000)
    next(blocks)
    blocks.close()
    assert finished.wait(5)  # the pump noticed and let its stream go
