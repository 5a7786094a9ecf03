"""An Iceberg table's shape from a contract's Arrow schema: create it, evolve it, refuse what
Iceberg cannot evolve (a new required column, a narrowed type, another partitioning)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from airflow_provider_dativo.config.governance import COLUMN_PREFIX
from airflow_provider_dativo.errors import TargetError
from airflow_provider_dativo.targets.parquet_writer import parquet_file_schema
from airflow_provider_dativo.targets.partitioning import PartitionSpecField

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.partitioning import PartitionSpec
    from pyiceberg.schema import Schema
    from pyiceberg.table import Table
    from pyiceberg.types import IcebergType, NestedField

log = logging.getLogger(__name__)

# Table properties that pyiceberg manages itself and must not be compared or set as governance.
_RESERVED_PROPERTIES = frozenset({"format-version"})


def create_table(catalog: Catalog, identifier: str, schema: pa.Schema,
             partitioning: Sequence[PartitionSpecField],
             properties: Mapping[str, str]) -> Table | None:
    """Create the table in one transaction; None when someone else created it first."""
    from pyiceberg.exceptions import CommitFailedException, TableAlreadyExistsError
    from pyiceberg.schema import assign_fresh_schema_ids
    from pyiceberg.table import TableProperties

    table_schema = with_docs(assign_fresh_schema_ids(to_iceberg_schema(schema)),
                             column_docs(schema))
    spec = partition_spec(table_schema, partitioning)
    try:
        tx = catalog.create_table_transaction(
            identifier,
            schema=table_schema,
            partition_spec=spec,
            properties=dict(properties),
        )
        # Stored up front so add_files never needs to add it as a side effect of a load.
        name_mapping = tx.table_metadata.schema().name_mapping.model_dump_json()
        tx.set_properties({TableProperties.DEFAULT_NAME_MAPPING: name_mapping})
        table = tx.commit_transaction()
    except TableAlreadyExistsError:
        return None
    except CommitFailedException:
        # Some catalogs report a lost create race as a failed assert-create requirement.
        if catalog.table_exists(identifier):
            return None
        raise
    log.info("created Iceberg table %s at %s", identifier, table.location())
    return table

def reconcile(table: Table, identifier: str, schema: pa.Schema,
          partitioning: Sequence[PartitionSpecField],
          wanted: Mapping[str, str]) -> Table:
    """Bring an existing table up to the contract: compatible schema changes, governance
    properties and column docs, in one transaction; a change Iceberg cannot make raises."""
    check_partitioning(table, identifier, partitioning)
    problems, changes = schema_diff(table.schema(), to_iceberg_schema(schema))
    if problems:
        raise TargetError(
            f"the schema no longer fits Iceberg table {identifier}:\n"
            + "\n".join(f"  - {p}" for p in problems)
            + "\nrevert the contract change, or migrate the table by hand "
            "(Iceberg only evolves by adding optional columns, widening types and relaxing "
            "required columns)"
        )
    properties = {k: v for k, v in wanted.items()
                  if k not in _RESERVED_PROPERTIES and table.properties.get(k) != v}
    # Column governance follows the contract: a column's property the contract no longer
    # gives (classification dropped, column removed) goes, rather than misleading readers.
    stale = sorted(k for k in table.properties
                   if k.startswith(COLUMN_PREFIX) and k not in wanted)
    docs = column_docs(schema)
    if not changes and not properties and not stale and not changed_docs(table.schema(),
                                                                          docs):
        return table
    # One transaction: a concurrent writer sees either the old table or all of the changes.
    tx = table.transaction()
    if changes:
        with tx.update_schema() as update:
            update.union_by_name(catalog_arrow_schema(schema))
    # after the union, so columns it added get their docs too
    doc_changes = changed_docs(tx.table_metadata.schema(), docs)
    if doc_changes:
        with tx.update_schema() as update:
            for path, doc in doc_changes.items():
                update.update_column(path, doc=doc)
    if properties:
        tx.set_properties(properties)
    if stale:
        tx.remove_properties(*stale)
    updated = tx.commit_transaction()
    for change in changes:
        log.info("evolved Iceberg table %s: %s", identifier, change)
    if properties or stale:
        log.info(
            "updated properties of Iceberg table %s: %s",
            identifier,
            ", ".join(sorted([*properties, *(f"-{k}" for k in stale)])),
        )
    if doc_changes:
        log.info("updated column docs of Iceberg table %s: %s", identifier,
                 ", ".join(doc_changes))
    return updated


def check_partitioning(table: Table, identifier: str,
                   partitioning: Sequence[PartitionSpecField]) -> None:
    schema = table.schema()
    existing = [
        (schema.find_column_name(f.source_id) or f"<field {f.source_id}>", str(f.transform))
        for f in table.spec().fields
    ]
    wanted = [(p.column, p.transform) for p in partitioning]
    if existing != wanted:
        raise TargetError(
            f"Iceberg table {identifier} is partitioned by "
            f"{describe_partitioning(existing)} but the job asks for "
            f"{describe_partitioning(wanted)}; align the job's partitioning with the table "
            "(partition evolution is not automatic)"
        )


def catalog_arrow_schema(schema: pa.Schema) -> pa.Schema:
    """The staged-file schema, with column descriptions kept so they become Iceberg column docs."""
    fields = []
    for source, target in zip(schema, parquet_file_schema(schema), strict=True):
        meta = source.metadata or {}
        doc = meta.get(b"doc") or meta.get(b"description")
        fields.append(target.with_metadata({b"doc": doc}) if doc else target)
    return pa.schema(fields)


def to_iceberg_schema(schema: pa.Schema) -> Schema:
    # pyiceberg's own create_table path uses this converter; its public counterpart needs field
    # ids or a name mapping, which a contract's schema does not have.
    from pyiceberg.io.pyarrow import _pyarrow_to_schema_without_ids

    try:
        return _pyarrow_to_schema_without_ids(
            catalog_arrow_schema(schema), downcast_ns_timestamp_to_us=True
        )
    except Exception as exc:
        raise TargetError(f"the schema cannot be stored in Iceberg: {exc}") from exc


def column_docs(schema: pa.Schema) -> dict[str, str]:
    """Column path (``a.b`` for nested, ``a.element.b`` inside a list) → the contract's
    description of it, which is the Iceberg column's doc."""
    docs: dict[str, str] = {}

    def visit(field: pa.Field, path: str) -> None:
        meta = field.metadata or {}
        doc = meta.get(b"doc") or meta.get(b"description")
        if doc:
            docs[path] = doc.decode()
        kind = field.type
        if pa.types.is_struct(kind):
            for i in range(kind.num_fields):
                child = kind.field(i)
                visit(child, f"{path}.{child.name}")
        elif pa.types.is_list(kind) or pa.types.is_large_list(kind):
            visit(kind.value_field, f"{path}.element")

    for field in schema:
        visit(field, field.name)
    return docs


