"""Which texts of a ``json`` column are JSON documents, checked by Arrow's JSON reader.

A column's texts are read as JSON Lines in blocks: an object text is a line of its own, any other
text is wrapped as ``{"v": text}``. The reader checks the syntax of what it reads without typing
it (an empty explicit schema, every field ignored), so documents of any shape share a block. A
block is taken only when it gives one row per text; otherwise only that block is checked text by
text with :mod:`json` (strict, as RFC 8259: no NaN or Infinity).

Why the count and the extra rows matter: ``1,"w":2`` wrapped reads as one valid object with two
keys, so wrapped texts are read a second time with their keys inferred, and a block that shows a
key besides ``v`` is checked text by text too. Texts holding a line break are always checked one
by one, since a break would split the line, and so are texts spelling NaN or Infinity anywhere,
which Arrow's reader takes as numbers.
"""

from __future__ import annotations

import json
import math

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

BLOCK_ROWS = 65_536
# field metadata of a text column whose every value is a JSON document a serializer wrote (no
# text handed on as it came), which the contract check then takes without reading it again
_DOCUMENTS = {b"dativo.json": b"documents"}
_IGNORE_ALL = pa_json.ParseOptions(explicit_schema=pa.schema([]),
                                   unexpected_field_behavior="ignore")


def json_documents(field: pa.Field) -> pa.Field:
    """``field`` marked as holding JSON documents only (see ``holds_documents``)."""
    return field.with_metadata({**(field.metadata or {}), **_DOCUMENTS})


def holds_documents(field: pa.Field) -> bool:
    """Whether a text column was marked as holding JSON documents only, by the code that
    serialized every one of its values."""
    return pa.types.is_string(field.type) and bool(field.metadata) and all(
        field.metadata.get(key) == value for key, value in _DOCUMENTS.items())


def invalid_json(text: pa.Array) -> pa.Array | None:
    """Mask of the non-blank texts that are not one JSON document (None when all are)."""
    trimmed = pc.utf8_trim_whitespace(text)
    present = pc.fill_null(pc.not_equal(trimmed, ""), False)
    if not pc.any(present).as_py():
        return None
    pieces = [
        _block_bad(trimmed.slice(start, BLOCK_ROWS), present.slice(start, BLOCK_ROWS))
        for start in range(0, len(text), BLOCK_ROWS)
    ]
    bad = pa.concat_arrays(pieces)
    return bad if pc.any(bad).as_py() else None


def _block_bad(text: pa.Array, present: pa.Array) -> pa.Array:
    wanted = pc.filter(text, present)
    # Arrow's reader also takes NaN and Infinity, which JSON does not have
    broken = pc.any(pc.match_substring_regex(wanted, "[\\r\\n]|NaN|Infinity")).as_py()
    if not broken and _reads_whole(wanted):
        return pc.fill_null(pa.nulls(len(text), pa.bool_()), False)
    return pa.array([value is not None and value != "" and not _is_json(value)
                     for value in text.to_pylist()], pa.bool_())


def _reads_whole(text: pa.Array) -> bool:
    """Whether every text of ``text`` (none blank, no line breaks) is one JSON document."""
    objects = pc.fill_null(pc.and_(pc.starts_with(text, "{"), pc.ends_with(text, "}")), False)
    direct = pc.filter(text, objects)
    wrapped = pc.binary_join_element_wise('{"v":', pc.filter(text, pc.invert(objects)), "}", "")
    if not _rows(direct, _IGNORE_ALL):
        return False
    if len(wrapped) == 0:
        return True
    if not _rows(wrapped, _IGNORE_ALL):
        return False
    # Only a text like `1,"w":2` adds a key; reading the keys shows it. Values of mixed types
    # make that read fail, which only costs the text-by-text route.
    try:
        keys = _read(wrapped, pa_json.ParseOptions()).schema.names
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return keys == ["v"]


def _read(lines: pa.Array, options: pa_json.ParseOptions) -> pa.Table:
    # joined by Arrow, one line per text: no Python string per value
    one_list = pa.ListArray.from_arrays(pa.array([0, len(lines)], pa.int32()), lines)
    data = pc.binary_join(one_list, "\n")[0].as_buffer()
    return pa_json.read_json(pa.BufferReader(data), parse_options=options)


def _rows(lines: pa.Array, options: pa_json.ParseOptions) -> bool:
    """Whether ``lines`` read as exactly one document each."""
    if len(lines) == 0:
        return True
    try:
        return bool(_read(lines, options).num_rows == len(lines))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False


def _finite(value: str) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(value)
    return number


def _refuse(value: str) -> None:
    raise ValueError(value)


def _is_json(value: str) -> bool:
    try:
        json.loads(value, parse_constant=_refuse, parse_float=_finite)
    except (ValueError, RecursionError):
        return False
    return True
