"""Conversion into the types only full ODCS contracts reach: int32, time, uuid, struct and list.

Same contract as :mod:`._conform`: whole arrays in, ``(values, bad)`` out. Structs and lists are
converted child by child with pyarrow compute (a list's elements as one flat array), so nested
columns cost about what their leaves cost. JSON text is parsed by Arrow's JSON reader in one go.
"""

from __future__ import annotations

import dataclasses
import io
import uuid
from collections.abc import Callable
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


@dataclasses.dataclass(frozen=True)
class Nested:
    """A value below a struct or list column, for the rules the check applies to it.

    ``values`` and ``type_bad`` are at the value's own level (a list's elements are a flat
    array); ``to_rows`` maps a mask at that level onto the column's rows; ``present`` is where
    the value's parent holds a value, so a ``required`` nested value is missing only there.
    """

    path: str  # "shipping_address.city", "lines[].sku"
    spec: FieldSpec
    values: pa.Array
    type_bad: pa.Array | None
    present: pa.Array | None  # None: everywhere
    to_rows: Callable[[pa.Array], pa.Array]


def _same_rows(mask: pa.Array) -> pa.Array:
    return mask


def _any_per_list(offsets: pa.Array, rows_of: Callable[[pa.Array], pa.Array]
                  ) -> Callable[[pa.Array], pa.Array]:
    """Element mask → "any element of the list" per list, then onward to the rows."""

    def lift(mask: pa.Array) -> pa.Array:
        counts = pc.cumulative_sum(pc.cast(pc.fill_null(mask, False), pa.int64()))
        counts = pa.concat_arrays([pa.array([0], pa.int64()), counts])
        ends = pc.take(counts, offsets[1:])
        starts = pc.take(counts, offsets[:-1])
        return rows_of(pc.greater(pc.subtract(ends, starts), 0))

    return lift


def _child(raw: pa.Array, spec: FieldSpec, target: pa.DataType, path: str,
           nodes: list[Nested] | None, rows_of: Callable[[pa.Array], pa.Array]) -> Conformed:
    """One nested value: structs and lists recurse, leaves convert as columns do."""
    from airflow_provider_dativo.contracts._conform import conform, normalise

    raw = normalise(raw)
    if nodes is not None and _shaped(raw.type, spec.type):
        if spec.type == "struct":
            return _struct(raw, spec, target, path, nodes, rows_of)
        return _list(raw, spec, target, path, nodes, rows_of)
    return conform(raw, spec, target)


def _shaped(type_: pa.DataType, kind: str) -> bool:
    """Whether Arrow values of ``type_`` already have the shape of a ``kind`` column."""
    if kind == "struct":
        return bool(pa.types.is_struct(type_))
    return kind == "list" and bool(pa.types.is_list(type_) or pa.types.is_large_list(type_))


def is_text_type(type_: pa.DataType) -> bool:
    from airflow_provider_dativo.contracts._conform import is_text

    return is_text(type_)


def conform_nested(raw: pa.Array, spec: FieldSpec, target: pa.DataType
                   ) -> tuple[pa.Array, pa.Array | None, list[Nested]]:
    """A struct or list column with every nested value it holds, for checks by path.

    The column's own mask marks only rows that are not a struct or list of the declared shape
    at all (JSON text that does not parse, a number where a struct belongs); what is wrong
    inside a value is in the returned :class:`Nested` values, so reasons can name the path.
    """
    from airflow_provider_dativo.contracts._conform import normalise

    raw = normalise(raw)
    nodes: list[Nested] = []
    if pa.types.is_null(raw.type):
        return pa.nulls(len(raw), target), None, nodes
    if is_text_type(raw.type):
        parsed, bad = _parse_json_text(pc.cast(raw, pa.string()), target, spec)
    elif _shaped(raw.type, spec.type):
        parsed, bad = raw, None
    else:
        return pa.nulls(len(raw), target), _clean(pc.is_valid(raw)), nodes
    if spec.type == "struct":
        values, own = _struct(parsed, spec, target, spec.name, nodes, _same_rows)
    else:
        values, own = _list(parsed, spec, target, spec.name, nodes, _same_rows)
    return values, _clean(_or(bad, own)), nodes


