"""The one place a contract becomes an Arrow schema; readers, checks and targets all use it."""

from __future__ import annotations

import pyarrow as pa

from airflow_provider_dativo.contracts._types import (
    DEFAULT_DECIMAL_PRECISION,
    DEFAULT_DECIMAL_SCALE,
)
from airflow_provider_dativo.contracts.model import Contract, FieldSpec

_SIMPLE: dict[str, pa.DataType] = {
    "string": pa.string(),
    "integer": pa.int64(),
    "float": pa.float32(),
    "double": pa.float64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    # Offsets are normalised to UTC on the way in, so one zone describes every stored value.
    "timestamptz": pa.timestamp("us", tz="UTC"),
    "binary": pa.binary(),
    "int32": pa.int32(),
    "time": pa.time64("us"),
    "uuid": pa.uuid(),
    # JSON is kept as its text; Iceberg and Parquet have no portable document type.
    "json": pa.string(),
}

DESCRIPTION_KEY = b"description"


def arrow_type(spec: FieldSpec) -> pa.DataType:
    """The Arrow type that stores values of ``spec``."""
    if spec.type == "decimal":
        if spec.precision is None:
            return pa.decimal128(DEFAULT_DECIMAL_PRECISION, DEFAULT_DECIMAL_SCALE)
        # As in SQL, decimal(p) has no fraction digits; a default scale of 9 would leave
        # decimal(5) unable to hold 1.
        return pa.decimal128(spec.precision, spec.scale or 0)
    # Nested fields are stored nullable: a required one is null wherever its parent is, which
    # Arrow and Parquet refuse in a non-nullable child; the contract check enforces required.
    if spec.type == "struct":
        return pa.struct([arrow_field(child, nested=True) for child in spec.fields])
    if spec.type == "list":
        assert spec.items is not None
        return pa.list_(arrow_field(spec.items, nested=True))
    return _SIMPLE[spec.type]


def arrow_field(spec: FieldSpec, *, nested: bool = False) -> pa.Field:
    metadata = {DESCRIPTION_KEY: spec.description.encode()} if spec.description else None
    nullable = nested or not spec.required
    return pa.field(spec.name, arrow_type(spec), nullable=nullable, metadata=metadata)


def arrow_schema(contract: Contract) -> pa.Schema:
    """Contract fields in declaration order; an added ``ingest_date`` system column comes last."""
    return pa.schema([arrow_field(spec) for spec in contract.fields])
