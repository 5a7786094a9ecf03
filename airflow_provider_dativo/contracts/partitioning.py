"""How a contract partitions its table: the one partition type, its grammar and its rules.

A partition field is a column and an Iceberg transform: ``identity``, ``year``, ``month``,
``day``, ``hour`` or ``bucket[N]``. Iceberg SQL spells the temporal transforms in the plural and
contracts written by hand use both, so ``days`` reads as ``day``; case and spaces do not matter.
The same type and the same rules serve the contract model (checked against the contract's field
types), the staged Parquet writer and the Iceberg table (checked against the Arrow schema, see
``targets.partitioning``). No pyarrow here: the contract model loads without it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from airflow_provider_dativo.contracts._types import (
    INTEGER_TYPES,
    NESTED_TYPES,
    TEMPORAL_TYPES,
    TIMESTAMP_TYPES,
)
from airflow_provider_dativo.errors import PartitionError

PARTITION_TRANSFORMS: Final = ("identity", "year", "month", "day", "hour")
# Iceberg's hash partitioning, spelled as Iceberg spells it: bucket[16]
BUCKET_TRANSFORM: Final = re.compile(r"^bucket\[([1-9][0-9]{0,5})\]$")
BUCKET_TYPES: Final = (
    INTEGER_TYPES | {"long", "decimal", "string", "binary", "uuid", "time"} | TEMPORAL_TYPES
)
_TRANSFORM_ALIASES: Final = {"years": "year", "months": "month", "days": "day", "hours": "hour"}


def normalize_transform(transform: str) -> str:
    """``transform`` in its one spelling (``Days`` → ``day``, ``bucket[ 4 ]`` → ``bucket[4]``)."""
    key = transform.strip().lower().replace(" ", "")
    return _TRANSFORM_ALIASES.get(key, key)


def is_partition_transform(transform: str) -> bool:
    key = normalize_transform(transform)
    return key in PARTITION_TRANSFORMS or BUCKET_TRANSFORM.match(key) is not None


class PartitionFieldLike(Protocol):
    """Anything naming a column and a transform, such as a ``PartitionField``."""

    @property
    def column(self) -> str: ...

    @property
    def transform(self) -> str: ...


@dataclass(frozen=True)
class PartitionField:
    """One partition field: a source column and a transform (normalized on construction)."""

    column: str
    transform: str = "identity"

    def __post_init__(self) -> None:
        if not is_partition_transform(self.transform):
            raise PartitionError(
                f"partition column {self.column!r}: unknown transform {self.transform!r}; "
                f"use one of {', '.join(PARTITION_TRANSFORMS)} or bucket[N]"
            )
        object.__setattr__(self, "transform", normalize_transform(self.transform))

    @property
    def name(self) -> str:
        """The Iceberg partition field name, which is also the key in ``StagedFile.partition``."""
        if self.transform == "identity":
            return self.column
        return f"{self.column}_{self.transform.split('[')[0]}"

    @property
    def buckets(self) -> int | None:
        """N of a ``bucket[N]`` transform, else None."""
        match = BUCKET_TRANSFORM.match(self.transform)
        return int(match.group(1)) if match else None

    @classmethod
    def of(cls, spec: PartitionFieldLike) -> PartitionField:
        if isinstance(spec, PartitionField):
            return spec
        return cls(column=spec.column, transform=spec.transform)


def transform_problem(part: PartitionField, type_: str) -> str | None:
    """Why ``part`` cannot partition a column of dativo type ``type_``, or None when it can."""
    if part.transform == "identity":
        if type_ in NESTED_TYPES:
            return f"identity partitioning needs a primitive column; {part.column!r} is {type_}"
        return None
    if part.buckets is not None:
        if type_ in BUCKET_TYPES:
            return None
        return (f"{part.transform} partitioning needs an integer, decimal, string, binary, "
                f"date or timestamp; {part.column!r} is {type_}")
    if part.transform == "hour":
        if type_ in TIMESTAMP_TYPES:
            return None
        return f"hour partitioning needs a timestamp; {part.column!r} is {type_}"
    if type_ in TEMPORAL_TYPES:
        return None
    return f"{part.transform} partitioning needs a date or timestamp; {part.column!r} is {type_}"


def partition_problems(
    parts: Sequence[PartitionField],
    column_type: Callable[[str], str | None],
    missing: Callable[[str], str],
) -> Iterator[tuple[int, str]]:
    """Each problem of ``parts`` as (index, message): a column ``column_type`` does not know
    (worded by ``missing``), a transform the column's type cannot take, a field listed twice."""
    seen: set[str] = set()
    for index, part in enumerate(parts):
        type_ = column_type(part.column)
        problem = missing(part.column) if type_ is None else transform_problem(part, type_)
        if problem is None and part.name in seen:
            problem = f"partition {part.transform}({part.column}) is listed twice"
        if problem is not None:
            yield index, problem
            continue
        seen.add(part.name)
