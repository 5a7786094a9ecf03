"""Reading a source ahead on a thread loses nothing: order, errors and early stops hold."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from airflow_provider_dativo.read_ahead import read_ahead


def test_items_arrive_in_order() -> None:
    assert list(read_ahead(iter(range(1000)), depth=3)) == list(range(1000))


def test_a_source_error_surfaces_after_the_items_before_it() -> None:
    def source() -> Iterator[int]:
        yield 1
        yield 2
        raise OSError("disk gone")

    got = []
    with pytest.raises(OSError, match="disk gone"):
        for item in read_ahead(source()):
            got.append(item)
    assert got == [1, 2]


def test_stopping_early_closes_the_source() -> None:
    closed = []

    def source() -> Iterator[int]:
        try:
            yield from range(10_000)
        finally:
            closed.append(True)

    for item in read_ahead(source()):
        if item == 5:
            break
    assert closed == [True]


def test_the_source_starts_before_iteration_and_close_stops_it_unread() -> None:
    started = threading.Event()
    closed = []

    def source() -> Iterator[int]:
        started.set()
        try:
            yield from range(10_000)
        finally:
            closed.append(True)

    ahead = read_ahead(source())
    assert started.wait(5)  # working while the caller does something else
    ahead.close()
    assert closed == [True]
