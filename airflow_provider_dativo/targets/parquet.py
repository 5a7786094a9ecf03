"""Parquet target: Hive-style partitioned Parquet files on local disk or object storage.

Layout of one table (``<path>/<tenant>/<table>/``)::

    ingest_date=2026-11-26/<run>-part-00000-<uuid>.parquet   data, written once by extract
    _dativo/commits/<run>.json                               one marker per committed run

Extract writes the data files in place; load writes the run's commit marker last (see
``commit_log``). Readers that want only committed data read the files the markers list
(``committed_paths`` / ``read_table``); the next run's state comes from the newest marker.
Governance from the contract goes into every file's footer as ``dativo.*`` key-value metadata.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from airflow_provider_dativo.errors import ConfigIssue
from airflow_provider_dativo.targets.base import Description, safe_run_id
from airflow_provider_dativo.targets.binding import (
    TableShape,
    append_only_issues,
    file_storage_properties,
    file_table_root,
    raise_issues,
    tenant_namespace,
    writer_of,
)
from airflow_provider_dativo.targets.commit_log import MarkedFilesTarget
from airflow_provider_dativo.targets.parquet_writer import (
    StagedParquetWriter,
    parquet_file_schema,
)
from airflow_provider_dativo.targets.partitioning import PartitionFieldLike, resolve_partitioning
from airflow_provider_dativo.targets.storage import Storage

if TYPE_CHECKING:
    from airflow_provider_dativo.config.specs import JobSpec


@dataclass(frozen=True)
class ParquetSettings:
    root: str  # the table folder: local absolute path or s3://bucket/prefix/...
    table: str  # tenant.table, for messages and markers
    storage: Mapping[str, str] = field(default_factory=dict)  # pyiceberg FileIO properties


class ParquetTarget(MarkedFilesTarget):
    """Implements ``targets.base.Target`` for plain Parquet; append only."""

    format = "parquet"

    def __init__(
        self,
        settings: ParquetSettings,
        schema: pa.Schema,
        partitioning: Sequence[PartitionFieldLike] = (),
        file_metadata: Mapping[str, str] | None = None,
        writer: str | None = None,
    ) -> None:
        super().__init__(Storage(settings.storage), settings.root, settings.table, writer)
        self._settings = settings
        self._schema = schema
        self._partitioning = resolve_partitioning(schema, partitioning)
        self._file_metadata = dict(file_metadata or {})

    def staged_writer(self, run_id: str, **options: Any) -> StagedParquetWriter:
        return StagedParquetWriter(
            self.root,
            self._schema,
            partition_by=self._partitioning,
            open_output=self.open_output,
            hive_partitions=True,
            # the run in every file name keeps runs apart inside shared partition folders
            file_prefix=safe_run_id(run_id),
            file_metadata=self._file_metadata,
            **options,
        )

    def describe(self) -> Description:
        return Description(super().describe().facts, self.read_table())

    def read_table(self) -> pa.Table:
        """Every committed row (and only those), in the staged file schema."""
        tables = []
        for path in self.committed_paths():
            with self.storage.io.new_input(path).open() as stream:
                tables.append(pq.read_table(stream))
        if not tables:
            return parquet_file_schema(self._schema).empty_table()
        return pa.concat_tables(tables, promote_options="default")


# -- from a job (see targets.registry) ---------------------------------------------------------
KEEPS_QUARANTINE_TABLE = True


def job_issues(job: JobSpec) -> list[ConfigIssue]:
    """Plain Parquet files only append."""
    return append_only_issues(job)


def storage_properties(job: JobSpec, connection: Mapping[str, Any]) -> dict[str, str]:
    return file_storage_properties(connection)


def from_job(job: JobSpec, connection: Mapping[str, Any], shape: TableShape | None = None
             ) -> ParquetTarget:
    if shape is None:
        raise_issues(job_issues(job))
        shape = TableShape.of_job(job)
    settings = ParquetSettings(
        root=file_table_root(job, connection, ".dativo/parquet", shape.table),
        table=f"{tenant_namespace(job, connection)}.{shape.table}",
        storage=file_storage_properties(connection))
    return ParquetTarget(settings, shape.schema, partitioning=shape.partitioning,
                         file_metadata=shape.properties, writer=writer_of(job))
