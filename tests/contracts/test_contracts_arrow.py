"""The contract → Arrow mapping."""

from __future__ import annotations

import pyarrow as pa

from airflow_provider_dativo.contracts import (
    Contract,
    FieldSpec,
    arrow_schema,
    contract_from_mapping,
)


def test_every_type_maps_to_its_arrow_type(rich_short):
    schema = arrow_schema(contract_from_mapping(rich_short))
    assert [(f.name, f.type, f.nullable) for f in schema] == [
        ("order_id", pa.int64(), False),
        ("email", pa.string(), True),
        ("status", pa.string(), True),
        ("amount", pa.decimal128(12, 2), True),
        ("ratio", pa.float64(), True),
        ("weight", pa.float32(), True),
        ("placed_at", pa.timestamp("us", tz="UTC"), False),
        ("shipped_on", pa.date32(), True),
        ("local_time", pa.timestamp("us"), True),
        ("gift", pa.bool_(), True),
        ("attrs", pa.string(), True),
        ("blob", pa.binary(), True),
        ("code", pa.string(), True),
        ("ingest_date", pa.date32(), True),
    ]
    assert schema.field("email").metadata == {b"description": b"Buyer email"}
    assert schema.field("status").metadata is None


def test_decimal_defaults_and_remaining_aliases():
    contract = Contract(
        "c",
        "1",
        (
            FieldSpec("d", "decimal"),
            FieldSpec("p", "decimal", precision=5),
            FieldSpec("l", "long"),
            FieldSpec("n", "number"),
        ),
    )
    assert arrow_schema(contract).types == [
        pa.decimal128(38, 9),
        pa.decimal128(5, 0),
        pa.int64(),
        pa.float64(),
    ]
