"""Targets: where loaded data lands."""

from airflow_provider_dativo.targets.base import CommitResult, StagedFile, Target
from airflow_provider_dativo.targets.iceberg import IcebergSettings, IcebergTarget, safe_run_id
from airflow_provider_dativo.targets.staging import (
    PartitionFieldLike,
    PartitionSpecField,
    StagedParquetWriter,
    parquet_file_schema,
)

__all__ = [
    "CommitResult",
    "IcebergSettings",
    "IcebergTarget",
    "PartitionFieldLike",
    "PartitionSpecField",
    "StagedFile",
    "StagedParquetWriter",
    "Target",
    "parquet_file_schema",
    "safe_run_id",
]
