"""Data contracts: the asset model, its Arrow schema, ODCS export and vectorised row checks."""

from airflow_provider_dativo.contracts.arrow_types import arrow_schema
from airflow_provider_dativo.contracts.checks import CheckResult, check_batch
from airflow_provider_dativo.contracts.model import (
    Contract,
    FieldSpec,
    PartitionField,
    contract_from_mapping,
)
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
