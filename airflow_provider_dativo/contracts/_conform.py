"""Vectorised conversion of whatever a reader produced into the contract's Arrow types.

Every function takes whole arrays and returns ``(values, bad)``: ``values`` has the target type
with nulls where conversion failed, and ``bad`` is a null-free boolean mask of the rows whose
*non-null* input could not be converted (``None`` when no row failed). Inputs that were null, and
blank text for targets other than string and binary, are missing values rather than type errors;
the ``required`` rule decides about those.

Text is validated by our own RE2 regexes before a cast of the rows that passed. A value must be
accepted or rejected the same way whatever else is in its batch, and Arrow's casts alone would not
do that: the string-to-int cast accepts hex such as ``0x10``, yet one bad value makes the whole
cast fail. Arrow's ISO timestamp cast is tried first only because it accepts a subset of our
grammar with the same meaning.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from airflow_provider_dativo.contracts._arrays import (
    _INT64_MAX,
    _STRING,
    Conformed,
    _all_bad,
    _failed,
    _is_nested,
    _is_number,
    _mask,
    _none_if_clean,
    is_binary,
    is_text,
    normalise,
)
from airflow_provider_dativo.contracts._conform_text import (
    _in_zone,
    _parse_decimal,
    _parse_int,
    from_text,
)
from airflow_provider_dativo.contracts._conform_to_text import as_text, binary_to_text, json_text
from airflow_provider_dativo.contracts.model import FieldSpec

# Types converted by _conform_more (full ODCS contracts only).
_MORE = frozenset({"int32", "time", "uuid", "struct", "list"})

__all__ = ["Conformed", "as_text", "binary_to_text", "conform", "from_text", "is_binary",
           "is_text", "json_text", "normalise"]


def _numbers_to_int(raw: pa.Array) -> Conformed:
    if pa.types.is_integer(raw.type):
        try:
            return pc.cast(raw, pa.int64()), None
        except pa.ArrowInvalid:
            # Only uint64 can exceed int64.
            bad = _mask(pc.greater(raw, pa.scalar(_INT64_MAX, raw.type)))
            return pc.cast(pc.if_else(bad, pa.scalar(None, raw.type), raw), pa.int64()), bad
    if pa.types.is_floating(raw.type):
        as_double = pc.cast(raw, pa.float64())
        whole = pc.and_(
            _mask(pc.is_finite(as_double)),
            _mask(pc.equal(pc.floor(as_double), as_double)),
        )
        ok = pc.and_(whole, _mask(pc.less(pc.abs(as_double), float(2**63))))
        values = pc.cast(pc.if_else(ok, as_double, pa.scalar(None, pa.float64())), pa.int64())
        return values, _none_if_clean(_failed(raw, ok))
    try:
        return pc.cast(raw, pa.int64()), None
    except pa.ArrowInvalid:
        return _parse_int(as_text(raw))


def _numbers_to_float(raw: pa.Array, target: pa.DataType) -> Conformed:
    if pa.types.is_floating(raw.type):
        # A safe float cast does not catch overflow; values beyond float32 become inf.
        values = pc.cast(raw, target, safe=False)
        overflow = pc.and_(_mask(pc.is_inf(values)), pc.invert(_mask(pc.is_inf(raw))))
        values = pc.if_else(overflow, pa.scalar(None, target), values)
        return values, _none_if_clean(overflow)
    try:
        return pc.cast(raw, target), None
    except pa.ArrowInvalid:
        # Integers beyond the float mantissa lose precision, which a float column accepts.
        return pc.cast(raw, target, safe=False), None


def _numbers_to_decimal(raw: pa.Array, target: pa.Decimal128Type) -> Conformed:
    if pa.types.is_floating(raw.type):
        as_double = pc.cast(raw, pa.float64())
        limit = 10.0 ** (target.precision - target.scale)
        ok = pc.and_(
            _mask(pc.is_finite(as_double)),
            pc.and_(
                _mask(pc.equal(pc.round(as_double, target.scale), as_double)),
                _mask(pc.less(pc.abs(as_double), limit)),
            ),
        )
        kept = pc.if_else(ok, as_double, pa.scalar(None, pa.float64()))
        return pc.cast(kept, target, safe=False), _none_if_clean(_failed(raw, ok))
    try:
        return pc.cast(raw, target), None
    except pa.ArrowInvalid:
        return _parse_decimal(as_text(raw), target)


def _numbers_to_bool(raw: pa.Array) -> Conformed:
    is_one = _mask(pc.equal(raw, pa.scalar(1, raw.type)))
    is_zero = _mask(pc.equal(raw, pa.scalar(0, raw.type)))
    values = pc.if_else(is_one, True, pc.if_else(is_zero, False, pa.scalar(None, pa.bool_())))
    return values, _none_if_clean(_failed(raw, pc.or_(is_one, is_zero)))


def _temporal_to_date(raw: pa.Array) -> Conformed:
    if pa.types.is_date(raw.type):
        return pc.cast(raw, pa.date32()), None
    naive = _in_zone(raw, pa.timestamp("us"))
    day = pc.cast(naive, pa.date32(), safe=False)
    # A date column takes midnight timestamps only; anything else would drop the time.
    ok = _mask(pc.equal(pc.cast(day, pa.timestamp("us")), naive))
    return pc.if_else(ok, day, pa.scalar(None, pa.date32())), _none_if_clean(_failed(raw, ok))


def conform(raw: pa.Array, spec: FieldSpec, target: pa.DataType) -> Conformed:
    """Convert ``raw`` (any Arrow type) to ``target``, the Arrow type of ``spec``."""
    raw = normalise(raw)
    if pa.types.is_null(raw.type):
        return pa.nulls(len(raw), target), None
    if raw.type == target and spec.type != "json" and spec.type not in _MORE:
        return raw, None
    if spec.type in _MORE:
        from airflow_provider_dativo.contracts._conform_more import conform_more

        return conform_more(raw, spec, target)
    if is_text(raw.type):
        return from_text(pc.cast(raw, _STRING), spec, target)
    kind, source = spec.type, raw.type
    if kind == "json":
        return json_text(raw), None
    if kind == "string":
        if is_binary(source):
            return binary_to_text(raw)
        if _is_nested(source):
            return _all_bad(raw, target)
        return as_text(raw), None
    if kind == "binary":
        return (pc.cast(raw, pa.binary()), None) if is_binary(source) else _all_bad(raw, target)
    if _is_number(source):
        if kind == "integer":
            return _numbers_to_int(raw)
        if kind in ("float", "double"):
            return _numbers_to_float(raw, target)
        if kind == "decimal":
            assert isinstance(target, pa.Decimal128Type)
            return _numbers_to_decimal(raw, target)
        if kind == "boolean" and not pa.types.is_decimal(source):
            return _numbers_to_bool(raw)
        return _all_bad(raw, target)
    if pa.types.is_date(source) or pa.types.is_timestamp(source):
        if kind == "date":
            return _temporal_to_date(raw)
        if kind in ("timestamp", "timestamptz"):
            assert isinstance(target, pa.TimestampType)
            if pa.types.is_date(source):
                return _in_zone(pc.cast(raw, pa.timestamp("us")), target), None
            return _in_zone(raw, target), None
    return _all_bad(raw, target)