def with_docs(schema: Schema, docs: Mapping[str, str]) -> Schema:
    """``schema`` with each column's doc set from ``docs`` (a post-processing step, so the
    type conversion stays free of governance)."""
    from pyiceberg.schema import Schema as IcebergSchema
    from pyiceberg.types import ListType, StructType

    def fields(items: Sequence[NestedField], prefix: str) -> list[NestedField]:
        out = []
        for f in items:
            path = f"{prefix}{f.name}"
            kind = f.field_type
            if isinstance(kind, StructType):
                kind = StructType(*fields(kind.fields, f"{path}."))
            elif isinstance(kind, ListType) and isinstance(kind.element_type, StructType):
                kind = ListType(kind.element_id,
                                StructType(*fields(kind.element_type.fields, f"{path}.element.")),
                                kind.element_required)
            out.append(f.model_copy(update={"field_type": kind, "doc": docs.get(path, f.doc)}))
        return out

    return IcebergSchema(*fields(schema.fields, ""), schema_id=schema.schema_id,
                         identifier_field_ids=schema.identifier_field_ids)


def changed_docs(current: Schema, docs: Mapping[str, str]) -> dict[str, str]:
    """The docs that differ from the table's, for columns the table has."""
    changes = {}
    for path, doc in docs.items():
        try:
            field = current.find_field(path)
        except ValueError:
            continue  # not in the table (yet)
        if field.doc != doc:
            changes[path] = doc
    return changes


