"""The governance a job's table carries, and where each value came from.

Table level (owner, tags, classification, retention_days and free keys such as cost_centre):
the job's ``governance`` block wins over the contract, the contract over the connector recipes'
``governance`` defaults (the target recipe's over the source recipe's). The job's top-level
``owner`` counts as the job's when ``governance.owner`` is not set.

Column level: each contract property's description, businessName, classification, tags and
customProperties; the job's ``classification_overrides: {column: value}`` replaces a column's
classification (nested columns are named by their dotted path, ``address.city``; a list's
element is ``<column>.element``). A column named there that no stream of the job has is an
error of the job file.

Everything lands as flat string properties (``properties()``): Iceberg table properties, and
key-value metadata in the footer of every Parquet file the file targets write:

* ``dativo.owner``, ``dativo.tags``, ``dativo.classification``, ``dativo.retention_days``
* ``dativo.governance.<key>`` for a free key
* ``dativo.column.<column>.classification`` / ``.tags`` / ``.description`` /
  ``.business_name`` / ``.custom.<property>``

Lists are comma-joined, other non-text values JSON. The column's description is also the
Iceberg column's ``doc``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from airflow_provider_dativo.config.yaml_loader import YamlDocument, join_path
from airflow_provider_dativo.errors import ConfigIssue

if TYPE_CHECKING:
    from airflow_provider_dativo.contracts import Contract
    from airflow_provider_dativo.contracts.model import FieldSpec

STANDARD_KEYS = ("owner", "tags", "classification", "retention_days")
TABLE_PREFIX = "dativo."
FREE_PREFIX = "dativo.governance."
COLUMN_PREFIX = "dativo.column."
# dativo's own additions to an ODCS property's customProperties, already read as column rules.
_RULE_CUSTOM_PROPERTIES = frozenset({"enum", "allowNul"})


@dataclass(frozen=True)
class Sourced:
    """A value and where it came from: ``job``, ``contract``, ``target recipe`` or
    ``source recipe``, with the file that says it."""

    value: Any
    origin: str
    file: str


@dataclass(frozen=True)
class ColumnGovernance:
    path: str  # dotted for nested columns
    description: str | None = None
    business_name: str | None = None
    classification: Sourced | None = None
    tags: tuple[str, ...] = ()
    custom: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def properties(self) -> dict[str, str]:
        base = f"{COLUMN_PREFIX}{self.path}"
        props: dict[str, str] = {}
        if self.classification is not None:
            props[f"{base}.classification"] = _text(self.classification.value)
        if self.tags:
            props[f"{base}.tags"] = ",".join(self.tags)
        if self.description:
            props[f"{base}.description"] = self.description
        if self.business_name:
            props[f"{base}.business_name"] = self.business_name
        for key, value in self.custom.items():
            props[f"{base}.custom.{key}"] = _text(value)
        return props


@dataclass(frozen=True)
class Governance:
    """The effective governance of one job's table (one stream of a multi-stream job)."""

    table: Mapping[str, Sourced] = field(default_factory=lambda: MappingProxyType({}))
    columns: tuple[ColumnGovernance, ...] = ()

    def table_properties(self) -> dict[str, str]:
        props: dict[str, str] = {}
        for key, item in self.table.items():
            if item.value in (None, "", [], ()):
                continue
            name = f"{TABLE_PREFIX}{key}" if key in STANDARD_KEYS else f"{FREE_PREFIX}{key}"
            props[name] = _text(item.value)
        return props

    def properties(self) -> dict[str, str]:
        """Table and column governance as flat ``dativo.*`` string properties."""
        props = self.table_properties()
        for column in self.columns:
            props.update(column.properties())
        return props

    def column(self, path: str) -> ColumnGovernance | None:
        return next((c for c in self.columns if c.path == path), None)

    def value(self, key: str) -> Any:
        item = self.table.get(key)
        return None if item is None else item.value


def is_governance_property(key: str) -> bool:
    """Whether a table property is one that ``Governance.properties`` owns, so a value no
    longer wanted is removed instead of left behind."""
    return (key.startswith((COLUMN_PREFIX, FREE_PREFIX))
            or key in {f"{TABLE_PREFIX}{k}" for k in STANDARD_KEYS})


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple):
        return ",".join(_text(v) for v in value)
    return json.dumps(value, sort_keys=True, default=str)


# -- resolving ------------------------------------------------------------------------------------


def contract_table_values(contract: Contract) -> dict[str, Any]:
    values: dict[str, Any] = {
        "owner": contract.owner,
        "tags": list(contract.tags) or None,
        "classification": list(contract.classification) or None,
        "retention_days": contract.retention_days,
    }
    return {k: v for k, v in values.items() if v is not None}


