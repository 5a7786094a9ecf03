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

import json

import pyarrow as pa
import pyarrow.compute as pc

from airflow_provider_dativo.contracts.model import FieldSpec

Conformed = tuple[pa.Array, pa.Array | None]

_STRING = pa.string()
_NULL_TEXT = pa.scalar(None, _STRING)
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

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
# Types converted by _conform_more (full ODCS contracts only).
_MORE = frozenset({"int32", "time", "uuid", "struct", "list"})
_TRUE = pa.array(["true", "t", "yes", "y", "1"])
_FALSE = pa.array(["false", "f", "no", "n", "0"])


# --- small helpers -------------------------------------------------------------------------------


def _mask(values: pa.Array) -> pa.Array:
    return pc.fill_null(values, False)


def _failed(source: pa.Array, ok: pa.Array) -> pa.Array:
    """Rows where ``source`` had a value but ``ok`` is not true."""
    return pc.and_(pc.is_valid(source), pc.invert(_mask(ok)))


def _all_bad(raw: pa.Array, target: pa.DataType) -> Conformed:
    return pa.nulls(len(raw), target), pc.is_valid(raw)


def _none_if_clean(bad: pa.Array) -> pa.Array | None:
    return bad if pc.any(bad).as_py() else None


def is_text(type_: pa.DataType) -> bool:
    return bool(
        pa.types.is_string(type_)
        or pa.types.is_large_string(type_)
        or pa.types.is_string_view(type_)
    )


def is_binary(type_: pa.DataType) -> bool:
    return bool(
        pa.types.is_binary(type_)
        or pa.types.is_large_binary(type_)
        or pa.types.is_fixed_size_binary(type_)
        or pa.types.is_binary_view(type_)
    )


def _is_number(type_: pa.DataType) -> bool:
    return bool(
        pa.types.is_integer(type_) or pa.types.is_floating(type_) or pa.types.is_decimal(type_)
    )


def _is_nested(type_: pa.DataType) -> bool:
    return bool(pa.types.is_nested(type_))


