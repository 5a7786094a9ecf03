"""The array helpers every conversion of ``_conform`` shares: masks, failures, text kinds.

``Conformed`` is what each conversion returns: ``(values, bad)``, see ``_conform``.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

Conformed = tuple[pa.Array, pa.Array | None]

_STRING = pa.string()
_NULL_TEXT = pa.scalar(None, _STRING)
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


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


