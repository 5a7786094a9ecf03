"""Per-row quality rules: the column rules that tolerate no bad row, run vectorized on every
batch beside the contract's own checks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from airflow_provider_dativo.contracts._quality_rule import (
    SYMBOL,
    VALUE_METRICS,
    QualityRule,
    rules_of,
)

if TYPE_CHECKING:
    import pyarrow as pa

    from airflow_provider_dativo.contracts.model import Contract, FieldSpec


@dataclass(frozen=True)
class _RowCheck:
    rule: QualityRule
    spec: FieldSpec
    values: Any  # typed listed values (pa.Array) by option, or typed bounds


@lru_cache(maxsize=128)
def _row_checks(contract: Contract) -> tuple[_RowCheck, ...]:
    import dataclasses

    from airflow_provider_dativo.contracts.arrow_types import arrow_schema

    schema = arrow_schema(contract)
    checks: list[_RowCheck] = []
    for rule in rules_of(contract):
        if not rule.per_row:
            continue
        spec = contract.field(rule.column or "")
        type_ = schema.field(spec.name).type
        iso = dataclasses.replace(spec, format=None)
        typed: dict[str, Any] = {}
        for key in ("missingValues", "validValues", "invalidValues"):
            listed = rule.option(key, (None, "") if key == "missingValues" else None)
            if listed is not None:
                typed[key] = _typed_values([v for v in listed if v is not None], iso, type_)
        if rule.metric in VALUE_METRICS:
            bounds = rule.bound if isinstance(rule.bound, tuple) else (rule.bound,)
            typed["bounds"] = _typed_values(list(bounds), iso, type_)
        checks.append(_RowCheck(rule, spec, typed))
    return tuple(checks)


def _typed_values(values: list[Any], spec: FieldSpec, type_: pa.DataType) -> pa.Array:
    """Listed values converted the way the column's data is, so comparisons are exact."""
    import pyarrow as pa

    from airflow_provider_dativo.contracts._conform import conform

    if spec.type in ("date", "timestamp", "timestamptz", "time", "uuid") or \
            pa.types.is_string(type_):
        raw = pa.array([str(v) for v in values], pa.string())
    else:
        raw = pa.array(values)
    typed, _ = conform(raw, spec, type_)
    return typed


def row_failures(contract: Contract,
                 columns: Mapping[str, pa.Array]) -> list[tuple[str, str, pa.Array]]:
    """``(rule name, reason, mask of failing rows)`` for the per-row rules of ``contract``."""
    checks = _row_checks(contract)
    if not checks:
        return []
    import pyarrow as pa
    import pyarrow.compute as pc

    found = []
    for check in checks:
        values = columns[check.spec.name]
        if isinstance(values, pa.ExtensionArray):
            values = values.storage
        found.append((check.rule.name, check.rule.reason(),
                      pc.fill_null(_row_mask(check, values), False)))
    return found


def _row_mask(check: _RowCheck, values: pa.Array) -> pa.Array:
    import pyarrow.compute as pc

    rule, typed = check.rule, check.values
    if rule.metric == "nullValues":
        return pc.is_null(values)
    if rule.metric == "missingValues":
        return pc.or_(pc.is_null(values), pc.is_in(values, value_set=typed["missingValues"]))
    bad: list[pa.Array] = []
    if "validValues" in typed:
        bad.append(pc.invert(pc.is_in(values, value_set=typed["validValues"])))
    if "invalidValues" in typed and rule.metric == "invalidValues":
        bad.append(pc.is_in(values, value_set=typed["invalidValues"]))
    if rule.metric == "invalidValues" and rule.option("pattern") is not None:
        text = values if _is_text(values) else pc.cast(values, "string")
        bad.append(pc.invert(pc.match_substring_regex(text, f"^(?:{rule.option('pattern')})$")))
    if rule.metric in VALUE_METRICS:
        bounds = typed["bounds"]
        if rule.operator in ("mustBeBetween", "mustNotBeBetween"):
            inside = pc.and_(pc.greater_equal(values, bounds[0]), pc.less_equal(values, bounds[1]))
            bad.append(pc.invert(inside) if rule.operator == "mustBeBetween" else inside)
        else:
            kernel = {">": pc.greater, ">=": pc.greater_equal, "<": pc.less,
                      "<=": pc.less_equal}[SYMBOL[rule.operator or "mustBe"]]
            bad.append(pc.invert(kernel(values, bounds[0])))
    if not bad:
        return pc.and_(pc.is_null(values), pc.is_valid(values))  # no row
    mask = bad[0]
    for more in bad[1:]:
        mask = pc.or_(mask, more)
    return pc.and_(pc.is_valid(values), mask)


def _is_text(values: pa.Array) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_string(values.type) or pa.types.is_large_string(values.type))