def resolve(job_data: Mapping[str, Any], job_file: str, contract: Contract, contract_file: str,
            recipes: Sequence[tuple[str, str, Mapping[str, Any]]]) -> Governance:
    """The effective governance: ``recipes`` are ``(origin, file, governance)`` in rising
    precedence (source recipe, then target recipe); then the contract; then the job."""
    table: dict[str, Sourced] = {}
    for origin, file, values in recipes:
        for key, value in values.items():
            table[key] = Sourced(value, origin, file)
    for key, value in contract_table_values(contract).items():
        table[key] = Sourced(value, "contract", contract_file)
    job_values = dict(job_data.get("governance") or {})
    if "owner" not in job_values and job_data.get("owner"):
        job_values["owner"] = job_data["owner"]
    for key, value in job_values.items():
        table[key] = Sourced(value, "job", job_file)
    overrides = job_data.get("classification_overrides") or {}
    columns = []
    extra = _document_extras(contract)
    for path, spec in walk_fields(contract.fields):
        business_name, custom = extra.get(path, (None, {}))
        classification = None
        if spec.classification:
            classification = Sourced(spec.classification, "contract", contract_file)
        if path in overrides:
            classification = Sourced(overrides[path], "job", job_file)
        columns.append(ColumnGovernance(
            path, spec.description, business_name, classification, tuple(spec.tags),
            MappingProxyType(dict(custom))))
    return Governance(MappingProxyType(table), tuple(columns))


def walk_fields(fields: Sequence[FieldSpec], prefix: str = "") -> Iterator[tuple[str, FieldSpec]]:
    """Every column and nested column, by dotted path, parents first."""
    for spec in fields:
        path = f"{prefix}{spec.name}"
        yield path, spec
        yield from walk_fields(spec.fields, f"{path}.")
        if spec.items is not None:
            yield from walk_fields((spec.items,), f"{path}.")


def override_issues(doc: YamlDocument, contracts: Sequence[Contract]) -> list[ConfigIssue]:
    """``classification_overrides`` naming a column that none of the job's streams has."""
    overrides = doc.data.get("classification_overrides") or {}
    known = {path for contract in contracts for path, _ in walk_fields(contract.fields)}
    issues = []
    for column in overrides:
        if column in known:
            continue
        where = join_path("classification_overrides", column)
        top = sorted(p for p in known if "." not in p)
        issues.append(ConfigIssue(
            doc.file, f"classification override for unknown column '{column}'; the asset's "
            f"columns are: {', '.join(top) or 'none'} (nested ones by dotted path)",
            doc.line_of(where), where))
    return issues


def _document_extras(contract: Contract) -> dict[str, tuple[str | None, dict[str, Any]]]:
    """businessName and customProperties per column path, from a full ODCS document (the short
    form has neither)."""
    from airflow_provider_dativo.contracts.model import is_full_form

    if not contract.document:
        return {}
    try:
        data = json.loads(contract.document)
    except ValueError:
        return {}
    if not isinstance(data, Mapping) or not is_full_form(data):
        return {}
    schema = data.get("schema")
    if not isinstance(schema, list):
        return {}
    objects = [o for o in schema if isinstance(o, Mapping)]
    wanted = contract.schema_object
    obj = next((o for o in objects if wanted is not None and o.get("name") == wanted),
               objects[0] if objects else {})
    out: dict[str, tuple[str | None, dict[str, Any]]] = {}

    def visit(props: Any, prefix: str) -> None:
        for prop in props if isinstance(props, list) else ():
            if not isinstance(prop, Mapping) or not isinstance(prop.get("name"), str):
                continue
            path = f"{prefix}{prop['name']}"
            _record(out, path, prop)
            visit(prop.get("properties"), f"{path}.")
            items = prop.get("items")
            if isinstance(items, Mapping):
                element = f"{path}.element"
                _record(out, element, items)
                visit(items.get("properties"), f"{element}.")

    visit(obj.get("properties"), "")
    return out


def _record(out: dict[str, tuple[str | None, dict[str, Any]]], path: str,
            prop: Mapping[str, Any]) -> None:
    custom = {}
    for item in prop.get("customProperties") or ():
        if (isinstance(item, Mapping) and isinstance(item.get("property"), str)
                and item["property"] not in _RULE_CUSTOM_PROPERTIES):
            custom[item["property"]] = item.get("value")
    business = prop.get("businessName")
    if business is not None or custom:
        out[path] = (str(business) if business is not None else None, custom)
