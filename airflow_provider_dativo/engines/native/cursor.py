"""Cursor values of incremental reads: the bound of the next read and the newest value seen.

State keeps cursors in JSON form (ISO text for dates and times, text for decimals), the same
form the runner commits; the bound is the committed value minus ``lookback_days``, the rule the
runner's own cursor filter applies.
"""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any


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
