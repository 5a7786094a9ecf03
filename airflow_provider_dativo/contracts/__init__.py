"""Data contracts: the asset model, its Arrow schema, ODCS export and vectorised row checks.

The model loads without pyarrow; the Arrow parts load on first use, so loading a job (as
`dativo run` does before it starts a connector) does not wait for pyarrow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_dativo.contracts.model import Contract, FieldSpec
from airflow_provider_dativo.contracts.partitioning import PartitionField
from airflow_provider_dativo.contracts.reading import contract_from_mapping
from airflow_provider_dativo.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from airflow_provider_dativo.contracts.arrow_types import arrow_schema
    from airflow_provider_dativo.contracts.checks import CheckResult, check_batch
    from airflow_provider_dativo.contracts.odcs_export import to_odcs, validate_official

__all__ = [
    "CheckResult",
    "Contract",
    "FieldSpec",
    "PartitionField",
    "arrow_schema",
    "check_batch",
    "contract_from_mapping",
    "to_odcs",
    "validate_official",
]

__getattr__ = lazy_exports(__name__, {
    "arrow_schema": "arrow_types", "CheckResult": "checks", "check_batch": "checks",
    "to_odcs": "odcs_export", "validate_official": "odcs_export",
})
