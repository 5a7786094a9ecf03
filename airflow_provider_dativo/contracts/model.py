"""One contract model for both asset forms.

An asset is either the dativo *short form* (``schema`` is a list of fields with ``type``) or a full
ODCS v3.0.2 document (``schema`` holds one object whose ``properties`` are the fields, and the
dativo additions sit in ``customProperties``). :func:`contract_from_mapping` reads either into the
same :class:`Contract`, so nothing downstream needs to know which form a user wrote.

Normalisation rules (so that equivalent inputs give equal contracts):

* ``long`` becomes ``integer`` and ``number`` becomes ``double``; both pairs map to the same Arrow
  type, and one spelling per Arrow type keeps contracts comparable.
* A contract without ``id`` gets a stable UUID derived from its name, and one without ``status``
  gets ``"active"``; ODCS requires both, and deriving them at construction is what makes
  ``contract_from_mapping(to_odcs(c)) == c`` hold.
* ``ingest_date`` is a system column: when a contract partitions by it and does not declare it,
  the contract gains a trailing nullable ``date`` field of that name, so the Arrow schema, the
  ODCS export and the Iceberg table all see it. Rows get the load date, not a source value.
* Date and timestamp ``format`` values are strptime patterns; a pattern without ``%`` is read as
  the JDK pattern ODCS specifies (``yyyy-MM-dd``) and converted.
* Tags from ``tags`` and ``governance.tags`` are merged in order without duplicates.

Field rules mean what ODCS says: ``required`` is *not null* (an empty string is a value; blank
input for a non-text type reads as null); ``min_length``/``max_length`` (ODCS
``logicalTypeOptions.minLength``/``maxLength``) count characters, so ``min_length: 1`` is the
way to refuse empty text. Text may not contain NUL characters unless the field allows them:
``allow_nul: true`` in the short form, the property custom property ``allowNul: true`` in the
ODCS form (a dativo extension, camelCase as ODCS asks of custom property names).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import date, datetime
from typing import Any, Final

from airflow_provider_dativo.contracts._types import (
    ENUM_TYPES,
    FORMAT_TYPES,
    INGEST_DATE,
    MAX_DECIMAL_PRECISION,
    NUMERIC_TYPES,
    RESERVED_PREFIX,
    TEMPORAL_TYPES,
    TEXT_TYPES,
    TIMESTAMP_TYPES,
    OdcsTypeError,
    canonical_type,
    from_odcs_types,
    parse_format,
    strptime_format,
)
from airflow_provider_dativo.contracts.partitioning import PartitionField, partition_problems
from airflow_provider_dativo.contracts.quality import QualityRule, read_rules
from airflow_provider_dativo.errors import ConfigError, ConfigIssue

# Fixed namespace so derived ids are identical on every machine and release.
_ID_NAMESPACE: Final = uuid.uuid5(uuid.NAMESPACE_URL, "urn:dativo:contract")

_INGEST_DATE_DESCRIPTION: Final = "Load date (UTC) written by dativo; system column."


def derive_contract_id(name: str) -> str:
    """The id a contract without one gets: stable across versions, like an ODCS id should be."""
    return str(uuid.uuid5(_ID_NAMESPACE, name))


@dataclass(frozen=True)
class FieldSpec:
    """One column of a contract with the rules rows must satisfy."""

    name: str
    type: str
    required: bool = False
    unique: bool = False
    primary_key: bool = False
    enum: tuple[Any, ...] | None = None
    pattern: str | None = None
    # Numbers, or ISO 8601 text for date, timestamp and time columns.
    minimum: float | str | None = None
    maximum: float | str | None = None
    min_length: int | None = None
    max_length: int | None = None
    allow_nul: bool = False  # text may contain NUL ("\x00") characters
    precision: int | None = None
    scale: int | None = None
    format: str | None = None
    description: str | None = None
    classification: str | None = None
    tags: tuple[str, ...] = ()
    # The source's name of the column (ODCS physicalName); the contract's name is what lands.
    physical_name: str | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    min_items: int | None = None
    max_items: int | None = None
    # A struct's fields, and a list's element (named "element", as Iceberg names it).
    fields: tuple[FieldSpec, ...] = ()
    items: FieldSpec | None = None

    def __post_init__(self) -> None:
        # Frozen, so normalise through object.__setattr__; callers may pass lists or aliases.
        object.__setattr__(self, "type", canonical_type(self.type))
        if self.enum is not None and not isinstance(self.enum, tuple):
            object.__setattr__(self, "enum", tuple(self.enum))
        if not isinstance(self.tags, tuple):
            object.__setattr__(self, "tags", tuple(self.tags))
        if not isinstance(self.fields, tuple):
            object.__setattr__(self, "fields", tuple(self.fields))
        for bound in ("minimum", "maximum"):
            value = getattr(self, bound)
            if value is not None and not isinstance(value, float | str):
                object.__setattr__(self, bound, float(value))

    @property
    def source_name(self) -> str:
        """The column name the source sends: ``physical_name`` when the contract gives one."""
        return self.physical_name or self.name


@dataclass(frozen=True)
class Contract:
    name: str
    version: str
    fields: tuple[FieldSpec, ...]
    id: str | None = None
    status: str | None = None
    source_type: str | None = None
    object: str | None = None
    description: str | None = None
    domain: str | None = None
    owner: str | None = None
    tags: tuple[str, ...] = ()
    classification: tuple[str, ...] = ()
    retention_days: int | None = None
    partitioning: tuple[PartitionField, ...] = ()
    file_format: str | None = None
    # The document's ``quality`` rules of this schema object and its properties (quality.py).
    quality: tuple[QualityRule, ...] = ()
    # Where ``name`` came from: "name", "schema object" or "id" (ODCS makes name optional).
    name_source: str = dc_field(default="name", compare=False)
    # Where the contract sits in its document (not rules, so not compared): the schema object
    # (table) it describes, every object the document has, and that object's table name.
    schema_object: str | None = dc_field(default=None, compare=False)
    schema_objects: tuple[str, ...] = dc_field(default=(), compare=False)
    table_name: str | None = dc_field(default=None, compare=False)  # physicalName, else name
    # The document as written (JSON text, so the contract stays hashable); the export keeps
    # every value of it.
    document: str | None = dc_field(default=None, compare=False, repr=False)
    warnings: tuple[ConfigIssue, ...] = dc_field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        fields = tuple(self.fields)
        partitioning = tuple(self.partitioning)
        names = {f.name for f in fields}
        if INGEST_DATE not in names and any(p.column == INGEST_DATE for p in partitioning):
            fields = (*fields, FieldSpec(INGEST_DATE, "date", description=_INGEST_DATE_DESCRIPTION))
        object.__setattr__(self, "fields", fields)
        object.__setattr__(self, "partitioning", partitioning)
        object.__setattr__(self, "tags", tuple(self.tags))
        object.__setattr__(self, "classification", tuple(self.classification))
        if self.id is None:
            object.__setattr__(self, "id", derive_contract_id(self.name))
        if self.status is None:
            object.__setattr__(self, "status", "active")

    def field(self, name: str) -> FieldSpec:
        """The field called ``name``; KeyError when the contract has none."""
        for spec in self.fields:
            if spec.name == name:
                return spec
        raise KeyError(f"contract {self.name!r} has no field {name!r}")

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def primary_key(self) -> tuple[str, ...]:
        """Key columns in field order (Iceberg identifier fields are a set, so order is moot)."""
        return tuple(f.name for f in self.fields if f.primary_key)

    def governance_properties(self) -> dict[str, str]:
        """Governance as flat ``dativo.*`` string properties, for Iceberg table properties.

        Lists are comma-joined; empty values are left out so stale keys are easy to spot.
        """
        props: dict[str, str] = {}
        if self.owner:
            props["dativo.owner"] = self.owner
        if self.tags:
            props["dativo.tags"] = ",".join(self.tags)
        if self.classification:
            props["dativo.classification"] = ",".join(self.classification)
        if self.retention_days is not None:
            props["dativo.retention_days"] = str(self.retention_days)
        return props


# --- loading -------------------------------------------------------------------------------------


class _Issues:
    """Collects issues so one load reports every problem at once, and warnings beside them."""

    def __init__(self, file: str, lines: Mapping[str, int] | None):
        self.file = file
        self.lines = lines or {}
        self.items: list[ConfigIssue] = []
        self.warnings: list[ConfigIssue] = []

    def _issue(self, path: str, message: str) -> ConfigIssue:
        line = self.lines.get(path)
        probe = path
        while line is None and probe:
            cut = max(probe.rfind("."), probe.rfind("["))
            probe = probe[:cut] if cut > 0 else ""
            line = self.lines.get(probe)
        return ConfigIssue(self.file, message, line, path)

    def add(self, path: str, message: str) -> None:
        self.items.append(self._issue(path, message))

    def warn(self, path: str, message: str) -> None:
        self.warnings.append(self._issue(path, message))


@dataclass
class _RawField:
    """A field read from either form, with the document path of every attribute it came from."""

    base: str
    values: dict[str, Any]
    paths: dict[str, str]
    children: list[_RawField] | None = None  # struct fields
    item: _RawField | None = None  # list element

    def path(self, key: str) -> str:
        return self.paths.get(key, self.base)


@dataclass
class _RawPartition:
    column: str
    transform: str
    path: str


@dataclass
class _Parsed:
    fields: list[_RawField]
    partitions: list[_RawPartition]
    top: dict[str, Any]
    schema_object: str | None = None
    schema_objects: tuple[str, ...] = ()
    table_name: str | None = None


def is_full_form(data: Mapping[str, Any]) -> bool:
    """Whether ``schema`` uses ODCS schema objects rather than dativo short-form fields."""
    schema = data.get("schema")
    if not isinstance(schema, list):
        # ODCS makes schema optional; a contract without one is still a full-form contract.
        return schema is None and "type" not in data and "source_type" not in data
    return any(
        isinstance(item, Mapping) and ({"properties", "logicalType", "physicalType"} & item.keys())
        for item in schema
    )


def schema_object_names(data: Mapping[str, Any]) -> tuple[str, ...]:
    """Names of a full-form document's schema objects, in order."""
    return tuple(
        str(obj.get("name"))
        for obj in _list(data.get("schema"))
        if isinstance(obj, Mapping) and obj.get("name") is not None
    )


