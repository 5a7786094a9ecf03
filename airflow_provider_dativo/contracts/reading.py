"""Reading a contract: either asset form into one ``Contract`` (see ``model.py`` for the rules).

The short form is read here, the full ODCS form in ``odcs_reading.py``; both give raw fields that
``rules.py`` checks before the contract is built.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from airflow_provider_dativo.contracts._raw import (
    Issues,
    Parsed,
    RawField,
    as_list,
    read_partitioning,
)
from airflow_provider_dativo.contracts.model import (
    Contract,
    FieldSpec,
    is_full_form,
)
from airflow_provider_dativo.contracts.odcs_reading import read_full
from airflow_provider_dativo.contracts.quality import QualityRule, read_rules
from airflow_provider_dativo.contracts.rules import check_fields, check_partitions
from airflow_provider_dativo.errors import ConfigError


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
    issues = Issues(file, lines)
    full = is_full_form(data)
    parsed = (read_full(data, issues, schema_object) if full else _read_short(data, issues))
    specs = check_fields(parsed.fields, issues)
    if not parsed.fields and not full:
        issues.add("schema", "schema must declare at least one field")
    partitions = check_partitions(parsed.partitions, parsed.fields, issues)
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

    def __init__(self, issues: Issues) -> None:
        self.issues = issues

    def add(self, path: str, message: str) -> None:
        self.issues.add(path, message)

    def line_of(self, path: str) -> int | None:
        return self.issues._issue(path, "").line


def _read_quality(data: Mapping[str, Any], parsed: Parsed, specs: Sequence[FieldSpec],
                  issues: Issues) -> tuple[QualityRule, ...]:
    """The ``quality`` rules of the picked schema object and of its properties."""
    schema = as_list(data.get("schema"))
    names = [obj.get("name") if isinstance(obj, Mapping) else None for obj in schema]
    index = names.index(parsed.schema_object) if parsed.schema_object in names else 0
    obj = schema[index] if schema and isinstance(schema[index], Mapping) else {}
    by_name = {spec.name: spec for spec in specs}
    entries: list[tuple[str, Any, FieldSpec | None]] = [
        (f"schema[{index}].quality", obj.get("quality"), None)]
    for i, prop in enumerate(as_list(obj.get("properties"))):
        if isinstance(prop, Mapping) and prop.get("quality") is not None:
            spec = by_name.get(str(prop.get("name")))
            if spec is not None:
                entries.append((f"schema[{index}].properties[{i}].quality", prop["quality"],
                                spec))
    return read_rules(entries, _QualityIssues(issues))


def _contract_name(data: Mapping[str, Any], parsed: Parsed, full: bool) -> tuple[str | None, str]:
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


def _read_short(data: Mapping[str, Any], issues: Issues) -> Parsed:
    fields = []
    for i, item in enumerate(as_list(data.get("schema"))):
        base = f"schema[{i}]"
        if not isinstance(item, Mapping):
            issues.add(base, "a field must be a mapping")
            continue
        values = {k: item[k] for k in _SHORT_KEYS if k in item}
        fields.append(RawField(base, values, {k: f"{base}.{k}" for k in values}))
    top = {k: data.get(k) for k in ("source_type", "object", "target", "governance")}
    return Parsed(fields, read_partitioning(data.get("target"), "target"), top)


