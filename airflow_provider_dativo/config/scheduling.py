"""How a job runs in Airflow: start date, catch-up, retries, timeouts, concurrency and pool.

Every default lives here, in ``SchedulingSpec``; the job schema only checks shapes, and the DAG
factory reads nothing but this spec.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from airflow_provider_dativo.config.yaml_loader import YamlDocument
from airflow_provider_dativo.errors import ConfigIssue

# Fixed, so that parsing is deterministic; a job without start_date starts here without catch-up.
DEFAULT_START_DATE = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


@dataclass(frozen=True)
class SchedulingSpec:
    start_date: dt.datetime = DEFAULT_START_DATE
    catchup: bool = False
    retries: int = 1  # extract and load; validate never retries, a bad config stays bad
    retry_delay: dt.timedelta = dt.timedelta(minutes=1)
    execution_timeout: dt.timedelta | None = None  # per task; none means no limit
    dagrun_timeout: dt.timedelta | None = None
    max_active_runs: int = 1  # two runs of one job never commit at once
    pool: str | None = None  # none means Airflow's default_pool
    pool_slots: int = 1
    # executor queue per task (validate/extract/load); none means the executor's default queue
    queues: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def queue_for(self, task_id: str) -> str | None:
        return self.queues.get(task_id)


KEYS = ("start_date", "catchup", "retries", "retry_delay", "execution_timeout",
        "dagrun_timeout", "max_active_runs", "pool", "pool_slots", "queue")
TASKS = ("validate", "extract", "load")


def parse_queue(value: Any) -> Mapping[str, str]:
    """One queue for every task, or a queue per task."""
    if isinstance(value, str):
        return MappingProxyType(dict.fromkeys(TASKS, value))
    return MappingProxyType({str(k): str(v) for k, v in value.items()})


def parse_duration(value: Any) -> dt.timedelta:
    """``90`` (seconds), ``"30s"``, ``"5m"``, ``"2h"`` or ``"1d"``."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")
    if isinstance(value, int):
        return dt.timedelta(seconds=value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a duration; write seconds (90) or 30s, 5m, 2h, 1d")
    return dt.timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def parse_start_date(value: Any) -> dt.datetime:
    """A date or date-time; without a zone it is UTC."""
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, dt.date):
        parsed = dt.datetime(value.year, value.month, value.day)
    else:
        try:
            parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a date; write 2024-01-31 or "
                             "2024-01-31T06:00:00Z") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def scheduling_from(data: Mapping[str, Any], doc: YamlDocument
                    ) -> tuple[SchedulingSpec, list[ConfigIssue]]:
    """The job's scheduling settings over the defaults, and any value that does not parse."""
    issues: list[ConfigIssue] = []
    values: dict[str, Any] = {}
    parsers = {"start_date": parse_start_date, "retry_delay": parse_duration,
               "execution_timeout": parse_duration, "dagrun_timeout": parse_duration,
               "queue": parse_queue}
    for key in KEYS:
        if key not in data or data[key] is None:
            continue
        parse = parsers.get(key)
        try:
            values["queues" if key == "queue" else key] = parse(data[key]) if parse \
                else data[key]
        except ValueError as exc:
            issues.append(ConfigIssue(doc.file, str(exc), doc.line_of(key), key))
    return SchedulingSpec(**values), issues