def contract_from_mapping(
    data: Mapping[str, Any],
    *,
    file: str = "<asset>",
    lines: Mapping[str, int] | None = None,
    schema_object: str | None = None,
) -> Contract:
    """Build a :class:`Contract` from a schema-validated asset in either form.

    A full-form document may hold several schema objects (tables); ``schema_object`` picks one,
    and without it the first is used. Raises :class:`ConfigError` listing every semantic problem
    the JSON Schema cannot express, each located by document path (``schema[1].enum``) and,
    when ``lines`` knows it, line. Findings that do not stop the contract from running are
    kept in :attr:`Contract.warnings`.
    """
    issues = _Issues(file, lines)
    full = is_full_form(data)
    parsed = (_read_full(data, issues, schema_object) if full else _read_short(data, issues))
    specs = _check_fields(parsed.fields, issues)
    if not parsed.fields and not full:
        issues.add("schema", "schema must declare at least one field")
    partitions = _check_partitions(parsed.partitions, parsed.fields, issues)
    quality = _read_quality(data, parsed, specs, issues) if full else ()
    name, name_source = _contract_name(data, parsed, full)
    if name is None:
        issues.add("name", "name is required and must be a non-empty string")
    if not isinstance(data.get("version"), str) or not data["version"]:
        issues.add("version", "version is required and must be a non-empty string")
    if issues.items:
        raise ConfigError(issues.items)
    assert name is not None
    top = parsed.top
    return Contract(
        name=name,
        version=data["version"],
        fields=tuple(specs),
        id=data.get("id"),
        status=data.get("status"),
        source_type=top.get("source_type"),
        object=top.get("object"),
        description=_description(data.get("description")),
        domain=data.get("domain"),
        owner=_owner(top.get("governance") or {}, data.get("team") or []),
        tags=_merge_tags(data.get("tags"), (top.get("governance") or {}).get("tags")),
        classification=_classification((top.get("governance") or {}).get("classification")),
        retention_days=(top.get("governance") or {}).get("retention_days"),
        partitioning=tuple(partitions),
        file_format=(top.get("target") or {}).get("file_format"),
        quality=quality,
        name_source=name_source,
        schema_object=parsed.schema_object,
        schema_objects=parsed.schema_objects,
        table_name=parsed.table_name,
        document=json.dumps(data, default=str),
        warnings=tuple(issues.warnings),
    )