def normalise(raw: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A plain, non-dictionary array (chunked and dictionary input is common from readers)."""
    if isinstance(raw, pa.ChunkedArray):
        raw = pa.concat_arrays(raw.chunks) if raw.num_chunks else pa.array([], raw.type)
    if isinstance(raw, pa.ExtensionArray):
        raw = raw.storage
    if pa.types.is_dictionary(raw.type):
        raw = raw.dictionary_decode()
    return raw


def _blank_to_null(text: pa.Array) -> pa.Array:
    # ASCII trimming is several times faster, and values with other spaces are invalid anyway.
    trimmed = pc.ascii_trim_whitespace(text)
    return pc.if_else(pc.equal(trimmed, ""), _NULL_TEXT, trimmed)


# --- text → typed --------------------------------------------------------------------------------


def _parse_int(text: pa.Array) -> Conformed:
    clean = _blank_to_null(text)
    try:
        # Arrow's integer cast takes only [-]digits and 0x-hex, so a batch without "x" that it
        # takes whole holds exactly the values _INT_RE admits; the regex costs 3x the cast.
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


# --- typed → typed -------------------------------------------------------------------------------


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


# --- typed → text --------------------------------------------------------------------------------


def _bad_utf8_positions(raw: pa.Array, offset: int = 0) -> list[int]:
    # Arrow has no per-value UTF-8 check; halving finds k bad values in O(k log n) casts.
    try:
        pc.cast(raw, _STRING)
        return []
    except pa.ArrowInvalid:
        if len(raw) == 1:
            return [offset]
        mid = len(raw) // 2
        return _bad_utf8_positions(raw[:mid], offset) + _bad_utf8_positions(raw[mid:], offset + mid)


def _falses(length: int) -> pa.Array:
    return pc.fill_null(pa.nulls(length, pa.bool_()), False)


def _positions_mask(length: int, positions: list[int]) -> pa.Array:
    pieces: list[pa.Array] = []
    previous = 0
    for position in positions:
        pieces.extend([_falses(position - previous), pa.array([True])])
        previous = position + 1
    pieces.append(_falses(length - previous))
    return pa.concat_arrays(pieces)


def binary_to_text(raw: pa.Array) -> Conformed:
    """Bytes decoded as UTF-8; values that are not UTF-8 fail rather than break the batch."""
    try:
        return pc.cast(raw, _STRING), None
    except pa.ArrowInvalid:
        pass
    bad = _positions_mask(len(raw), _bad_utf8_positions(raw))
    kept = pc.if_else(bad, pa.scalar(None, raw.type), raw)
    return pc.cast(kept, _STRING), bad


def as_text(raw: pa.Array) -> pa.Array:
    """The input as text, as close to what the source sent as Arrow allows (nested → JSON)."""
    raw = normalise(raw)
    source = raw.type
    if pa.types.is_null(source):
        return pa.nulls(len(raw), _STRING)
    if is_text(source):
        return pc.cast(raw, _STRING)
    if pa.types.is_boolean(source):
        return pc.if_else(raw, "true", "false")
    if is_binary(source):
        return binary_to_text(raw)[0]
    if _is_nested(source):
        return json_text(raw)
    try:
        return pc.cast(raw, _STRING)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.nulls(len(raw), _STRING)


# --- JSON text -----------------------------------------------------------------------------------

_SHORT_ESCAPES = {"\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _json_string(text: pa.Array) -> pa.Array:
    escaped = pc.replace_substring(text, "\\", "\\\\")
    escaped = pc.replace_substring(escaped, '"', '\\"')
    if pc.any(_mask(pc.match_substring_regex(escaped, r"[\x00-\x1f]"))).as_py():
        for code in range(0x20):
            char = chr(code)
            escaped = pc.replace_substring(
                escaped, char, _SHORT_ESCAPES.get(char, f"\\u{code:04x}")
            )
    return pc.binary_join_element_wise('"', escaped, '"', "")


def _json_list(values: pa.Array, lengths: pa.Array, missing: pa.Array) -> pa.Array:
    """``[a,b]`` texts from flattened child texts and per-row lengths."""
    offsets = pa.concat_arrays(
        [
            pa.array([0], pa.int64()),
            pc.cumulative_sum(pc.cast(pc.fill_null(lengths, 0), pa.int64())),
        ]
    )
    nested = pa.LargeListArray.from_arrays(offsets, values, mask=missing)
    return pc.binary_join_element_wise("[", pc.binary_join(nested, ","), "]", "")


def _json_values(raw: pa.Array) -> pa.Array:
    """JSON text for every slot, ``null`` for missing values (as JSON, not Arrow null)."""
    raw = normalise(raw)
    source = raw.type
    if pa.types.is_null(source):
        text = pa.nulls(len(raw), _STRING)
    elif is_text(source):
        text = _json_string(pc.cast(raw, _STRING))
    elif pa.types.is_boolean(source):
        text = pc.if_else(raw, "true", "false")
    elif pa.types.is_integer(source) or pa.types.is_decimal(source):
        text = pc.cast(raw, _STRING)
    elif pa.types.is_floating(source):
        # JSON has no NaN or infinity.
        finite = _mask(pc.is_finite(raw))
        text = pc.if_else(finite, pc.cast(raw, _STRING), _NULL_TEXT)
    elif pa.types.is_struct(source) and source.num_fields == 0:
        text = pc.fill_null(pa.nulls(len(raw), _STRING), "{}")
    elif pa.types.is_struct(source):
        pieces: list[pa.Array | str] = ["{"]
        for i, child in enumerate(raw.flatten()):
            key = json.dumps(source.field(i).name)
            pieces.extend(["," if i else "", f"{key}:", _json_values(child)])
        pieces.append("}")
        joined = pc.binary_join_element_wise(*pieces, "")
        text = pc.if_else(pc.is_valid(raw), joined, _NULL_TEXT)
    elif pa.types.is_map(source):
        entries_type = pa.list_(pa.struct([source.key_field, source.item_field]))
        entries = pc.cast(raw, entries_type)
        flat = pc.list_flatten(entries)
        keys, items = flat.flatten()
        pairs = pc.binary_join_element_wise(
            _json_string(as_text(keys)), ":", _json_values(items), ""
        )
        listed = _json_list(pairs, pc.list_value_length(entries), pc.is_null(raw))
        text = pc.binary_join_element_wise("{", pc.utf8_slice_codeunits(listed, 1, -1), "}", "")
    elif (
        pa.types.is_list(source)
        or pa.types.is_large_list(source)
        or pa.types.is_fixed_size_list(source)
        or pa.types.is_list_view(source)
        or pa.types.is_large_list_view(source)
    ):
        text = _json_list(
            _json_values(pc.list_flatten(raw)), pc.list_value_length(raw), pc.is_null(raw)
        )
    else:
        text = _json_string(as_text(raw))
    return pc.fill_null(text, "null")


def json_text(raw: pa.Array) -> pa.Array:
    """JSON text of each value; Arrow null stays null so ``required`` still sees it."""
    raw = normalise(raw)
    text = _json_values(raw)
    return pc.if_else(pc.is_valid(raw), text, _NULL_TEXT)
