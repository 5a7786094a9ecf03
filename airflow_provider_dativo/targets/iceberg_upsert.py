"""Upsert by key, planned per data file: find the existing rows a run's keys replace, and
rewrite (copy-on-write) only the data files that hold them.

1. The run's key columns are read from its staged files.
2. Only existing data files whose key-column bounds (the manifests' lower/upper statistics)
   overlap the range of the run's keys are candidates; pyiceberg's file pruning decides that.
3. The key columns of the candidates are semi-joined with the run's keys (one Arrow hash join
   per batch of files), which gives the matching row positions per file.
4. A file with no match is left alone; a file with matches is read whole and written again
   without them into the run's data folder, and the copy replaces it in one overwrite snapshot.

A key with a NULL in any of its columns never matches, as in SQL: a run's row with a NULL key is
appended, and an existing row with a NULL key is kept.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from airflow_provider_dativo.errors import TargetError
from airflow_provider_dativo.targets.iceberg_files import rewritten_data_file

if TYPE_CHECKING:
    from pyiceberg.expressions import BooleanExpression
    from pyiceberg.manifest import DataFile
    from pyiceberg.table import FileScanTask, Transaction

# Existing key rows joined at once: bounds memory (about 20 bytes a row for an integer key)
# while keeping the joins few.
PROBE_ROWS = 8_000_000
_FILE = "_dativo_file"
_ROW = "_dativo_row"


def stage_key_deletes(tx: Transaction, staged_paths: Sequence[str], props: dict[str, str],
                      primary_key: Sequence[str]) -> int:
    """Stage, on ``tx``, the removal of every existing row whose key a staged file carries.

    Returns the number of rows removed. Nothing is staged when no row matches.
    """
    keys = staged_keys(tx, staged_paths, primary_key)
    snapshot = tx.table_metadata.current_snapshot()
    if not keys.num_rows or snapshot is None:
        return 0
    scan = tx._table.scan(snapshot_id=snapshot.snapshot_id,
                          row_filter=_key_range(keys, primary_key))
    tasks = list(scan.plan_files())
    matches = matching_rows(tx, tasks, keys, primary_key)
    if not matches:
        return 0
    folder = _run_folder(staged_paths)
    with ThreadPoolExecutor(max_workers=4) as pool:
        replaced = list(pool.map(lambda i: _rewrite(tx, tasks[i], matches[i], folder), matches))
    with tx.update_snapshot(snapshot_properties=props).overwrite() as change:
        for old, new in replaced:
            change.delete_data_file(old)
            if new is not None:
                change.append_data_file(new)
    return sum(len(rows) for rows in matches.values())


def staged_keys(tx: Transaction, paths: Sequence[str], primary_key: Sequence[str]) -> pa.Table:
    """The key columns of the staged files, rows with a NULL key left out (they never match)."""
    io = tx._table.io

    def read(path: str) -> pa.Table:
        with io.new_input(path).open() as stream:
            return pq.read_table(stream, columns=list(primary_key))

    with ThreadPoolExecutor(max_workers=8) as pool:
        parts = list(pool.map(read, paths))
    if not parts:
        return pa.table({k: pa.array([], pa.null()) for k in primary_key})
    return pa.concat_tables(parts, promote_options="permissive").drop_null()


def matching_rows(tx: Transaction, tasks: Sequence[FileScanTask], keys: pa.Table,
                  primary_key: Sequence[str]) -> dict[int, np.ndarray]:
    """Row positions, per index into ``tasks``, of the rows whose key is among ``keys``.

    Positions count the rows a reader of the table sees in the file (deletes applied), which is
    how ``_rewrite`` reads it again.
    """
    from pyiceberg.expressions import AlwaysTrue
    from pyiceberg.io.pyarrow import ArrowScan

    metadata = tx.table_metadata
    reader = ArrowScan(metadata, tx._table.io, metadata.schema().select(*primary_key),
                       AlwaysTrue())

    def probe(index: int) -> pa.Table:
        table = reader.to_table([tasks[index]])
        return table.append_column(_FILE, pa.array(np.full(table.num_rows, index, np.int32))
                                   ).append_column(_ROW, pa.array(np.arange(table.num_rows)))

    found: dict[int, np.ndarray] = {}
    with ThreadPoolExecutor(max_workers=4) as pool:
        for batch in _batches(tasks, PROBE_ROWS):
            probes = pa.concat_tables(pool.map(probe, batch), promote_options="permissive")
            build = _conform(keys, probes.schema)
            hits = probes.join(build, keys=list(primary_key), join_type="left semi")
            if not hits.num_rows:
                continue
            files = hits.column(_FILE).to_numpy()
            order = np.argsort(files, kind="stable")
            files, rows = files[order], hits.column(_ROW).to_numpy()[order]
            indexes, starts = np.unique(files, return_index=True)
            for index, chunk in zip(indexes, np.split(rows, starts[1:]), strict=True):
                found[int(index)] = chunk
    return found


def _batches(tasks: Sequence[FileScanTask], max_rows: int) -> Iterator[list[int]]:
    batch: list[int] = []
    rows = 0
    for index, task in enumerate(tasks):
        if batch and rows + task.file.record_count > max_rows:
            yield batch
            batch, rows = [], 0
        batch.append(index)
        rows += task.file.record_count
    if batch:
        yield batch


def _conform(keys: pa.Table, schema: pa.Schema) -> pa.Table:
    """The run's keys in the types the table's files are read in, so the join can compare."""
    columns = [keys.column(name) if keys.schema.field(name).type == schema.field(name).type
               else pc.cast(keys.column(name), schema.field(name).type)
               for name in keys.column_names]
    return pa.table(columns, names=keys.column_names)


def _rewrite(tx: Transaction, task: FileScanTask, rows: np.ndarray,
             folder: str) -> tuple[DataFile, DataFile | None]:
    """``task``'s file and its copy without ``rows`` (None when no row is left)."""
    from pyiceberg.expressions import AlwaysTrue
    from pyiceberg.io.pyarrow import ArrowScan

    metadata = tx.table_metadata
    old = task.file
    if old.spec_id != metadata.default_spec_id:
        raise TargetError(
            f"upsert would rewrite {old.file_path}, which was written under an older partition "
            f"spec ({old.spec_id}) of the table; rewrite the table's old files under its current "
            "spec (e.g. Spark's rewrite_data_files), then load again"
        )
    table = ArrowScan(metadata, tx._table.io, metadata.schema(), AlwaysTrue()).to_table([task])
    keep = np.ones(table.num_rows, dtype=bool)
    keep[rows] = False
    kept = table.filter(pa.array(keep))
    if not kept.num_rows:
        return old, None
    path = f"{folder}/rewrite-{uuid.uuid4().hex}.parquet"
    with tx._table.io.new_output(path).create(overwrite=False) as stream:
        pq.write_table(kept, stream, compression="zstd", row_group_size=512 * 1024)
    return old, rewritten_data_file(tx, path, old)


def _run_folder(staged_paths: Sequence[str]) -> str:
    """The run's data folder, where the rewritten files go beside the run's own files, so that
    orphan removal finds those of a commit that never landed."""
    first = staged_paths[0]
    head, marker, tail = first.partition("/_dativo_run=")
    if marker:
        return f"{head}{marker}{tail.split('/', 1)[0]}"
    return first.rsplit("/", 1)[0]


def _key_range(keys: pa.Table, primary_key: Sequence[str]) -> BooleanExpression:
    """Each key column between the run's least and greatest value: the files worth reading."""
    from pyiceberg.expressions import And, GreaterThanOrEqual, LessThanOrEqual, Reference

    terms: list[Any] = []
    for name in primary_key:
        bounds = pc.min_max(keys.column(name))
        low, high = bounds["min"].as_py(), bounds["max"].as_py()
        # by keyword: the predicates' typed constructor is pydantic's, which takes only these
        terms += [GreaterThanOrEqual(term=Reference(name), value=_literal(low)),
                  LessThanOrEqual(term=Reference(name), value=_literal(high))]
    return And(*terms) if len(terms) > 1 else terms[0]


def _literal(value: Any) -> Any:
    # pyiceberg literals take dates/timestamps as ISO strings and bind them to the column type
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
