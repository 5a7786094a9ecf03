"""Values to text: binary that must be UTF-8, any Arrow value as text, and JSON text."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.compute as pc

from airflow_provider_dativo.contracts._arrays import (
    _NULL_TEXT,
    _STRING,
    Conformed,
    _is_nested,
    _mask,
    is_binary,
    is_text,
    normalise,
)


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
