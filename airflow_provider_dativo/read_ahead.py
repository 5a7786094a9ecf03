"""Read a source ahead of its consumer on a second thread, a bounded amount deep.

Parsing (the source) and checking/encoding (the consumer) are both Arrow work that releases the
GIL, so overlapping them uses a second core; the bound keeps memory flat. A connector's stdout
is read the same way, bounded by bytes, so the connector never waits on a full pipe.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")

_DONE = object()
JOIN_TIMEOUT_S = 10.0


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class ReadAhead(Generic[T]):
    """Produces ``items`` on a thread from the moment it is created, until the items ahead
    weigh ``limit`` (each weighs ``weight(item)``, 1 by default: ``limit`` items).

    Iterate it once. An exception in the producer is raised in the consumer at the same
    position; ``close`` (also run when iteration stops early) stops the producer and closes
    the source iterator, whether or not iteration ever began. With ``join_on_close=False``
    closing does not wait for a producer blocked in its source (a process's stdout, which
    ends once the process is stopped).
    """

    def __init__(self, items: Iterator[T], limit: int = 2,
                 weight: Callable[[T], int] | None = None, *,
                 join_on_close: bool = True) -> None:
        self._items = items
        self._limit = limit
        self._weight = weight
        self._join_on_close = join_on_close
        self._ready = threading.Condition()
        self._queue: deque[tuple[object, int]] = deque()  # each item with its weight
        self._queued = 0
        self._stopped = False
        self._thread = threading.Thread(target=self._produce, name="dativo-read-ahead",
                                        daemon=True)
        self._thread.start()

    def _put(self, item: object, weight: int) -> bool:
        with self._ready:
            while self._queued >= self._limit and not self._stopped:
                self._ready.wait(0.1)
            if self._stopped:
                return False
            self._queue.append((item, weight))
            self._queued += weight
            self._ready.notify_all()
            return True

    def _produce(self) -> None:
        try:
            for item in self._items:
                if not self._put(item, 1 if self._weight is None else self._weight(item)):
                    break
            else:
                self._put(_DONE, 0)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            self._put(_Failed(exc), 0)
        finally:
            close = getattr(self._items, "close", None)
            if close is not None:
                close()

    def __iter__(self) -> Iterator[T]:
        try:
            while True:
                with self._ready:
                    while not self._queue:
                        self._ready.wait()
                    item, weight = self._queue.popleft()
                    self._queued -= weight
                    self._ready.notify_all()
                if item is _DONE:
                    return
                if isinstance(item, _Failed):
                    raise item.error
                yield item  # type: ignore[misc]
        finally:
            self.close()

    def close(self) -> None:
        with self._ready:
            self._stopped = True
            self._ready.notify_all()
        if self._join_on_close:
            # a producer blocked inside a slow source notices the stop after its current item
            self._thread.join(timeout=JOIN_TIMEOUT_S)


def read_ahead(items: Iterator[T], depth: int = 2) -> ReadAhead[T]:
    """``items`` produced on a second thread, starting now, up to ``depth`` ahead."""
    return ReadAhead(items, depth)
