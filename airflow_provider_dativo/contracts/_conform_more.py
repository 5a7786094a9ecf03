"""Conversion into the types only full ODCS contracts reach: int32, time, uuid, struct and list.

Same contract as :mod:`._conform`: whole arrays in, ``(values, bad)`` out. Structs and lists are
converted child by child with pyarrow compute (a list's elements as one flat array), so nested
columns cost about what their leaves cost. JSON text is parsed by Arrow's JSON reader in one go.
"""

from __future__ import annotations

import dataclasses
import io
import uuid
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

if TYPE_CHECKING:
    from airflow_provider_dativo.contracts.model import FieldSpec

Conformed = tuple[pa.Array, pa.Array | None]

_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
_UUID_RE = r"^(?i)\{?[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\}?$"
_TIME_RE = r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?$"


def _or(a: pa.Array | None, b: pa.Array | None) -> pa.Array | None:
    if a is None:
        return b
    if b is None:
        return a
    return pc.or_(a, b)


def _clean(bad: pa.Array | None) -> pa.Array | None:
    return bad if bad is not None and pc.any(bad).as_py() else None


def conform_more(raw: pa.Array, spec: FieldSpec, target: pa.DataType) -> Conformed:
    from airflow_provider_dativo.contracts._conform import conform, is_text

    kind = spec.type
    if kind == "int32":
        wide, bad = conform(raw, dataclasses.replace(spec, type="integer"), pa.int64())
        out = pc.or_(pc.less(wide, _INT32_MIN), pc.greater(wide, _INT32_MAX))
        out = pc.fill_null(out, False)
        kept = pc.if_else(out, pa.scalar(None, pa.int64()), wide)
        return pc.cast(kept, pa.int32()), _clean(_or(bad, out))
    if kind == "time":
        return _to_time(raw, is_text)
    if kind == "uuid":
        return _to_uuid(raw, target, is_text)
    if is_text(raw.type):
        return _from_json_text(pc.cast(raw, pa.string()), spec, target)
    if kind == "struct" and pa.types.is_struct(raw.type):
        return _struct(raw, spec, target)
    if kind == "list" and (pa.types.is_list(raw.type) or pa.types.is_large_list(raw.type)):
        return _list(raw, spec, target)
    return pa.nulls(len(raw), target), _clean(pc.is_valid(raw))


def _to_time(raw: pa.Array, is_text: object) -> Conformed:
    target = pa.time64("us")
    if pa.types.is_time(raw.type):
        return pc.cast(raw, target), None
    text = pc.cast(raw, pa.string())
    ok = pc.fill_null(pc.match_substring_regex(text, _TIME_RE), False)
    padded = pc.if_else(pc.equal(pc.utf8_length(text), 5), pc.binary_join_element_wise(
        text, ":00", ""), text)
    stamp = pc.binary_join_element_wise("1970-01-01T", pc.if_else(ok, padded, None), "")
    parsed = pc.cast(stamp, pa.timestamp("us"))
    micros = pc.cast(pc.cast(parsed, pa.int64()), pa.time64("us"))
    bad = pc.and_(pc.is_valid(raw), pc.invert(ok))
    return micros, _clean(bad)


def _to_uuid(raw: pa.Array, target: pa.DataType, is_text: object) -> Conformed:
    storage = pa.binary(16)
    if isinstance(raw.type, pa.UuidType) or raw.type == target:
        return raw, None
    if pa.types.is_fixed_size_binary(raw.type) and raw.type.byte_width == 16:
        return pa.ExtensionArray.from_storage(target, raw), None
    text = pc.cast(raw, pa.string())
    ok = pc.fill_null(pc.match_substring_regex(text, _UUID_RE), False)
    # Arrow has no hex decoding kernel; the regex above already vetted every value.
    values = [uuid.UUID(v).bytes if v is not None else None
              for v in pc.if_else(ok, text, None).to_pylist()]
    array = pa.array(values, storage)
    return pa.ExtensionArray.from_storage(target, array), _clean(
        pc.and_(pc.is_valid(raw), pc.invert(ok)))


