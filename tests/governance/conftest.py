"""A config root whose orders job carries governance at every level: the target recipe's
defaults, a full ODCS contract with column metadata, and the job's own overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import write

ASSET = """\
apiVersion: v3.0.2
kind: DataContract
id: 9a1f3c1e-2f9b-4d55-8a77-3e4b6f1d9c21
status: active
name: gov_orders
version: "1.0"
tags: [sales]
description:
  purpose: Shop orders with column governance.
schema:
  - name: gov_orders
    logicalType: object
    physicalType: table
    properties:
      - name: order_id
        logicalType: integer
        physicalType: bigint
        required: true
        primaryKey: true
        description: Shop order number.
        businessName: Order number
      - name: customer_email
        logicalType: string
        required: true
        description: Who ordered.
        businessName: Customer e-mail
        classification: PII
        tags: [contact, gdpr]
        customProperties:
          - property: piiCategory
            value: contact
          - property: maskingRule
            value: {kind: hash, salt: none}
      - name: status
        logicalType: string
        classification: internal
      - name: amount
        logicalType: number
        physicalType: decimal(12,2)
      - name: currency
        logicalType: string
      - name: ordered_at
        logicalType: date
        physicalType: timestamptz
customProperties:
  - property: sourceType
    value: file
  - property: object
    value: orders
  - property: governance
    value:
      owner: contract-owner@acme.example
      classification: [confidential]
      retention_days: 730
"""

JOB = """\
tenant_id: acme
name: gov_orders
source_connector: file
source_connector_path: connectors/file.yaml
asset: gov_orders
asset_path: assets/file/v1.0/gov_orders.yaml
target_connector: {target}
target_connector_path: connectors/{target}.yaml
governance:
  owner: job-owner@acme.example
  cost_centre: CC-42
classification_overrides:
  status: public
source:
  connection:
    path: examples/data/orders/*.csv
"""


@pytest.fixture
def governed_root(config_root: Path) -> Path:
    write(config_root / "assets/file/v1.0/gov_orders.yaml", ASSET)
    for target in ("iceberg", "parquet", "markdown_kv"):
        recipe = config_root / f"connectors/{target}.yaml"
        recipe.write_text(recipe.read_text() + "governance:\n  project: lakehouse\n"
                          "  retention_days: 30\n")
        suffix = "" if target == "iceberg" else f"_{target}"
        write(config_root / f"jobs/acme/gov_orders{suffix}.yaml",
              JOB.format(target=target).replace("name: gov_orders",
                                                f"name: gov_orders{suffix}"))
    return config_root
