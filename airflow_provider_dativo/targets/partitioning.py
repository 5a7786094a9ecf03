"""Partition fields against an Arrow schema, and the partition value of every row.

The partition type, its grammar and its rules are the contract's (``contracts.partitioning``);
here they meet Arrow: ``resolve_partitioning`` checks fields against the schema a target writes,
and the functions below compute Iceberg's partition values column-at-a-time for the staged
Parquet writer.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import pyarrow as pa
import pyarrow.compute as pc

from airflow_provider_dativo.contracts.partitioning import (
    BUCKET_TRANSFORM,
    PartitionField,
    PartitionFieldLike,
    partition_problems,
)
from airflow_provider_dativo.errors import TargetError

# The name targets have always used for the contract's partition field.
PartitionSpecField = PartitionField

_EPOCH_DATE = _dt.date(1970, 1, 1)
_MICROS_PER_HOUR = 3_600_000_000


def resolve_partitioning(
    schema: pa.Schema, partition_by: Sequence[PartitionFieldLike]
) -> tuple[PartitionField, ...]:
    """Normalize ``partition_by`` and check every field against ``schema``.

    Raises ``TargetError`` naming the column when a field cannot partition this schema.
    """
    fields = tuple(PartitionField.of(p) for p in partition_by)

    def column_type(name: str) -> str | None:
        index = schema.get_field_index(name)
        return None if index < 0 else dativo_type(schema.field(index).type)

    def missing(name: str) -> str:
        return (f"partition column {name!r} is not in the schema "
                f"(columns: {', '.join(schema.names)})")

    for _, problem in partition_problems(fields, column_type, missing):
        raise TargetError(problem)
    return fields


def dativo_type(t: pa.DataType) -> str:
    """The dativo type an Arrow column holds, as far as partition rules tell types apart."""
    if pa.types.is_dictionary(t):
        t = t.value_type
    checks: tuple[tuple[Any, str], ...] = (
        (pa.types.is_integer, "integer"), (pa.types.is_decimal, "decimal"),
        (pa.types.is_floating, "double"), (pa.types.is_boolean, "boolean"),
        (pa.types.is_string, "string"), (pa.types.is_large_string, "string"),
        (pa.types.is_binary, "binary"), (pa.types.is_large_binary, "binary"),
        (pa.types.is_fixed_size_binary, "binary"), (pa.types.is_date, "date"),
        (pa.types.is_time, "time"), (pa.types.is_struct, "struct"),
    )
    for check, name in checks:
        if check(t):
            return name
    if pa.types.is_timestamp(t):
        return "timestamptz" if t.tz is not None else "timestamp"
    if pa.types.is_nested(t):
        return "list"
    return str(t)


def hive_value(value: Any) -> str:
    """A Hive-style path segment value: escaped like Hive escapes it, nulls spelled as Hive does."""
    if value is None:
        return "__HIVE_DEFAULT_PARTITION__"
    return quote(str(value), safe="")


def partition_key(column: pa.Array, transform: str) -> pa.Array:
    """The Iceberg partition value of every row, computed column-at-a-time."""
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    if transform == "identity":
        return column
    bucket = BUCKET_TRANSFORM.match(transform)
    if bucket:
        from pyiceberg.transforms import BucketTransform

        # Iceberg's own hash (Murmur3 on the value's canonical bytes), so readers prune alike
        if pa.types.is_timestamp(column.type):
            column = column.cast(pa.timestamp("us", tz=column.type.tz))
        if pa.types.is_integer(column.type) and column.type != pa.int64():
            column = column.cast(pa.int64())
        return BucketTransform(int(bucket.group(1))).pyarrow_transform(None)(column)  # type: ignore[arg-type]
    if pa.types.is_timestamp(column.type):
        # Iceberg defines temporal transforms on UTC; dropping the zone keeps the UTC instant
        # and stops the calendar functions from using the zone's local time.
        column = column.cast(pa.timestamp("us"))
    else:
        column = column.cast(pa.date32())
    if transform == "day":
        return column.cast(pa.date32()).cast(pa.int32())
    if transform == "hour":
        hours = pc.floor_temporal(column, unit="hour").cast(pa.int64())
        return pc.divide(hours, _MICROS_PER_HOUR)
    years = pc.subtract(pc.year(column), 1970)
    if transform == "year":
        return years
    return pc.add(pc.multiply(years, 12), pc.subtract(pc.month(column), 1))


def group_ids(keys: list[pa.Array]) -> pa.Array:
    """One int64 per row, equal exactly when every partition key is equal (nulls included)."""
    group: pa.Array | None = None
    for key in keys:
        encoded = pc.dictionary_encode(key, null_encoding="encode")
        indices = encoded.indices.cast(pa.int64())
        if group is None:
            group = indices
        else:
            combined = pc.add(pc.multiply(group, len(encoded.dictionary)), indices)
            # Re-encoding keeps ids dense so many partition fields cannot overflow int64.
            group = pc.dictionary_encode(combined).indices.cast(pa.int64())
    assert group is not None
    return group


def human_value(transform: str, value: Any) -> Any:
    """A JSON-friendly partition value, spelled like Iceberg spells partition paths."""
    if value is None:
        return None
    if transform == "year":
        return f"{1970 + value:04d}"
    if transform == "month":
        year, month = divmod(value, 12)
        return f"{1970 + year:04d}-{month + 1:02d}"
    if transform == "day":
        return (_EPOCH_DATE + _dt.timedelta(days=value)).isoformat()
    if transform == "hour":
        days, hour = divmod(value, 24)
        return f"{(_EPOCH_DATE + _dt.timedelta(days=days)).isoformat()}-{hour:02d}"
    if isinstance(value, _dt.date | _dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return value