class _QualityIssues:
    """The loader's issue list as the quality reader sees it."""

    def __init__(self, issues: _Issues) -> None:
        self.issues = issues

    def add(self, path: str, message: str) -> None:
        self.issues.add(path, message)

    def line_of(self, path: str) -> int | None:
        return self.issues._issue(path, "").line


def _read_quality(data: Mapping[str, Any], parsed: _Parsed, specs: Sequence[FieldSpec],
                  issues: _Issues) -> tuple[QualityRule, ...]:
    """The ``quality`` rules of the picked schema object and of its properties."""
    schema = _list(data.get("schema"))
    names = [obj.get("name") if isinstance(obj, Mapping) else None for obj in schema]
    index = names.index(parsed.schema_object) if parsed.schema_object in names else 0
    obj = schema[index] if schema and isinstance(schema[index], Mapping) else {}
    by_name = {spec.name: spec for spec in specs}
    entries: list[tuple[str, Any, FieldSpec | None]] = [
        (f"schema[{index}].quality", obj.get("quality"), None)]
    for i, prop in enumerate(_list(obj.get("properties"))):
        if isinstance(prop, Mapping) and prop.get("quality") is not None:
            spec = by_name.get(str(prop.get("name")))
            if spec is not None:
                entries.append((f"schema[{index}].properties[{i}].quality", prop["quality"],
                                spec))
    return read_rules(entries, _QualityIssues(issues))


