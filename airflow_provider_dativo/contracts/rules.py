"""The contract rules: what a field or partition may say, checked once per read contract.

Each check adds every problem it finds to the read's issues, located by document path, so one
load reports them all; ``check_fields`` builds the ``FieldSpec``s of the fields that pass.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, Final

from airflow_provider_dativo.contracts._raw import (
    Issues,
    RawField,
    RawPartition,
)
from airflow_provider_dativo.contracts._types import (
    ENUM_TYPES,
    FORMAT_TYPES,
    INGEST_DATE,
    MAX_DECIMAL_PRECISION,
    NUMERIC_TYPES,
    RESERVED_PREFIX,
    TEMPORAL_TYPES,
    TEXT_TYPES,
    TIMESTAMP_TYPES,
    canonical_type,
    strptime_format,
)
from airflow_provider_dativo.contracts.model import FieldSpec
from airflow_provider_dativo.contracts.partitioning import PartitionField, partition_problems
from airflow_provider_dativo.contracts.regex_syntax import plainly_valid


def check_fields(raw_fields: list[RawField], issues: Issues) -> list[FieldSpec]:
    specs: list[FieldSpec] = []
    seen: dict[str, str] = {}
    for raw in raw_fields:
        before = len(issues.items)
        values = dict(raw.values)
        name = values.get("name")
        if not isinstance(name, str) or not name:
            issues.add(raw.path("name"), "field name is required")
            continue
        folded = name.lower()
        if folded in seen:
            issues.add(
                raw.path("name"),
                f"duplicate field name {name!r} (already declared at {seen[folded]}); "
                "names are compared case-insensitively",
            )
        else:
            seen[folded] = raw.path("name")
        if name.startswith(RESERVED_PREFIX):
            issues.add(
                raw.path("name"), f"field names starting with {RESERVED_PREFIX!r} are reserved"
            )
        try:
            values["type"] = canonical_type(str(values.get("type")))
        except ValueError as exc:
            issues.add(raw.path("type"), str(exc))
            continue
        if not _check_shapes(values, raw, issues):
            continue
        for check in _FIELD_CHECKS:
            check(name, values, raw, issues)
        if len(issues.items) == before:
            if "format" in values and values["type"] in TEMPORAL_TYPES:
                values["format"] = strptime_format(values["format"])
            if "enum" in values:
                values["enum"] = tuple(values["enum"])
            if "tags" in values:
                values["tags"] = tuple(values["tags"])
            if raw.children is not None:
                values["fields"] = tuple(check_fields(raw.children, issues))
            if raw.item is not None:
                element = check_fields([raw.item], issues)
                values["items"] = element[0] if element else None
            if len(issues.items) == before:
                specs.append(FieldSpec(**values))
    return specs


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


_SHAPES: Final[dict[str, tuple[Callable[[Any], bool], str]]] = {
    **dict.fromkeys(
        ("required", "unique", "primary_key", "allow_nul"),
        (lambda v: isinstance(v, bool), "a boolean"),
    ),
    **dict.fromkeys(
        ("pattern", "format", "description", "classification"),
        (lambda v: isinstance(v, str), "a string"),
    ),
    **dict.fromkeys(
        ("minimum", "maximum"),
        (lambda v: _is_number(v) or isinstance(v, str), "a number (or a date for dates)"),
    ),
    **dict.fromkeys(
        ("min_length", "max_length", "precision", "scale", "min_items", "max_items"),
        (_is_count, "a non-negative integer"),
    ),
    **dict.fromkeys(
        ("exclusive_minimum", "exclusive_maximum"), (lambda v: isinstance(v, bool), "a boolean")
    ),
    "tags": (
        lambda v: isinstance(v, list | tuple) and all(isinstance(t, str) for t in v),
        "a list of strings",
    ),
}


def _check_shapes(values: dict[str, Any], raw: RawField, issues: Issues) -> bool:
    """Shape checks the JSON Schema already makes, repeated so unvalidated input cannot crash."""
    ok = True
    for key, (valid, expected) in _SHAPES.items():
        if values.get(key) is not None and not valid(values[key]):
            issues.add(raw.path(key), f"{key} must be {expected}")
            ok = False
    return ok


def _check_system_column(
    name: str, values: dict[str, Any], raw: RawField, issues: Issues
) -> None:
    if name == INGEST_DATE and values["type"] != "date":
        issues.add(
            raw.path("type"),
            f"{INGEST_DATE} is the system load-date column dativo fills; its type must be date",
        )


def _check_applicability(
    name: str, values: dict[str, Any], raw: RawField, issues: Issues
) -> None:
    type_ = values["type"]
    rules: tuple[tuple[tuple[str, ...], frozenset[str], str], ...] = (
        (("enum",), ENUM_TYPES, "enum needs a scalar type"),
        (("pattern", "min_length", "max_length"), frozenset({"string"}), "applies to strings only"),
        (("allow_nul",), TEXT_TYPES, "applies to string and json only"),
        (("minimum", "maximum"), NUMERIC_TYPES | TEMPORAL_TYPES | {"time"},
         "applies to numeric, date and time types only"),
        (("min_items", "max_items"), frozenset({"list"}), "applies to arrays only"),
        (("precision", "scale"), frozenset({"decimal"}), "applies to decimal only"),
        (("format",), FORMAT_TYPES, "applies to string, date and timestamp types only"),
    )
    for keys, allowed, why in rules:
        for key in keys:
            if key in values and values[key] is not None and type_ not in allowed:
                issues.add(raw.path(key), f"{key} {why}; field {name!r} is {type_}")


def _temporal_bound(type_: str, value: Any) -> Any:
    """A date, datetime or time bound parsed from its ISO 8601 text; ValueError if it is not."""
    from datetime import time

    text = str(value)
    if type_ == "date":
        return date.fromisoformat(text[:10]) if len(text) > 10 else date.fromisoformat(text)
    if type_ == "time":
        return time.fromisoformat(text)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed.replace(tzinfo=None) if parsed.tzinfo is not None else parsed


def _check_bound_kinds(
    name: str, values: dict[str, Any], raw: RawField, issues: Issues
) -> None:
    type_ = values["type"]
    for key in ("minimum", "maximum"):
        value = values.get(key)
        if value is None:
            continue
        if type_ in NUMERIC_TYPES and not _is_number(value):
            issues.add(raw.path(key), f"{key} of numeric field {name!r} must be a number")
        elif type_ in TEMPORAL_TYPES | {"time"}:
            try:
                _temporal_bound(type_, value)
            except ValueError:
                issues.add(raw.path(key), f"{key} {value!r} of {type_} field {name!r} is not an "
                           "ISO 8601 value; write it as 2024-01-31 or 2024-01-31T12:00:00Z")


def _check_ranges(name: str, values: dict[str, Any], raw: RawField, issues: Issues) -> None:
    pairs = (("minimum", "maximum"), ("min_length", "max_length"), ("min_items", "max_items"))
    for low_key, high_key in pairs:
        low, high = values.get(low_key), values.get(high_key)
        if low_key == "minimum" and values["type"] in TEMPORAL_TYPES | {"time"}:
            try:
                low, high = (None if v is None else _temporal_bound(values["type"], v)
                             for v in (low, high))
            except ValueError:
                continue
        elif low_key == "minimum" and not (_is_number(low) and _is_number(high)):
            continue
        if low is not None and high is not None and low > high:
            issues.add(raw.path(low_key), f"{low_key} {low} is greater than {high_key} {high}")
    precision, scale = values.get("precision"), values.get("scale")
    if precision is not None and not 1 <= precision <= MAX_DECIMAL_PRECISION:
        issues.add(
            raw.path("precision"), f"precision must be between 1 and {MAX_DECIMAL_PRECISION}"
        )
    if scale is not None and values["type"] == "decimal":
        if precision is None:
            issues.add(raw.path("scale"), "scale needs a precision")
        elif scale > precision:
            issues.add(raw.path("scale"), f"scale {scale} is greater than precision {precision}")


def _check_pattern(name: str, values: dict[str, Any], raw: RawField, issues: Issues) -> None:
    pattern = values.get("pattern")
    if not isinstance(pattern, str) or plainly_valid(pattern):
        return
    # Imported here: loading a job whose patterns are in the common syntax (as the DAG loader
    # does on every parse) then needs no pyarrow.
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        # Compile with the engine (RE2) that evaluates it, not Python's re, whose syntax differs.
        pc.match_substring_regex(pa.array([""]), pattern)
    except pa.ArrowInvalid as exc:
        issues.add(raw.path("pattern"), f"invalid regular expression: {exc}")


def _check_format(name: str, values: dict[str, Any], raw: RawField, issues: Issues) -> None:
    fmt = values.get("format")
    if isinstance(fmt, str) and values["type"] in TEMPORAL_TYPES:
        try:
            strptime_format(fmt)
        except ValueError as exc:
            issues.add(raw.path("format"), str(exc))


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _enum_value_ok(type_: str, value: Any) -> bool:
    if type_ in ("string",):
        return isinstance(value, str)
    if type_ == "boolean":
        return isinstance(value, bool)
    if type_ == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if type_ in NUMERIC_TYPES:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if not isinstance(value, str):
        return False
    try:
        if type_ == "date":
            return bool(_ISO_DATE.match(value)) and bool(date.fromisoformat(value))
        if type_ in TIMESTAMP_TYPES:
            return bool(datetime.fromisoformat(value))
    except ValueError:
        return False
    return False


def _check_enum(name: str, values: dict[str, Any], raw: RawField, issues: Issues) -> None:
    enum = values.get("enum")
    type_ = values["type"]
    if enum is None or type_ not in ENUM_TYPES:
        return
    if not isinstance(enum, list | tuple) or not enum:
        issues.add(raw.path("enum"), "enum must be a non-empty list of values")
        return
    bad = [v for v in enum if not _enum_value_ok(type_, v)]
    if bad:
        shown = ", ".join(repr(v) for v in bad)
        hint = " (ISO 8601 text)" if type_ in TEMPORAL_TYPES else ""
        issues.add(raw.path("enum"), f"enum values {shown} are not {type_} values{hint}")


_FIELD_CHECKS: Final[tuple[Callable[[str, dict[str, Any], RawField, Issues], None], ...]] = (
    _check_system_column,
    _check_applicability,
    _check_bound_kinds,
    _check_ranges,
    _check_pattern,
    _check_format,
    _check_enum,
)


def check_partitions(
    partitions: list[RawPartition], raw_fields: list[RawField], issues: Issues
) -> list[PartitionField]:
    types: dict[str, str] = {}
    for raw in raw_fields:
        name, type_ = raw.values.get("name"), raw.values.get("type")
        if isinstance(name, str):
            try:
                types.setdefault(name, canonical_type(str(type_)))
            except ValueError:
                continue
    types.setdefault(INGEST_DATE, "date")
    read: list[tuple[PartitionField, str]] = []
    for part in partitions:
        try:
            read.append((PartitionField(part.column, part.transform), part.path))
        except ValueError:
            issues.add(part.path, f"unknown partition transform {part.transform!r}")
    fields = [field for field, _ in read]
    bad = dict(partition_problems(
        fields, types.get,
        lambda column: f"partition column {column!r} is neither a field of the schema nor the "
                       f"system column {INGEST_DATE!r}"))
    for index, message in bad.items():
        issues.add(read[index][1], message)
    return [field for index, field in enumerate(fields) if index not in bad]


