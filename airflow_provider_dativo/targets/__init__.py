"""Targets: where loaded data lands.

Names load on first use: the runner needs ``targets.base`` and ``targets.registry`` before a
connector starts, and the Arrow and Iceberg modules load while it starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_dativo.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from airflow_provider_dativo.targets.base import CommitResult, StagedFile, Target, safe_run_id
    from airflow_provider_dativo.targets.iceberg import IcebergSettings, IcebergTarget
    from airflow_provider_dativo.targets.parquet_writer import (
        StagedParquetWriter,
        parquet_file_schema,
    )
    from airflow_provider_dativo.targets.partitioning import (
        PartitionFieldLike,
        PartitionSpecField,
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

__getattr__ = lazy_exports(__name__, {
    "CommitResult": "base", "StagedFile": "base", "Target": "base", "safe_run_id": "base",
    "IcebergSettings": "iceberg", "IcebergTarget": "iceberg",
    "PartitionFieldLike": "partitioning", "PartitionSpecField": "partitioning",
    "StagedParquetWriter": "parquet_writer", "parquet_file_schema": "parquet_writer",
})
