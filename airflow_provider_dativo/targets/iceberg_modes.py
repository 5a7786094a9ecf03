"""How one load changes an Iceberg table: append, overwrite touched partitions, or upsert by key.

Every mode adopts the staged Parquet files as they are (write once); only what the new files
replace differs. Each function stages its changes on a transaction the caller commits, so the
data change, the run id and the state land in one atomic metadata commit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from airflow_provider_dativo.errors import TargetError
from airflow_provider_dativo.targets.base import StagedFile
from airflow_provider_dativo.targets.iceberg_files import data_files
from airflow_provider_dativo.targets.iceberg_upsert import stage_key_deletes

if TYPE_CHECKING:
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

    The delete rewrites only the existing files holding such keys (copy-on-write, see
    iceberg_upsert); the new files themselves are never rewritten.
    """
    check_write_mode("upsert", primary_key)
    stage_key_deletes(tx, [f.path for f in files], props, primary_key)
    _append(tx, data_files(tx, files), props)
