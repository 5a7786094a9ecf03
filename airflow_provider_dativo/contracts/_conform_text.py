"""Text to the contract's types: our own regexes pick the rows a cast may take.

See ``_conform`` for the contract every conversion keeps.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from airflow_provider_dativo.contracts._arrays import (
    _INT64_MAX,
    _INT64_MIN,
    _NULL_TEXT,
    Conformed,
    _blank_to_null,
    _failed,
    _mask,
    _none_if_clean,
)
from airflow_provider_dativo.contracts.model import FieldSpec

_INT_RE = r"^[+-]?\d+(\.0*)?$"
_FLOAT_RE = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_DIGITLESS = pa.array(["+", "-", ".", "+.", "-."])
# Days are checked against their month here, so only 29 February of a common year gets past
# the regex; checking in the regex is far cheaper than a second parse of every value.
_DATE_PART = (
    r"\d{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\d|3[01])"
    r"|(?:0[469]|11)-(?:0[1-9]|[12]\d|30)"
    r"|02-(?:0[1-9]|1\d|2\d))"
)
_DATE_RE = rf"^{_DATE_PART}$"
# ISO 8601 as sources write it: date, optional [T ]hh[:mm[:ss[.fraction]]], optional offset.
# Ranges are checked here because strptime rolls 23:59:61 over into the next minute.
_TIMESTAMP_RE = (
    rf"^(?P<date>{_DATE_PART})"
    r"(?:[Tt ](?P<hh>[01]\d|2[0-3])"
    r"(?::(?P<mi>[0-5]\d)(?::(?P<ss>[0-5]\d)(?:[.,](?P<frac>\d+))?)?)?)?"
    r"\s*(?P<tz>[Zz]|[+-](?:[01]\d|2[0-3])(?::?[0-5]\d)?)?$"
)
_ZONE_SUFFIX_RE = r"([Zz]|[+-]\d{2}(:?\d{2})?)$"
_TRUE = pa.array(["true", "t", "yes", "y", "1"])
_FALSE = pa.array(["false", "f", "no", "n", "0"])



def _parse_int(text: pa.Array) -> Conformed:
    clean = _blank_to_null(text)
    try:
        # Arrow's integer cast takes only [-]digits and 0x-hex, so a batch without "x" that it
        # takes whole holds exactly the values _INT_RE admits; the regex costs more than the cast.
        values = pc.cast(clean, pa.int64())
        if not pc.any(pc.match_substring(clean, "x", ignore_case=True)).as_py():
            return values, None
    except pa.ArrowInvalid:
        pass
    ok = _mask(pc.match_substring_regex(clean, _INT_RE))
    bad = _failed(clean, ok)
    candidate = pc.if_else(ok, clean, _NULL_TEXT)
    try:
        return pc.cast(candidate, pa.int64()), _none_if_clean(bad)
    except pa.ArrowInvalid:
        pass
    # Rewriting is costly, so only a failed cast pays for dropping "+" and ".0" and retrying.
    candidate = pc.replace_substring_regex(candidate, r"^\+|\.0*$", "")
    try:
        return pc.cast(candidate, pa.int64()), _none_if_clean(bad)
    except pa.ArrowInvalid:
        pass
    # Only out-of-range values are left; measure them as decimals, which hold 38 digits.
    stripped = pc.replace_substring_regex(candidate, r"^(-?)0+(\d)", r"\1\2")
    too_long = _mask(pc.greater(pc.utf8_length(stripped), 20))
    wide = pc.cast(pc.if_else(too_long, _NULL_TEXT, stripped), pa.decimal128(38, 0))
    out_of_range = _mask(
        pc.or_(
            pc.greater(wide, pa.scalar(_INT64_MAX, pa.decimal128(38, 0))),
            pc.less(wide, pa.scalar(_INT64_MIN, pa.decimal128(38, 0))),
        )
    )
    overflow = pc.or_(too_long, out_of_range)
    values = pc.cast(pc.if_else(overflow, _NULL_TEXT, stripped), pa.int64())
    return values, pc.or_(bad, overflow)


def _parse_float(text: pa.Array, target: pa.DataType) -> Conformed:
    clean = _blank_to_null(text)
    try:
        # Arrow's float cast also takes "nan", "inf" and "Infinity", which _FLOAT_RE refuses;
        # they (and overflow to inf) are the only texts giving NaN or inf, so a batch without
        # either needs no regex.
        values = pc.cast(clean, pa.float64())
        if not pc.any(pc.or_(pc.is_nan(values), pc.is_inf(values))).as_py():
            if target != pa.float64():
                return _parse_float_slow(clean, target)
            return values, None
    except pa.ArrowInvalid:
        pass
    return _parse_float_slow(clean, target)


def _parse_float_slow(clean: pa.Array, target: pa.DataType) -> Conformed:
    ok = _mask(pc.match_substring_regex(clean, _FLOAT_RE))
    values = pc.cast(pc.if_else(ok, clean, _NULL_TEXT), pa.float64())
    if target != pa.float64():
        values = pc.cast(values, target, safe=False)
    # 1e999 parses to inf; the text named a number the type cannot hold.
    overflow = _mask(pc.is_inf(values))
    values = pc.if_else(overflow, pa.scalar(None, target), values)
    return values, _none_if_clean(pc.or_(_failed(clean, ok), overflow))


def _parse_decimal(text: pa.Array, target: pa.Decimal128Type) -> Conformed:
    clean = _blank_to_null(text)
    whole, scale = target.precision - target.scale, target.scale
    # A value fits when its significant integer digits and fraction digits fit; trailing zeros
    # of the fraction are not data, so 1.230 is a decimal(10,2).
    fits = rf"^[+-]?0*\d{{0,{whole}}}(\.\d{{0,{scale}}}0*)?$"
    # ``fits`` also admits the digitless "+", "-." and the like, which is all _DECIMAL_RE adds.
    ok = pc.and_(
        _mask(pc.match_substring_regex(clean, fits)),
        pc.invert(pc.is_in(clean, value_set=_DIGITLESS)),
    )
    values = pc.cast(pc.if_else(ok, clean, _NULL_TEXT), target)
    return values, _none_if_clean(_failed(clean, ok))


def _parse_bool(text: pa.Array) -> Conformed:
    lower = pc.utf8_lower(_blank_to_null(text))
    is_true = pc.is_in(lower, value_set=_TRUE)
    is_false = pc.is_in(lower, value_set=_FALSE)
    values = pc.if_else(is_true, True, pc.if_else(is_false, False, pa.scalar(None, pa.bool_())))
    return values, _none_if_clean(_failed(lower, pc.or_(is_true, is_false)))


def _real_day(parsed: pa.Array, date_text: pa.Array) -> pa.Array:
    # strptime turns 2024-02-30 into 2024-03-01; a real date keeps its day of month.
    day = pc.cast(pc.utf8_slice_codeunits(date_text, 8, 10), pa.int64())
    return _mask(pc.equal(pc.day(parsed), day))


def _parse_date(text: pa.Array, fmt: str | None) -> Conformed:
    clean = _blank_to_null(text)
    if fmt is not None:
        parsed = pc.strptime(clean, format=fmt, unit="s", error_is_null=True)
        values = pc.cast(parsed, pa.date32(), safe=False)
        return values, _none_if_clean(_failed(clean, pc.is_valid(parsed)))
    ok = _mask(pc.match_substring_regex(clean, _DATE_RE))
    candidate = pc.if_else(ok, clean, _NULL_TEXT)
    try:
        values = pc.cast(candidate, pa.date32())
    except pa.ArrowInvalid:
        parsed = pc.strptime(candidate, format="%Y-%m-%d", unit="s", error_is_null=True)
        real = _real_day(parsed, candidate)
        ok = pc.and_(ok, real)
        values = pc.cast(pc.if_else(real, parsed, pa.scalar(None, parsed.type)), pa.date32())
    return values, _none_if_clean(_failed(clean, ok))


def _in_zone(values: pa.Array, target: pa.TimestampType) -> pa.Array:
    """UTC-based timestamps in the target's zone flavour (naive values are taken as UTC)."""
    if values.type.unit != "us":
        values = pc.cast(values, pa.timestamp("us", values.type.tz), safe=False)
    if target.tz is None and values.type.tz is not None:
        # A zoned value becomes its UTC wall time; Arrow stores the instant as UTC already.
        return pc.cast(values, pa.timestamp("us"))
    return pc.cast(values, target)


