"""Read a source ahead of its consumer on a second thread, a bounded number of items deep.

Parsing (the source) and checking/encoding (the consumer) are both Arrow work that releases the
GIL, so overlapping them uses a second core; the bounded queue keeps memory flat.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Generic, TypeVar

T = TypeVar("T")

_DONE = object()
JOIN_TIMEOUT_S = 10.0


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class ReadAhead(Generic[T]):
    """Produces ``items`` on a thread from the moment it is created, up to ``depth`` ahead.

    Iterate it once. An exception in the producer is raised in the consumer at the same
    position; ``close`` (also run when iteration stops early) stops the producer and closes
    the source iterator, whether or not iteration ever began.
    """

    def __init__(self, items: Iterator[T], depth: int = 2) -> None:
        self._items = items
        self._buffer: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, name="dativo-read-ahead",
                                        daemon=True)
        self._thread.start()

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._buffer.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self) -> None:
        try:
            for item in self._items:
                if not self._put(item):
                    break
            else:
                self._put(_DONE)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            self._put(_Failed(exc))
        finally:
            close = getattr(self._items, "close", None)
            if close is not None:
                close()

    def __iter__(self) -> Iterator[T]:
        try:
            while True:
                item = self._buffer.get()
                if item is _DONE:
                    return
                if isinstance(item, _Failed):
                    raise item.error
                yield item  # type: ignore[misc]
        finally:
            self.close()

    def close(self) -> None:
        self._stop.set()
        # a producer blocked inside a slow source notices the stop after its current item
        self._thread.join(timeout=JOIN_TIMEOUT_S)


def read_ahead(items: Iterator[T], depth: int = 2) -> ReadAhead[T]:
    """``items`` produced on a second thread, starting now, a bounded number ahead."""
    return ReadAhead(items, depth)
