"""Iceberg data-file entries for Parquet files dativo wrote, statistics read from their footers;
and the removal of run files no commit took."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

import pyarrow.parquet as pq

from airflow_provider_dativo.errors import TargetError
from airflow_provider_dativo.targets.base import StagedFile

if TYPE_CHECKING:
    from pyiceberg.io.pyarrow import DataFileStatistics
    from pyiceberg.manifest import DataFile
    from pyiceberg.table import Table, Transaction
    from pyiceberg.typedef import Record


def data_files(tx: Transaction, files: Sequence[StagedFile]) -> list[DataFile]:
    """Iceberg data files for staged Parquet files, statistics read from their footers.

    Like pyiceberg's add_files, except that the partition of a transform that does not keep
    order (bucket) comes from the staged file, since no min/max statistic can tell it.
    """
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(lambda f: _staged_data_file(tx, f), files))


def rewritten_data_file(tx: Transaction, path: str, replaces: DataFile) -> DataFile:
    """The entry for ``path``, a copy of the data file ``replaces`` with some rows left out.

    A subset of a file's rows lies in that file's partition, so partition and spec are kept.
    """
    statistics, size = _statistics(tx, path, check_schema=False)
    return _entry(tx, path, size, statistics, replaces.partition, replaces.spec_id)


def _staged_data_file(tx: Transaction, staged: StagedFile) -> DataFile:
    from pyiceberg.typedef import Record

    metadata = tx.table_metadata
    schema = metadata.schema()
    statistics, size = _statistics(tx, staged.path, check_schema=True)
    values = []
    for field in metadata.spec().fields:
        if field.transform.preserves_order:
            values.append(statistics._partition_value(field, schema))
        elif field.name in staged.partition:
            values.append(staged.partition[field.name])
        else:
            raise TargetError(
                f"staged file {staged.path} does not say its {field.name} partition; "
                "re-run extract, then load"
            )
    return _entry(tx, staged.path, size, statistics, Record(*values), metadata.default_spec_id)


def _statistics(tx: Transaction, path: str, check_schema: bool) -> tuple[DataFileStatistics, int]:
    from pyiceberg.io.pyarrow import (
        _check_pyarrow_schema_compatible,
        compute_statistics_plan,
        data_file_statistics_from_parquet_metadata,
        parquet_path_to_id_mapping,
    )

    metadata = tx.table_metadata
    schema = metadata.schema()
    input_file = tx._table.io.new_input(path)
    with input_file.open() as stream:
        footer = pq.read_metadata(stream)
    if check_schema:
        _check_pyarrow_schema_compatible(schema, footer.schema.to_arrow_schema(),
                                         format_version=metadata.format_version)
    statistics = data_file_statistics_from_parquet_metadata(
        parquet_metadata=footer,
        stats_columns=compute_statistics_plan(schema, metadata.properties),
        parquet_column_mapping=parquet_path_to_id_mapping(schema),
    )
    return statistics, len(input_file)


def _entry(tx: Transaction, path: str, size: int, statistics: DataFileStatistics,
           partition: Record, spec_id: int) -> DataFile:
    from pyiceberg.manifest import DataFile, DataFileContent, FileFormat

    return DataFile.from_args(
        content=DataFileContent.DATA,
        file_path=path,
        file_format=FileFormat.PARQUET,
        partition=partition,
        file_size_in_bytes=size,
        sort_order_id=None,
        spec_id=spec_id,
        equality_ids=None,
        key_metadata=None,
        **statistics.to_serialized_dict(),
    )


def remove_run_orphans(table: Table, older_than: dt.timedelta) -> list[str]:
    """Delete the files in dativo's run folders of ``table`` that no snapshot references, once
    older than ``older_than`` (see ``IcebergTarget.remove_orphans``)."""
    from airflow_provider_dativo.targets.storage import Storage

    root = table.properties.get("write.data.path") or f"{table.location().rstrip('/')}/data"
    referenced = set(table.inspect.all_files().column("file_path").to_pylist())
    cutoff = dt.datetime.now(dt.UTC) - older_than
    storage = Storage(io=table.io)
    removed = []
    for f in storage.list_files(root):
        if "/_dativo_run=" not in f.path or f.path in referenced:
            continue
        if f.modified is not None and f.modified > cutoff:
            continue  # may belong to a run still extracting
        storage.delete(f.path)
        removed.append(f.path)
    return removed