def _struct(raw: pa.StructArray, spec: FieldSpec, target: pa.StructType) -> Conformed:
    from airflow_provider_dativo.contracts._conform import conform

    names = [raw.type.field(i).name for i in range(raw.type.num_fields)]
    children = raw.flatten()
    present = pc.is_valid(raw)
    arrays: list[pa.Array] = []
    bad: pa.Array | None = None
    for child, field in zip(spec.fields, target, strict=True):
        name = child.source_name if child.source_name in names else child.name
        source = children[names.index(name)] if name in names else pa.nulls(len(raw))
        values, child_bad = conform(source, child, field.type)
        if child.required:
            # a required nested value is missing only where its parent is present
            missing = pc.and_(present, pc.is_null(values))
            child_bad = _or(child_bad, missing)
        arrays.append(values)
        bad = _or(bad, child_bad)
    out = pa.StructArray.from_arrays(arrays, fields=list(target), mask=pc.invert(present))
    return out, _clean(None if bad is None else pc.fill_null(bad, False))


def _list(raw: pa.ListArray, spec: FieldSpec, target: pa.ListType) -> Conformed:
    from airflow_provider_dativo.contracts._conform import conform

    assert spec.items is not None
    if raw.offset:
        raw = pa.concat_arrays([raw])  # offsets from zero, so they index the values directly
    values, element_bad = conform(raw.values, spec.items, target.value_type)
    bad: pa.Array | None = None
    if element_bad is not None:
        parents = pc.list_parent_indices(raw)
        failed = pc.filter(parents, element_bad)
        bad = pc.is_in(pa.array(range(len(raw)), pa.int64()), value_set=pc.cast(failed, pa.int64()))
    lengths = pc.list_value_length(raw)
    for limit, compare in ((spec.min_items, pc.less), (spec.max_items, pc.greater)):
        if limit is not None:
            bad = _or(bad, pc.fill_null(compare(lengths, limit), False))
    offsets = pc.cast(raw.offsets, pa.int32())
    out = pa.ListArray.from_arrays(offsets, values, type=target, mask=pc.is_null(raw))
    return out, _clean(bad)


def _from_json_text(text: pa.Array, spec: FieldSpec, target: pa.DataType) -> Conformed:
    """JSON documents parsed into ``target`` by Arrow's reader, the whole array at once."""
    blank = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(text), ""), True)
    body = pc.if_else(blank, "null", text)
    lines = pc.binary_join_element_wise('{"v":', body, "}", "")
    schema = pa.schema([pa.field("v", target)])
    options = pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    try:
        data = "\n".join(lines.to_pylist()).encode()
        table = pa_json.read_json(io.BytesIO(data), parse_options=options)
        parsed = table.column("v").combine_chunks()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return _from_json_rows(text, spec, target)
    return _conform_parsed(parsed, spec, target)


def _conform_parsed(parsed: pa.Array, spec: FieldSpec, target: pa.DataType) -> Conformed:
    if pa.types.is_struct(target):
        return _struct(parsed, spec, target)
    return _list(parsed, spec, target)


def _from_json_rows(text: pa.Array, spec: FieldSpec, target: pa.DataType) -> Conformed:
    """The slow route, only for a batch holding text that is not JSON of the declared shape."""
    import json

    values: list[object] = []
    bad: list[bool] = []
    for value in text.to_pylist():
        if value is None or not value.strip():
            values.append(None)
            bad.append(False)
            continue
        try:
            document = json.loads(value)
            pa.array([document], target)
        except (ValueError, pa.ArrowInvalid, pa.ArrowTypeError):
            values.append(None)
            bad.append(True)
            continue
        values.append(document)
        bad.append(False)
    parsed, nested_bad = _conform_parsed(pa.array(values, target), spec, target)
    return parsed, _clean(_or(pa.array(bad), nested_bad))
