"""Read a source ahead of its consumer on a second thread, a bounded number of items deep.

Parsing (the source) and checking/encoding (the consumer) are both Arrow work that releases the
GIL, so overlapping them uses a second core; the bounded queue keeps memory flat.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()
JOIN_TIMEOUT_S = 10.0


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def read_ahead(items: Iterator[T], depth: int = 2) -> Iterator[T]:
    """Yield ``items`` in order while a thread produces up to ``depth`` items ahead.

    An exception in the producer is raised in the consumer at the same position; when the
    consumer stops early the producer is stopped and the source iterator closed.
    """
    buffer: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                buffer.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    break
            else:
                put(_DONE)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put(_Failed(exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name="dativo-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item = buffer.get()
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        # a producer blocked inside a slow source notices the stop after its current item
        thread.join(timeout=JOIN_TIMEOUT_S)
