"""One contract model for both asset forms.

An asset is either the dativo *short form* (``schema`` is a list of fields with ``type``) or a full
ODCS v3.0.2 document (``schema`` holds one object whose ``properties`` are the fields, and the
dativo additions sit in ``customProperties``). :func:`contract_from_mapping` reads either into the
same :class:`Contract` (reading lives in ``reading.py`` and ``odcs_reading.py``, the rules a
contract must keep in ``rules.py``), so nothing downstream needs to know which form a user wrote.

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

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any, Final

from airflow_provider_dativo.contracts._quality_rule import QualityRule
from airflow_provider_dativo.contracts._types import (
    INGEST_DATE,
    canonical_type,
)
from airflow_provider_dativo.contracts.partitioning import PartitionField
from airflow_provider_dativo.errors import ConfigIssue

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

    def rule_texts(self) -> tuple[str, ...]:
        """The rules every row's value must keep, one short text each, as the DAG's doc lists
        them (``required`` and the type have columns of their own there)."""
        rules: list[str] = []
        if self.enum:
            rules.append("one of " + ", ".join(map(str, self.enum)))
        if self.pattern:
            rules.append(f"matches `{self.pattern}`")
        if self.format:
            rules.append(f"format `{self.format}`")
        if self.minimum is not None:
            rules.append(f"{'>' if self.exclusive_minimum else '>='} {self.minimum}")
        if self.maximum is not None:
            rules.append(f"{'<' if self.exclusive_maximum else '<='} {self.maximum}")
        if self.min_length is not None:
            rules.append(f"length >= {self.min_length}")
        if self.max_length is not None:
            rules.append(f"length <= {self.max_length}")
        if self.min_items is not None:
            rules.append(f"items >= {self.min_items}")
        if self.max_items is not None:
            rules.append(f"items <= {self.max_items}")
        if self.unique:
            rules.append("unique")
        return tuple(rules)


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


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def __getattr__(name: str) -> Any:
    # Reading a contract lives in reading.py (which imports this module); its name stays
    # importable from here, loaded on first use.
    if name == "contract_from_mapping":
        from airflow_provider_dativo.contracts.reading import contract_from_mapping

        return contract_from_mapping
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