def _timestamp_by_parts(clean: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Naive UTC values and the rows that parsed, taking every ISO spelling apart piece by piece.

    The slow, general route: used only when the batch has spellings Arrow's parser rejects even
    after :func:`_parse_timestamp` tidied them.
    """
    parts = pc.extract_regex(clean, _TIMESTAMP_RE)
    ok = pc.is_valid(parts)
    # Children of unmatched rows are empty strings, not nulls.
    date = pc.if_else(ok, parts.field("date"), _NULL_TEXT)

    def part(name: str, default: str) -> pa.Array:
        value = parts.field(name)
        return pc.if_else(pc.equal(value, ""), default, value)

    clock = [part("hh", "00"), ":", part("mi", "00"), ":", part("ss", "00")]
    seconds_text = pc.if_else(ok, pc.binary_join_element_wise(date, "T", *clock, ""), _NULL_TEXT)
    parsed = pc.strptime(seconds_text, format="%Y-%m-%dT%H:%M:%S", unit="us", error_is_null=True)
    real = _real_day(parsed, date)
    micros = pc.utf8_slice_codeunits(pc.utf8_rpad(parts.field("frac"), 6, "0"), 0, 6)
    fraction = pc.cast(pc.cast(micros, pa.int64()), pa.duration("us"))
    naive = pc.if_else(real, pc.add(parsed, fraction), pa.scalar(None, parsed.type))

    zone = parts.field("tz")
    digits = pc.replace_substring(pc.utf8_slice_codeunits(zone, 1, 6), ":", "")

    def number(start: int) -> pa.Array:
        piece = pc.utf8_slice_codeunits(digits, start, start + 2)
        return pc.cast(pc.if_else(pc.equal(piece, ""), "0", piece), pa.int64())

    seconds = pc.add(pc.multiply(number(0), 3600), pc.multiply(number(2), 60))
    signed = pc.if_else(pc.starts_with(zone, "-"), pc.negate(seconds), seconds)
    offset = pc.cast(pc.multiply(signed, 1_000_000), pa.duration("us"))
    return pc.subtract(naive, offset), pc.and_(ok, real)


def _tidy_timestamps(text: pa.Array) -> pa.Array:
    """Rewrite rare ISO spellings (``t``, ``z``, ``,`` fraction, space before the offset,
    sub-microsecond digits) into the ones Arrow's parser takes."""
    text = pc.replace_substring_regex(text, r"^(.{10})t", r"\1T")
    text = pc.replace_substring(text, ",", ".")
    text = pc.replace_substring(text, "z", "Z")
    text = pc.replace_substring_regex(text, r"\s+([Z+-])", r"\1")
    return pc.replace_substring_regex(text, r"(\.\d{6})\d+", r"\1")


def _parse_timestamp(text: pa.Array, target: pa.TimestampType, fmt: str | None) -> Conformed:
    clean = _blank_to_null(text)
    if fmt is not None:
        parsed = pc.strptime(clean, format=fmt, unit="us", error_is_null=True)
        return _in_zone(parsed, target), _none_if_clean(_failed(clean, pc.is_valid(parsed)))
    try:
        # Arrow's parser accepts a subset of _TIMESTAMP_RE with the same meaning, so when it
        # takes the whole batch the slower routes below would give the same values.
        return pc.cast(clean, target), None
    except pa.ArrowInvalid:
        pass

    ok = _mask(pc.match_substring_regex(clean, _TIMESTAMP_RE))
    candidate = pc.if_else(ok, clean, _NULL_TEXT)
    dates = pc.utf8_slice_codeunits(candidate, 0, 10)
    try:
        pc.cast(dates, pa.date32())
    except pa.ArrowInvalid:
        day = pc.strptime(dates, format="%Y-%m-%d", unit="s", error_is_null=True)
        real = _real_day(day, dates)
        ok = pc.and_(ok, real)
        candidate = pc.if_else(real, candidate, _NULL_TEXT)
    # Give every value a clock and an offset so one zoned cast reads them all; values without
    # an offset are UTC.
    date_only = _mask(pc.equal(pc.utf8_length(candidate), 10))
    zoned = _mask(pc.match_substring_regex(candidate, _ZONE_SUFFIX_RE))
    suffix = pc.if_else(date_only, "T00Z", pc.if_else(zoned, "", "Z"))
    complete = pc.binary_join_element_wise(candidate, suffix, "")
    try:
        utc = pc.cast(complete, pa.timestamp("us", tz="UTC"))
    except pa.ArrowInvalid:
        try:
            utc = pc.cast(_tidy_timestamps(complete), pa.timestamp("us", tz="UTC"))
        except pa.ArrowInvalid:
            utc, ok = _timestamp_by_parts(clean)
    return _in_zone(utc, target), _none_if_clean(_failed(clean, ok))


def from_text(text: pa.Array, spec: FieldSpec, target: pa.DataType) -> Conformed:
    """Parse string input (CSV cells, JSON strings) into ``target``."""
    kind = spec.type
    if kind == "string":
        return text, None
    if kind == "json":
        from airflow_provider_dativo.contracts._json_check import invalid_json

        blank = pc.equal(pc.utf8_trim_whitespace(text), "")
        bad = invalid_json(text)
        missing = blank if bad is None else pc.or_(blank, bad)
        return pc.if_else(missing, _NULL_TEXT, text), bad
    if kind == "binary":
        return pc.cast(text, pa.binary()), None
    if kind == "integer":
        return _parse_int(text)
    if kind in ("float", "double"):
        return _parse_float(text, target)
    if kind == "decimal":
        assert isinstance(target, pa.Decimal128Type)
        return _parse_decimal(text, target)
    if kind == "boolean":
        return _parse_bool(text)
    if kind == "date":
        return _parse_date(text, spec.format)
    assert isinstance(target, pa.TimestampType)
    return _parse_timestamp(text, target, spec.format)