def _contract_name(data: Mapping[str, Any], parsed: _Parsed, full: bool) -> tuple[str | None, str]:
    """The asset name: ``name``, else (ODCS makes it optional) the one schema object's, else id."""
    if isinstance(data.get("name"), str) and data["name"]:
        return data["name"], "name"
    if not full:
        return None, "name"
    if len(parsed.schema_objects) == 1:
        return parsed.schema_objects[0], "schema object"
    if isinstance(data.get("id"), str) and data["id"]:
        return data["id"], "id"
    return None, "name"


def _description(value: Any) -> str | None:
    if isinstance(value, Mapping):
        # ODCS splits a description into parts; purpose is the one that reads as a summary.
        for key in ("purpose", "usage", "limitations"):
            if isinstance(value.get(key), str):
                return str(value[key])
        return None
    return value if isinstance(value, str) else None


def _owner(governance: Mapping[str, Any], team: Sequence[Any]) -> str | None:
    if isinstance(governance.get("owner"), str):
        return str(governance["owner"])
    owners = governance.get("owners")
    if isinstance(owners, list) and owners and isinstance(owners[0], str):
        return owners[0]
    for member in team:
        if isinstance(member, Mapping) and str(member.get("role", "")).lower() == "owner":
            who = member.get("username") or member.get("name")
            if isinstance(who, str):
                return who
    return None


def _merge_tags(*groups: Any) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for group in groups:
        if isinstance(group, list):
            seen.update(dict.fromkeys(str(t) for t in group))
    return tuple(seen)


