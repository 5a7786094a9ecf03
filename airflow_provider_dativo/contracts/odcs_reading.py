"""Reading a full ODCS v3.0.2 document: its schema object's properties and dativo's
``customProperties`` additions, into raw fields for the contract rules."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from airflow_provider_dativo.contracts._raw import (
    Issues,
    Parsed,
    RawField,
    RawPartition,
    as_list,
    read_partitioning,
)
from airflow_provider_dativo.contracts._types import (
    TEMPORAL_TYPES,
    OdcsTypeError,
    from_odcs_types,
    parse_format,
)
from airflow_provider_dativo.contracts.model import schema_object_names

# ODCS property keys that map one-to-one onto FieldSpec attributes.
_ODCS_KEYS: Final = {
    "name": "name",
    "required": "required",
    "unique": "unique",
    "primaryKey": "primary_key",
    "description": "description",
    "classification": "classification",
    "tags": "tags",
    "physicalName": "physical_name",
}
# logicalTypeOptions dativo runs; every other key the official schema allows is kept for export.
_ODCS_OPTION_KEYS: Final = {
    "pattern": "pattern",
    "minimum": "minimum",
    "maximum": "maximum",
    "minLength": "min_length",
    "maxLength": "max_length",
    "format": "format",
    "minItems": "min_items",
    "maxItems": "max_items",
}
# dativo's additions to an ODCS property, in its customProperties.
_ODCS_FIELD_CUSTOM_PROPERTIES: Final = {"enum": "enum", "allowNul": "allow_nul"}
_DATIVO_CONTRACT_PROPERTIES: Final = ("source_type", "object", "target", "governance")
# ODCS asks for camelCase custom property names; the short-form spelling is accepted as well.
_CAMEL_CONTRACT_PROPERTIES: Final = {"sourceType": "source_type"}


def _custom_properties(value: Any, base: str, issues: Issues) -> dict[str, tuple[Any, str]]:
    """``{property: (value, path of value)}``; a repeated property name is an issue."""
    out: dict[str, tuple[Any, str]] = {}
    for k, item in enumerate(as_list(value)):
        if not isinstance(item, Mapping) or not isinstance(item.get("property"), str):
            continue
        name = item["property"]
        if name in out:
            issues.add(f"{base}[{k}].property", f"custom property {name!r} is set more than once")
            continue
        out[name] = (item.get("value"), f"{base}[{k}].value")
    return out


def _pick_object(
    schema: list[Any], wanted: str | None, issues: Issues
) -> tuple[int, Mapping[str, Any]]:
    names = [obj.get("name") if isinstance(obj, Mapping) else None for obj in schema]
    if wanted is None:
        index = 0
    elif wanted in names:
        index = names.index(wanted)
    else:
        listed = ", ".join(str(n) for n in names if n is not None) or "none"
        issues.add("schema", f"the contract has no schema object {wanted!r}; it has: {listed}")
        return 0, {}
    obj = schema[index] if schema and isinstance(schema[index], Mapping) else {}
    return index, obj


def read_full(data: Mapping[str, Any], issues: Issues, wanted: str | None = None) -> Parsed:
    schema = as_list(data.get("schema"))
    index, obj = _pick_object(schema, wanted, issues)
    fields: list[RawField] = []
    flagged: list[tuple[int, int, str, str]] = []  # (position, order, column, path)
    for i, prop in enumerate(as_list(obj.get("properties"))):
        base = f"schema[{index}].properties[{i}]"
        if not isinstance(prop, Mapping):
            issues.add(base, "a property must be a mapping")
            continue
        fields.append(_read_property(prop, base, issues))
        if prop.get("partitioned") is True:
            position = prop.get("partitionKeyPosition")
            rank = position if isinstance(position, int) and position >= 1 else 1 << 30
            flagged.append((rank, i, str(prop.get("name")), f"{base}.partitioned"))

    custom = _custom_properties(data.get("customProperties"), "customProperties", issues)
    for camel, snake in _CAMEL_CONTRACT_PROPERTIES.items():
        if camel in custom:
            if snake in custom:
                issues.add(custom[camel][1], f"{camel} and {snake} name the same property")
            custom[snake] = custom.pop(camel)
    top: dict[str, Any] = {k: custom[k][0] for k in _DATIVO_CONTRACT_PROPERTIES if k in custom}
    partitions: list[RawPartition] = []
    if "target" in custom:
        target_value, target_path = custom["target"]
        partitions = read_partitioning(target_value, target_path)
    if not partitions:
        # ODCS's own partition flags only carry identity partitioning; dativo's target wins.
        partitions = [RawPartition(col, "identity", path) for _, _, col, path in sorted(flagged)]
    object_name = obj.get("name") if isinstance(obj.get("name"), str) else None
    physical = obj.get("physicalName") if isinstance(obj.get("physicalName"), str) else None
    return Parsed(
        fields,
        partitions,
        top,
        schema_object=object_name,
        schema_objects=schema_object_names(data),
        table_name=physical or object_name,
    )


def _read_property(prop: Mapping[str, Any], base: str, issues: Issues) -> RawField:
    values: dict[str, Any] = {}
    paths: dict[str, str] = {}
    for key, attr in _ODCS_KEYS.items():
        if key in prop:
            values[attr] = prop[key]
            paths[attr] = f"{base}.{key}"
    logical, physical = prop.get("logicalType"), prop.get("physicalType")
    options = prop.get("logicalTypeOptions")
    options = options if isinstance(options, Mapping) else {}
    for key, attr in _ODCS_OPTION_KEYS.items():
        if key in options:
            values[attr] = options[key]
            paths[attr] = f"{base}.logicalTypeOptions.{key}"
    _read_exclusive_bounds(options, values, paths, base)

    number_format = values.get("format") if logical in ("number", "integer") else None
    if number_format is not None:
        # ODCS number formats (f32, i64) size the type; they are not value formats.
        del values["format"]
        del paths["format"]
    type_key = "physicalType" if physical is not None else "logicalType"
    try:
        type_, precision, scale = from_odcs_types(logical, physical, number_format)
    except OdcsTypeError as exc:
        issues.add(f"{base}.{exc.key}", str(exc))
        type_, precision, scale = "string", None, None
    if logical == "timestamp" and physical is None and options.get("timezone") is True:
        type_ = "timestamptz"
    children: list[RawField] | None = None
    item: RawField | None = None
    nested = prop.get("properties")
    if logical == "object" and isinstance(nested, list) and nested:
        type_ = "struct"
        required = options.get("required")
        wanted = set(required) if isinstance(required, list) else set()
        children = []
        for j, child in enumerate(nested):
            if isinstance(child, Mapping):
                read = _read_property(child, f"{base}.properties[{j}]", issues)
                if read.values.get("name") in wanted:
                    read.values["required"] = True
                children.append(read)
    elif logical == "array" and isinstance(prop.get("items"), Mapping):
        type_ = "list"
        element = {**prop["items"], "name": "element"}
        item = _read_property(element, f"{base}.items", issues)
    elif type_ in ("struct", "list"):
        type_ = "json"  # a struct or array physicalType without its shape stays JSON text
    values["type"] = type_
    paths["type"] = f"{base}.{type_key}"
    if type_ == "string" and precision is not None:
        # varchar(n): n is a length the values must respect.
        values.setdefault("max_length", precision)
        paths.setdefault("max_length", f"{base}.physicalType")
    elif precision is not None:
        values["precision"] = precision
        paths["precision"] = f"{base}.physicalType"
    if scale is not None and type_ == "decimal":
        values["scale"] = scale
        paths["scale"] = f"{base}.physicalType"
    if "format" in values and type_ in TEMPORAL_TYPES | {"time"}:
        _read_temporal_format(values, paths, issues)

    custom = _custom_properties(prop.get("customProperties"), f"{base}.customProperties", issues)
    for name, attr in _ODCS_FIELD_CUSTOM_PROPERTIES.items():
        if name in custom:
            values[attr], paths[attr] = custom[name]
    return RawField(base, values, paths, children, item)


def _read_exclusive_bounds(
    options: Mapping[str, Any], values: dict[str, Any], paths: dict[str, str], base: str
) -> None:
    """v3.0.x flags the bounds as exclusive (a boolean); v3.1.0 gives the bound itself."""
    for key, bound, flag in (
        ("exclusiveMinimum", "minimum", "exclusive_minimum"),
        ("exclusiveMaximum", "maximum", "exclusive_maximum"),
    ):
        value = options.get(key)
        if value is None:
            continue
        if isinstance(value, bool):
            values[flag] = value
        else:
            values[bound], values[flag] = value, True
            paths[bound] = f"{base}.logicalTypeOptions.{key}"


def _read_temporal_format(values: dict[str, Any], paths: dict[str, str], issues: Issues) -> None:
    """A format dativo cannot parse with is informational: warn and read ISO 8601 instead."""
    try:
        parsed = parse_format(str(values["format"]))
    except ValueError as exc:
        issues.warn(paths["format"], f"{exc}; dativo reads this column as ISO 8601 text instead")
        parsed = None
    if parsed is None:
        del values["format"]
    else:
        values["format"] = parsed


