"""How one load changes an Iceberg table: append, overwrite touched partitions, or upsert by key.

Every mode adopts the staged Parquet files as they are (write once); only what the new files
replace differs. Each function stages its changes on a transaction the caller commits, so the
data change, the run id and the state land in one atomic metadata commit.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from airflow_provider_dativo.errors import TargetError
from airflow_provider_dativo.targets.base import StagedFile

if TYPE_CHECKING:
    from pyiceberg.expressions import BooleanExpression
    from pyiceberg.manifest import DataFile
    from pyiceberg.table import Transaction

WRITE_MODES = ("append", "overwrite", "upsert")


def check_write_mode(write_mode: str, primary_key: Sequence[str]) -> None:
    if write_mode not in WRITE_MODES:
        raise TargetError(
            f"unknown write mode {write_mode!r}; use one of {', '.join(WRITE_MODES)}"
        )
    if write_mode == "upsert" and not primary_key:
        raise TargetError(
            "write mode 'upsert' needs a primary key: mark the key column(s) of the contract "
            "with primary_key: true, or use write_mode: append"
        )


def stage_load(
    tx: Transaction,
    write_mode: str,
    files: Sequence[StagedFile],
    properties: Mapping[str, str],
    primary_key: Sequence[str] = (),
) -> None:
    """Stage the load of ``files`` on ``tx`` in ``write_mode``."""
    props = dict(properties)
    if write_mode == "append":
        _append(tx, data_files(tx, files), props)
    elif write_mode == "overwrite":
        _overwrite_partitions(tx, data_files(tx, files), props)
    elif write_mode == "upsert":
        _upsert(tx, files, props, primary_key)
    else:
        check_write_mode(write_mode, primary_key)


def data_files(tx: Transaction, files: Sequence[StagedFile]) -> list[DataFile]:
    """Iceberg data files for staged Parquet files, statistics read from their footers.

    Like pyiceberg's add_files, except that the partition of a transform that does not keep
    order (bucket) comes from the staged file, since no min/max statistic can tell it.
    """
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(lambda f: _data_file(tx, f), files))


def _data_file(tx: Transaction, staged: StagedFile) -> DataFile:
    from pyiceberg.io.pyarrow import (
        _check_pyarrow_schema_compatible,
        compute_statistics_plan,
        data_file_statistics_from_parquet_metadata,
        parquet_path_to_id_mapping,
    )
    from pyiceberg.manifest import DataFile, DataFileContent, FileFormat
    from pyiceberg.typedef import Record

    metadata = tx.table_metadata
    schema = metadata.schema()
    spec = metadata.spec()
    input_file = tx._table.io.new_input(staged.path)
    with input_file.open() as stream:
        footer = pq.read_metadata(stream)
    _check_pyarrow_schema_compatible(schema, footer.schema.to_arrow_schema(),
                                     format_version=metadata.format_version)
    statistics = data_file_statistics_from_parquet_metadata(
        parquet_metadata=footer,
        stats_columns=compute_statistics_plan(schema, metadata.properties),
        parquet_column_mapping=parquet_path_to_id_mapping(schema),
    )
    values = []
    for field in spec.fields:
        if field.transform.preserves_order:
            values.append(statistics._partition_value(field, schema))
        elif field.name in staged.partition:
            values.append(staged.partition[field.name])
        else:
            raise TargetError(
                f"staged file {staged.path} does not say its {field.name} partition; "
                "re-run extract, then load"
            )
    data_file = DataFile.from_args(
        content=DataFileContent.DATA,
        file_path=staged.path,
        file_format=FileFormat.PARQUET,
        partition=Record(*values),
        file_size_in_bytes=len(input_file),
        sort_order_id=None,
        spec_id=metadata.default_spec_id,
        equality_ids=None,
        key_metadata=None,
        **statistics.to_serialized_dict(),
    )
    return data_file


def _append(tx: Transaction, new_files: list[DataFile], props: dict[str, str]) -> None:
    with tx.update_snapshot(snapshot_properties=props).fast_append() as append:
        for data_file in new_files:
            append.append_data_file(data_file)


def _overwrite_partitions(tx: Transaction, new_files: list[DataFile],
                          props: dict[str, str]) -> None:
    """Replace every file of the partitions the new files fall in; other partitions stay.

    Works on data-file metadata only (no scan of the rows), for every partition transform,
    because a staged file holds exactly one partition value.
    """
    # new files always carry the default spec; older specs' partitions are not comparable
    spec_id = tx.table_metadata.default_spec_id
    touched = {f.partition for f in new_files}
    unpartitioned = tx.table_metadata.spec().is_unpartitioned()
    snapshot = tx.table_metadata.current_snapshot()
    old_files = []
    if snapshot is not None and new_files:
        for task in tx._table.scan(snapshot_id=snapshot.snapshot_id).plan_files():
            same_spec = task.file.spec_id == spec_id
            if unpartitioned or (same_spec and task.file.partition in touched):
                old_files.append(task.file)
    with tx.update_snapshot(snapshot_properties=props).overwrite() as change:
        for old in old_files:
            change.delete_data_file(old)
        for new in new_files:
            change.append_data_file(new)


def _upsert(
    tx: Transaction, files: Sequence[StagedFile], props: dict[str, str],
    primary_key: Sequence[str]
) -> None:
    """Delete the rows whose key the new files carry, then adopt the new files.

    The delete rewrites only the existing files holding such keys (copy-on-write); the new
    files themselves are never rewritten.
    """
    check_write_mode("upsert", primary_key)
    keys = _staged_keys(tx, [f.path for f in files], primary_key)
    if keys.num_rows:
        with warnings.catch_warnings():
            # "did not match any records" is the normal case for keys seen the first time
            warnings.simplefilter("ignore", UserWarning)
            tx.delete(_key_filter(keys, primary_key), snapshot_properties=props)
    _append(tx, data_files(tx, files), props)


def _staged_keys(tx: Transaction, paths: list[str], primary_key: Sequence[str]) -> pa.Table:
    io = tx._table.io
    parts = []
    for path in paths:
        with io.new_input(path).open() as stream:
            parts.append(pq.read_table(stream, columns=list(primary_key)))
    if not parts:
        return pa.table({k: pa.array([], pa.null()) for k in primary_key})
    keys = pa.concat_tables(parts).drop_null()
    return keys.group_by(list(primary_key)).aggregate([])


def _key_filter(keys: pa.Table, primary_key: Sequence[str]) -> BooleanExpression:
    from pyiceberg.expressions import And, EqualTo, In, Or

    if len(primary_key) == 1:
        values = keys.column(primary_key[0]).to_pylist()
        return In(primary_key[0], _literals(values))
    clauses: list[Any] = []
    for row in keys.to_pylist():
        terms = [EqualTo(k, _literal(row[k])) for k in primary_key]
        clause = terms[0]
        for term in terms[1:]:
            clause = And(clause, term)
        clauses.append(clause)
    expr = clauses[0]
    for clause in clauses[1:]:
        expr = Or(expr, clause)
    return expr


def _literals(values: list[Any]) -> set[Any]:
    return {_literal(v) for v in values}


def _literal(value: Any) -> Any:
    # pyiceberg literals take dates/timestamps as ISO strings and bind them to the column type
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value