def _struct(raw: pa.StructArray, spec: FieldSpec, target: pa.StructType, path: str = "",
            nodes: list[Nested] | None = None,
            rows_of: Callable[[pa.Array], pa.Array] = _same_rows) -> Conformed:
    """Child by child; with ``nodes``, what fails inside is recorded there, not in the mask."""
    names = [raw.type.field(i).name for i in range(raw.type.num_fields)]
    children = raw.flatten()
    present = pc.is_valid(raw)
    arrays: list[pa.Array] = []
    bad: pa.Array | None = None
    for child, field in zip(spec.fields, target, strict=True):
        name = child.source_name if child.source_name in names else child.name
        source = children[names.index(name)] if name in names else pa.nulls(len(raw))
        child_path = f"{path}.{child.name}"
        values, child_bad = _child(source, child, field.type, child_path, nodes, rows_of)
        arrays.append(values)
        if nodes is not None:
            nodes.append(Nested(child_path, child, values, child_bad, present, rows_of))
            continue
        if child.required:
            # a required nested value is missing only where its parent is present
            child_bad = _or(child_bad, pc.and_(present, pc.is_null(values)))
        bad = _or(bad, child_bad)
    out = pa.StructArray.from_arrays(arrays, fields=list(target), mask=pc.invert(present))
    return out, _clean(None if bad is None else pc.fill_null(bad, False))


def _list(raw: pa.ListArray, spec: FieldSpec, target: pa.ListType, path: str = "",
          nodes: list[Nested] | None = None,
          rows_of: Callable[[pa.Array], pa.Array] = _same_rows) -> Conformed:
    assert spec.items is not None
    if raw.offset:
        raw = pa.concat_arrays([raw])  # offsets from zero, so they index the values directly
    offsets = pc.cast(raw.offsets, pa.int32())
    element_rows = _any_per_list(offsets, rows_of)
    element_path = f"{path}[]"
    values, element_bad = _child(raw.values, spec.items, target.value_type, element_path,
                                 nodes, element_rows)
    bad: pa.Array | None = None
    if nodes is not None:
        nodes.append(Nested(element_path, spec.items, values, element_bad, None, element_rows))
    elif element_bad is not None:
        bad = _any_per_list(offsets, _same_rows)(element_bad)
    if nodes is None:
        lengths = pc.list_value_length(raw)
        for limit, compare in ((spec.min_items, pc.less), (spec.max_items, pc.greater)):
            if limit is not None:
                bad = _or(bad, pc.fill_null(compare(lengths, limit), False))
    out = pa.ListArray.from_arrays(offsets, values, type=target, mask=pc.is_null(raw))
    return out, _clean(bad)


def source_type(spec: FieldSpec, target: pa.DataType) -> pa.DataType:
    """``target`` with the names the source uses (physicalName), as JSON text spells them."""
    if spec.type == "struct" and pa.types.is_struct(target):
        return pa.struct([
            pa.field(child.source_name, source_type(child, field.type))
            for child, field in zip(spec.fields, target, strict=True)
        ])
    if spec.type == "list" and spec.items is not None and pa.types.is_list(target):
        item = target.value_field
        return pa.list_(pa.field(item.name, source_type(spec.items, item.type)))
    return target


def _parse_json_text(text: pa.Array, target: pa.DataType, spec: FieldSpec | None = None
                     ) -> tuple[pa.Array, pa.Array | None]:
    """JSON documents read into ``target`` by Arrow's reader, the whole array at once; the
    mask marks texts that are not JSON of that shape (found one by one, only if any is)."""
    shape = target if spec is None else source_type(spec, target)
    blank = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(text), ""), True)
    body = pc.if_else(blank, "null", text)
    lines = pc.binary_join_element_wise('{"v":', body, "}", "")
    schema = pa.schema([pa.field("v", shape)])
    options = pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    # a newline inside a value would split it into two documents
    if not pc.any(pc.match_substring_regex(text, "[\r\n]")).as_py():
        try:
            data = "\n".join(lines.to_pylist()).encode()
            table = pa_json.read_json(io.BytesIO(data), parse_options=options)
            if table.num_rows == len(text):
                return table.column("v").combine_chunks(), None
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    return _parse_json_rows(text, shape)


def _parse_json_rows(text: pa.Array, shape: pa.DataType) -> tuple[pa.Array, pa.Array | None]:
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
            pa.array([document], shape)
        except (ValueError, pa.ArrowInvalid, pa.ArrowTypeError):
            values.append(None)
            bad.append(True)
            continue
        values.append(document)
        bad.append(False)
    return pa.array(values, shape), _clean(pa.array(bad))


def _from_json_text(text: pa.Array, spec: FieldSpec, target: pa.DataType) -> Conformed:
    parsed, bad = _parse_json_text(text, target, spec)
    if pa.types.is_struct(target):
        values, nested_bad = _struct(parsed, spec, target)
    else:
        values, nested_bad = _list(parsed, spec, target)
    return values, _clean(_or(bad, nested_bad))