def partition_spec(schema: Schema, partitioning: Sequence[PartitionSpecField]) -> PartitionSpec:
    from pyiceberg.partitioning import PartitionField, PartitionSpec
    from pyiceberg.transforms import (
        BucketTransform,
        DayTransform,
        HourTransform,
        IdentityTransform,
        MonthTransform,
        YearTransform,
    )

    transforms: dict[str, Any] = {
        "identity": IdentityTransform,
        "year": YearTransform,
        "month": MonthTransform,
        "day": DayTransform,
        "hour": HourTransform,
    }
    # Field ids 1000+ follow the Iceberg convention for partition fields.
    fields = [
        PartitionField(
            source_id=schema.find_field(p.column).field_id,
            field_id=1000 + i,
            transform=(
                BucketTransform(p.buckets) if p.buckets is not None else transforms[p.transform]()
            ),
            name=p.name,
        )
        for i, p in enumerate(partitioning)
    ]
    return PartitionSpec(*fields)


def describe_partitioning(fields: Sequence[tuple[str, str]]) -> str:
    if not fields:
        return "nothing (unpartitioned)"
    return ", ".join(f"{t}({c})" for c, t in fields)


def schema_diff(current: Schema, wanted: Schema) -> tuple[list[str], list[str]]:
    """Problems that refuse the new schema, and the compatible changes it brings."""
    problems: list[str] = []
    changes: list[str] = []
    diff_fields(list(current.fields), list(wanted.fields), "", problems, changes)
    return problems, changes


def diff_fields(
    current: list[NestedField],
    wanted: list[NestedField],
    prefix: str,
    problems: list[str],
    changes: list[str],
) -> None:
    by_name = {f.name: f for f in wanted}
    for old in current:
        path = f"{prefix}{old.name}"
        new = by_name.pop(old.name, None)
        if new is None:
            if old.required:
                problems.append(
                    f"required column {path!r} is missing; files without it cannot be added"
                )
            continue
        diff_field(old, new, path, problems, changes)
    for new in by_name.values():
        path = f"{prefix}{new.name}"
        if new.required:
            problems.append(
                f"new column {path!r} is required; Iceberg can only add optional columns to an "
                "existing table, so make it nullable"
            )
        else:
            changes.append(f"add optional column {path!r} ({new.field_type})")


def diff_field(
    old: NestedField, new: NestedField, path: str, problems: list[str], changes: list[str]
) -> None:
    if old.optional and new.required:
        problems.append(
            f"column {path!r} is optional in the table but required now; Iceberg cannot make an "
            "existing column required"
        )
    elif old.required and new.optional:
        changes.append(f"column {path!r} becomes optional")
    diff_type(old.field_type, new.field_type, path, problems, changes)


def diff_type(
    old: IcebergType, new: IcebergType, path: str, problems: list[str], changes: list[str]
) -> None:
    from pyiceberg.types import ListType, MapType, StructType

    if isinstance(old, StructType) and isinstance(new, StructType):
        diff_fields(list(old.fields), list(new.fields), f"{path}.", problems, changes)
    elif isinstance(old, ListType) and isinstance(new, ListType):
        diff_field(old.element_field, new.element_field, f"{path}.element", problems, changes)
    elif isinstance(old, MapType) and isinstance(new, MapType):
        diff_field(old.key_field, new.key_field, f"{path}.key", problems, changes)
        diff_field(old.value_field, new.value_field, f"{path}.value", problems, changes)
    elif old == new or widens(new, old):
        return  # a narrower type is read back as the table's wider one
    elif widens(old, new):
        changes.append(f"widen column {path!r} from {old} to {new}")
    else:
        problems.append(f"column {path!r} changed type from {old} to {new}")


def widens(narrow: IcebergType, wide: IcebergType) -> bool:
    """Whether Iceberg's type promotion rules allow ``narrow`` to be read as ``wide``."""
    from pyiceberg.types import DecimalType, DoubleType, FloatType, IntegerType, LongType

    if isinstance(narrow, IntegerType) and isinstance(wide, LongType):
        return True
    if isinstance(narrow, FloatType) and isinstance(wide, DoubleType):
        return True
    return (
        isinstance(narrow, DecimalType)
        and isinstance(wide, DecimalType)
        and narrow.scale == wide.scale
        and narrow.precision < wide.precision
    )
