"""The one cursor rule of incremental reads: the bound of a run, and the newest value it saw.

A run's bound is the committed cursor minus ``lookback_days``, fixed for the whole run: every
batch is compared with it, never with what the run itself has read so far, so no source's row
order can make a row disappear. The bound includes the committed value itself when the job
upserts (a row read again replaces itself by primary key, so rows that share the committed
value and arrived after the last run are not lost); an appending job excludes it, since
reading it again would land it twice. A row whose cursor is NULL has no place in the order:
it is always read (and counted), never dropped by the cursor; a contract that marks the column
``required`` refuses such rows instead.

State keeps cursors in JSON form (ISO text for dates and times, text for decimals). Native SQL
and HTTP sources push the same bound into their query; the runner applies it to every batch
(``for_job``) and keeps the newest value in the run's state (``next_state``).
"""

from __future__ import annotations

import datetime as dt
import decimal
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

    from airflow_provider_dativo.config.specs import JobSpec

log = logging.getLogger(__name__)

# pyarrow is imported inside the functions that need it: a connector starts before it is.


def inclusive_for(write_mode: str) -> bool:
    """Whether a run reads rows equal to the committed cursor again (see the module doc)."""
    return write_mode == "upsert"


def lookback_bound(committed: Any, days: int) -> str | int | float:
    """The committed cursor minus the lookback window, for temporal cursors."""
    if isinstance(committed, int | float) and not isinstance(committed, bool):
        return committed
    text = str(committed)
    if not days:
        return text
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return text  # not a timestamp: the lookback only applies to time
    shifted = moment - dt.timedelta(days=days)
    return shifted.date().isoformat() if len(text) == 10 else shifted.isoformat()


def json_value(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


def later(current: Any, candidate: Any) -> Any:
    """The larger of a committed cursor (JSON form) and a batch maximum."""
    if candidate is None:
        return current
    value = json_value(candidate)
    if current is None:
        return value
    if isinstance(candidate, dt.datetime):
        known = dt.datetime.fromisoformat(str(current))
        if (known.tzinfo is None) != (candidate.tzinfo is None):
            known = known.replace(tzinfo=candidate.tzinfo)
        return value if candidate > known else current
    if isinstance(candidate, dt.date):
        return value if candidate > dt.date.fromisoformat(str(current)[:10]) else current
    if isinstance(candidate, decimal.Decimal):
        return value if candidate > decimal.Decimal(str(current)) else current
    if isinstance(candidate, int | float) and not isinstance(current, str):
        return value if candidate > current else current
    return value if str(candidate) > str(current) else current


@dataclass
class CursorFilter:
    """Applies one run's fixed bound to its batches and tracks the newest cursor kept.

    ``skipped`` counts rows dropped because they sit below the bound (or at it, for an
    appending job); ``null_cursor`` counts rows kept although their cursor is NULL.
    """

    field: str
    committed: Any = None  # JSON form, as the state holds it
    lookback_days: int = 0
    inclusive: bool = False
    skipped: int = 0
    null_cursor: int = 0

    def __post_init__(self) -> None:
        self.newest: Any = self.committed

    def apply(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        import pyarrow.compute as pc

        column = batch.column(self.field)
        self.null_cursor += column.null_count
        if self.committed is not None:
            bound = self._bound(column.type)
            compare = pc.greater_equal if self.inclusive else pc.greater
            keep = pc.fill_null(compare(column, bound), True)  # NULL: always kept
            kept = batch.filter(keep)
            self.skipped += batch.num_rows - kept.num_rows
            batch = kept
        newest = pc.max(batch.column(self.field))
        if newest.is_valid:
            self.newest = later(self.newest, newest.as_py())
        return batch

    def _bound(self, kind: pa.DataType) -> pa.Scalar:
        import pyarrow as pa
        import pyarrow.compute as pc

        committed = pc.cast(pa.scalar(str(self.committed)), kind)
        if self.lookback_days and pa.types.is_temporal(kind):
            shifted = committed.as_py() - dt.timedelta(days=self.lookback_days)
            return pa.scalar(shifted, kind)
        return committed


def for_job(job: JobSpec, previous: Mapping[str, Any]) -> CursorFilter | None:
    """The run's cursor rule from the job and its committed state, or None where the runner
    must not drop rows by cursor.

    An Airbyte or Singer connector's own state is its incremental mechanism: it may send
    older rows on purpose (a backfill, a late file, a tie it re-sends), and they are loaded.
    A cursor the contract does not carry is left to the source's state as well.
    """
    inc = job.incremental
    if inc is None or job.source_keeps_state:
        return None
    if inc.cursor_field not in job.contract.field_names:
        log.warning("cursor field %s is not in contract %s; incremental reads rely on the "
                    "source's own state", inc.cursor_field, job.contract.name)
        return None
    return CursorFilter(inc.cursor_field, committed=previous.get("cursor"),
                        lookback_days=inc.lookback_days, inclusive=inclusive_for(job.write_mode))


def next_state(cursor: CursorFilter | None, previous: Mapping[str, Any]) -> Any:
    """The cursor the run commits: the newest it kept, else the committed one unchanged (a
    cursor the run does not apply is kept as is); None when there is neither."""
    if cursor is not None and cursor.newest is not None:
        return json_value(cursor.newest)
    return previous.get("cursor")