def _classification(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    return ()


def _read_partitioning(target: Any, base: str) -> list[_RawPartition]:
    if not isinstance(target, Mapping) or not isinstance(target.get("partitioning"), list):
        return []
    out = []
    for j, item in enumerate(target["partitioning"]):
        path = f"{base}.partitioning[{j}]"
        if isinstance(item, str):
            out.append(_RawPartition(item, "identity", path))
        elif isinstance(item, Mapping):
            transform = str(item.get("transform", "identity"))
            if transform == "bucket":
                # one string internally, spelled as Iceberg spells it: bucket[16]
                transform = f"bucket[{item.get('buckets')}]"
            out.append(_RawPartition(str(item.get("column")), transform, path))
    return out


# Short-form field keys that map one-to-one onto FieldSpec attributes.
_SHORT_KEYS: Final = (
    "name",
    "type",
    "required",
    "unique",
    "primary_key",
    "enum",
    "pattern",
    "minimum",
    "maximum",
    "min_length",
    "max_length",
    "allow_nul",
    "precision",
    "scale",
    "format",
    "description",
    "classification",
    "tags",
)


def _read_short(data: Mapping[str, Any], issues: _Issues) -> _Parsed:
    fields = []
    for i, item in enumerate(_list(data.get("schema"))):
        base = f"schema[{i}]"
        if not isinstance(item, Mapping):
            issues.add(base, "a field must be a mapping")
            continue
        values = {k: item[k] for k in _SHORT_KEYS if k in item}
        fields.append(_RawField(base, values, {k: f"{base}.{k}" for k in values}))
    top = {k: data.get(k) for k in ("source_type", "object", "target", "governance")}
    return _Parsed(fields, _read_partitioning(data.get("target"), "target"), top)


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


def _custom_properties(value: Any, base: str, issues: _Issues) -> dict[str, tuple[Any, str]]:
    """``{property: (value, path of value)}``; a repeated property name is an issue."""
    out: dict[str, tuple[Any, str]] = {}
    for k, item in enumerate(_list(value)):
        if not isinstance(item, Mapping) or not isinstance(item.get("property"), str):
            continue
        name = item["property"]
        if name in out:
            issues.add(f"{base}[{k}].property", f"custom property {name!r} is set more than once")
            continue
        out[name] = (item.get("value"), f"{base}[{k}].value")
    return out


def _pick_object(
    schema: list[Any], wanted: str | None, issues: _Issues
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


def _read_full(data: Mapping[str, Any], issues: _Issues, wanted: str | None = None) -> _Parsed:
    schema = _list(data.get("schema"))
    index, obj = _pick_object(schema, wanted, issues)
    fields: list[_RawField] = []
    flagged: list[tuple[int, int, str, str]] = []  # (position, order, column, path)
    for i, prop in enumerate(_list(obj.get("properties"))):
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
    partitions: list[_RawPartition] = []
    if "target" in custom:
        target_value, target_path = custom["target"]
        partitions = _read_partitioning(target_value, target_path)
    if not partitions:
        # ODCS's own partition flags only carry identity partitioning; dativo's target wins.
        partitions = [_RawPartition(col, "identity", path) for _, _, col, path in sorted(flagged)]
    object_name = obj.get("name") if isinstance(obj.get("name"), str) else None
    physical = obj.get("physicalName") if isinstance(obj.get("physicalName"), str) else None
    return _Parsed(
        fields,
        partitions,
        top,
        schema_object=object_name,
        schema_objects=schema_object_names(data),
        table_name=physical or object_name,
    )


def _read_property(prop: Mapping[str, Any], base: str, issues: _Issues) -> _RawField:
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
    children: list[_RawField] | None = None
    item: _RawField | None = None
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
    return _RawField(base, values, paths, children, item)


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


def _read_temporal_format(values: dict[str, Any], paths: dict[str, str], issues: _Issues) -> None:
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


# --- semantic checks -----------------------------------------------------------------------------


def _check_fields(raw_fields: list[_RawField], issues: _Issues) -> list[FieldSpec]:
    specs: list[FieldSpec] = []
    seen: dict[str, str] = {}
    for raw in raw_fields:
        before = len(issues.items)
        values = dict(raw.values)
        name = values.get("name")
        if not isinstance(name, str) or not name:
            issues.add(raw.path("name"), "field name is required")
            continue
        folded = name.lower()
        if folded in seen:
            issues.add(
                raw.path("name"),
                f"duplicate field name {name!r} (already declared at {seen[folded]}); "
                "names are compared case-insensitively",
            )
        else:
            seen[folded] = raw.path("name")
        if name.startswith(RESERVED_PREFIX):
            issues.add(
                raw.path("name"), f"field names starting with {RESERVED_PREFIX!r} are reserved"
            )
        try:
            values["type"] = canonical_type(str(values.get("type")))
        except ValueError as exc:
            issues.add(raw.path("type"), str(exc))
            continue
        if not _check_shapes(values, raw, issues):
            continue
        for check in _FIELD_CHECKS:
            check(name, values, raw, issues)
        if len(issues.items) == before:
            if "format" in values and values["type"] in TEMPORAL_TYPES:
                values["format"] = strptime_format(values["format"])
            if "enum" in values:
                values["enum"] = tuple(values["enum"])
            if "tags" in values:
                values["tags"] = tuple(values["tags"])
            if raw.children is not None:
                values["fields"] = tuple(_check_fields(raw.children, issues))
            if raw.item is not None:
                element = _check_fields([raw.item], issues)
                values["items"] = element[0] if element else None
            if len(issues.items) == before:
                specs.append(FieldSpec(**values))
    return specs


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


_SHAPES: Final[dict[str, tuple[Callable[[Any], bool], str]]] = {
    **dict.fromkeys(
        ("required", "unique", "primary_key", "allow_nul"),
        (lambda v: isinstance(v, bool), "a boolean"),
    ),
    **dict.fromkeys(
        ("pattern", "format", "description", "classification"),
        (lambda v: isinstance(v, str), "a string"),
    ),
    **dict.fromkeys(
        ("minimum", "maximum"),
        (lambda v: _is_number(v) or isinstance(v, str), "a number (or a date for dates)"),
    ),
    **dict.fromkeys(
        ("min_length", "max_length", "precision", "scale", "min_items", "max_items"),
        (_is_count, "a non-negative integer"),
    ),
    **dict.fromkeys(
        ("exclusive_minimum", "exclusive_maximum"), (lambda v: isinstance(v, bool), "a boolean")
    ),
    "tags": (
        lambda v: isinstance(v, list | tuple) and all(isinstance(t, str) for t in v),
        "a list of strings",
    ),
}


def _check_shapes(values: dict[str, Any], raw: _RawField, issues: _Issues) -> bool:
    """Shape checks the JSON Schema already makes, repeated so unvalidated input cannot crash."""
    ok = True
    for key, (valid, expected) in _SHAPES.items():
        if values.get(key) is not None and not valid(values[key]):
            issues.add(raw.path(key), f"{key} must be {expected}")
            ok = False
    return ok


def _check_system_column(
    name: str, values: dict[str, Any], raw: _RawField, issues: _Issues
) -> None:
    if name == INGEST_DATE and values["type"] != "date":
        issues.add(
            raw.path("type"),
            f"{INGEST_DATE} is the system load-date column dativo fills; its type must be date",
        )


def _check_applicability(
    name: str, values: dict[str, Any], raw: _RawField, issues: _Issues
) -> None:
    type_ = values["type"]
    rules: tuple[tuple[tuple[str, ...], frozenset[str], str], ...] = (
        (("enum",), ENUM_TYPES, "enum needs a scalar type"),
        (("pattern", "min_length", "max_length"), frozenset({"string"}), "applies to strings only"),
        (("allow_nul",), TEXT_TYPES, "applies to string and json only"),
        (("minimum", "maximum"), NUMERIC_TYPES | TEMPORAL_TYPES | {"time"},
         "applies to numeric, date and time types only"),
        (("min_items", "max_items"), frozenset({"list"}), "applies to arrays only"),
        (("precision", "scale"), frozenset({"decimal"}), "applies to decimal only"),
        (("format",), FORMAT_TYPES, "applies to string, date and timestamp types only"),
    )
    for keys, allowed, why in rules:
        for key in keys:
            if key in values and values[key] is not None and type_ not in allowed:
                issues.add(raw.path(key), f"{key} {why}; field {name!r} is {type_}")


def _temporal_bound(type_: str, value: Any) -> Any:
    """A date, datetime or time bound parsed from its ISO 8601 text; ValueError if it is not."""
    from datetime import time

    text = str(value)
    if type_ == "date":
        return date.fromisoformat(text[:10]) if len(text) > 10 else date.fromisoformat(text)
    if type_ == "time":
        return time.fromisoformat(text)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed.replace(tzinfo=None) if parsed.tzinfo is not None else parsed


def _check_bound_kinds(
    name: str, values: dict[str, Any], raw: _RawField, issues: _Issues
) -> None:
    type_ = values["type"]
    for key in ("minimum", "maximum"):
        value = values.get(key)
        if value is None:
            continue
        if type_ in NUMERIC_TYPES and not _is_number(value):
            issues.add(raw.path(key), f"{key} of numeric field {name!r} must be a number")
        elif type_ in TEMPORAL_TYPES | {"time"}:
            try:
                _temporal_bound(type_, value)
            except ValueError:
                issues.add(raw.path(key), f"{key} {value!r} of {type_} field {name!r} is not an "
                           "ISO 8601 value; write it as 2024-01-31 or 2024-01-31T12:00:00Z")


def _check_ranges(name: str, values: dict[str, Any], raw: _RawField, issues: _Issues) -> None:
    pairs = (("minimum", "maximum"), ("min_length", "max_length"), ("min_items", "max_items"))
    for low_key, high_key in pairs:
        low, high = values.get(low_key), values.get(high_key)
        if low_key == "minimum" and values["type"] in TEMPORAL_TYPES | {"time"}:
            try:
                low, high = (None if v is None else _temporal_bound(values["type"], v)
                             for v in (low, high))
            except ValueError:
                continue
        elif low_key == "minimum" and not (_is_number(low) and _is_number(high)):
            continue
        if low is not None and high is not None and low > high:
            issues.add(raw.path(low_key), f"{low_key} {low} is greater than {high_key} {high}")
    precision, scale = values.get("precision"), values.get("scale")
    if precision is not None and not 1 <= precision <= MAX_DECIMAL_PRECISION:
        issues.add(
            raw.path("precision"), f"precision must be between 1 and {MAX_DECIMAL_PRECISION}"
        )
    if scale is not None and values["type"] == "decimal":
        if precision is None:
            issues.add(raw.path("scale"), "scale needs a precision")
        elif scale > precision:
            issues.add(raw.path("scale"), f"scale {scale} is greater than precision {precision}")


def _check_pattern(name: str, values: dict[str, Any], raw: _RawField, issues: _Issues) -> None:
    pattern = values.get("pattern")
    if not isinstance(pattern, str):
        return
    # Imported here: loading a job without patterns (as `dativo run` does before it starts the
    # connector) then needs no pyarrow.
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        # Compile with the engine (RE2) that evaluates it, not Python's re, whose syntax differs.
        pc.match_substring_regex(pa.array([""]), pattern)
    except pa.ArrowInvalid as exc:
        issues.add(raw.path("pattern"), f"invalid regular expression: {exc}")


def _check_format(name: str, values: dict[str, Any], raw: _RawField, issues: _Issues) -> None:
    fmt = values.get("format")
    if isinstance(fmt, str) and values["type"] in TEMPORAL_TYPES:
        try:
            strptime_format(fmt)
        except ValueError as exc:
            issues.add(raw.path("format"), str(exc))


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _enum_value_ok(type_: str, value: Any) -> bool:
    if type_ in ("string",):
        return isinstance(value, str)
    if type_ == "boolean":
        return isinstance(value, bool)
    if type_ == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if type_ in NUMERIC_TYPES:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if not isinstance(value, str):
        return False
    try:
        if type_ == "date":
            return bool(_ISO_DATE.match(value)) and bool(date.fromisoformat(value))
        if type_ in TIMESTAMP_TYPES:
            return bool(datetime.fromisoformat(value))
    except ValueError:
        return False
    return False


def _check_enum(name: str, values: dict[str, Any], raw: _RawField, issues: _Issues) -> None:
    enum = values.get("enum")
    type_ = values["type"]
    if enum is None or type_ not in ENUM_TYPES:
        return
    if not isinstance(enum, list | tuple) or not enum:
        issues.add(raw.path("enum"), "enum must be a non-empty list of values")
        return
    bad = [v for v in enum if not _enum_value_ok(type_, v)]
    if bad:
        shown = ", ".join(repr(v) for v in bad)
        hint = " (ISO 8601 text)" if type_ in TEMPORAL_TYPES else ""
        issues.add(raw.path("enum"), f"enum values {shown} are not {type_} values{hint}")


_FIELD_CHECKS: Final[tuple[Callable[[str, dict[str, Any], _RawField, _Issues], None], ...]] = (
    _check_system_column,
    _check_applicability,
    _check_bound_kinds,
    _check_ranges,
    _check_pattern,
    _check_format,
    _check_enum,
)


def _check_partitions(
    partitions: list[_RawPartition], raw_fields: list[_RawField], issues: _Issues
) -> list[PartitionField]:
    types: dict[str, str] = {}
    for raw in raw_fields:
        name, type_ = raw.values.get("name"), raw.values.get("type")
        if isinstance(name, str):
            try:
                types.setdefault(name, canonical_type(str(type_)))
            except ValueError:
                continue
    types.setdefault(INGEST_DATE, "date")
    read: list[tuple[PartitionField, str]] = []
    for part in partitions:
        try:
            read.append((PartitionField(part.column, part.transform), part.path))
        except ValueError:
            issues.add(part.path, f"unknown partition transform {part.transform!r}")
    fields = [field for field, _ in read]
    bad = dict(partition_problems(
        fields, types.get,
        lambda column: f"partition column {column!r} is neither a field of the schema nor the "
                       f"system column {INGEST_DATE!r}"))
    for index, message in bad.items():
        issues.add(read[index][1], message)
    return [field for index, field in enumerate(fields) if index not in bad]


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
