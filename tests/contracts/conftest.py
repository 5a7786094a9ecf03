from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

SCHEMA_PATH = (
    Path(__file__).resolve().parents[2]
    / "schemas"
    / "odcs"
    / "dativo-odcs-3.0.2-extended.schema.json"
)

# The asset from the user guide, verbatim.
GUIDE_ASSET = """\
$schema: schemas/odcs/dativo-odcs-3.0.2-extended.schema.json
apiVersion: v3.0.2
kind: DataContract
name: toy_http_tickets
version: "1.0"
source_type: toy_http
object: tickets
schema:
  - name: id
    type: string
    required: true
  - name: status
    type: string
    enum: [open, closed, pending]
target:
  file_format: parquet
  partitioning: [ingest_date]
"""

# Every feature in the short form ...
RICH_SHORT = """\
apiVersion: v3.0.2
kind: DataContract
name: shop_orders
version: "2.1.0"
id: orders-contract
status: draft
description: Orders placed in the web shop.
domain: sales
source_type: postgres
object: public.orders
tags: [sales, orders]
schema:
  - {name: order_id, type: long, required: true, unique: true, primary_key: true}
  - {name: email, type: string, pattern: "[^@]+@[^@]+", max_length: 120, classification: PII,
     tags: [contact], description: Buyer email}
  - {name: status, type: string, enum: [new, paid, shipped]}
  - {name: amount, type: decimal, precision: 12, scale: 2, minimum: 0, maximum: 100000}
  - {name: ratio, type: number}
  - {name: weight, type: float}
  - {name: placed_at, type: timestamptz, required: true}
  - {name: shipped_on, type: date, format: "%d/%m/%Y"}
  - {name: local_time, type: timestamp}
  - {name: gift, type: boolean}
  - {name: attrs, type: json}
  - {name: blob, type: binary}
  - {name: code, type: string, min_length: 2, format: uuid}
target:
  file_format: iceberg
  partitioning:
    - {column: placed_at, transform: day}
    - ingest_date
governance:
  owner: data-team@example.com
  classification: [PII, confidential]
  retention_days: 365
  tags: [gdpr]
"""

# ... and the same contract written as a full ODCS document by hand.
RICH_FULL = """\
apiVersion: v3.0.2
kind: DataContract
id: orders-contract
name: shop_orders
version: "2.1.0"
status: draft
description: {purpose: Orders placed in the web shop.}
domain: sales
tags: [sales, orders, gdpr]
team:
  - {username: data-team@example.com, role: owner}
schema:
  - name: orders
    logicalType: object
    physicalType: table
    properties:
      - {name: order_id, logicalType: integer, physicalType: bigint, required: true, unique: true,
         primaryKey: true, primaryKeyPosition: 1}
      - name: email
        logicalType: string
        physicalType: varchar(120)
        classification: PII
        tags: [contact]
        description: Buyer email
        logicalTypeOptions: {pattern: "[^@]+@[^@]+", maxLength: 120}
      - name: status
        logicalType: string
        customProperties: [{property: enum, value: [new, paid, shipped]}]
      - name: amount
        logicalType: number
        physicalType: decimal(12,2)
        logicalTypeOptions: {minimum: 0, maximum: 100000}
      - {name: ratio, logicalType: number}
      - {name: weight, logicalType: number, logicalTypeOptions: {format: f32}}
      - {name: placed_at, logicalType: date, physicalType: timestamp with time zone, required: true}
      - {name: shipped_on, logicalType: date, logicalTypeOptions: {format: dd/MM/yyyy}}
      - {name: local_time, logicalType: date, physicalType: TIMESTAMP}
      - {name: gift, logicalType: boolean}
      - {name: attrs, logicalType: object}
      - {name: blob, logicalType: string, physicalType: bytea}
      - {name: code, logicalType: string, logicalTypeOptions: {minLength: 2, format: uuid}}
customProperties:
  - {property: sourceType, value: postgres}
  - {property: object, value: public.orders}
  - property: target
    value:
      file_format: iceberg
      partitioning: [{column: placed_at, transform: day}, ingest_date]
  - property: governance
    value: {classification: [PII, confidential], retention_days: 365}
"""


def load(text: str) -> dict[str, Any]:
    data = yaml.safe_load(text)
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="session")
def extended_validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.fixture
def guide_asset() -> dict[str, Any]:
    return load(GUIDE_ASSET)


@pytest.fixture
def rich_short() -> dict[str, Any]:
    return load(RICH_SHORT)


@pytest.fixture
def rich_full() -> dict[str, Any]:
    return load(RICH_FULL)
