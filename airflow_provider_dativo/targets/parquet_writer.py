"""Write Arrow batches once, as Parquet data files an Iceberg table can adopt without rewriting.

Extract writes straight into a run-scoped folder under the table location; load later registers
those files with ``Transaction.add_files``. That call infers each file's partition from its column
statistics, so every file written here holds exactly one partition value, and the Parquet is shaped
the way pyiceberg accepts it: microsecond timestamps, no embedded field ids, statistics on.
Which partition a row belongs to is ``targets.partitioning``'s.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, BinaryIO, cast
from urllib.parse import unquote, urlparse

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from airflow_provider_dativo.contracts.partitioning import PartitionField, PartitionFieldLike
from airflow_provider_dativo.errors import DativoError, TargetError
from airflow_provider_dativo.targets.base import StagedFile
from airflow_provider_dativo.targets.partitioning import (
    group_ids,
    hive_value,
    human_value,
    partition_key,
    resolve_partitioning,
)


def parquet_file_schema(schema: pa.Schema) -> pa.Schema:
    """The Arrow schema staged files are written with, derived from the contract's schema.

    Iceberg v1/v2 store timestamps in microseconds and timestamptz in UTC, and ``add_files`` refuses
    files that carry their own field ids, so those are normalized here. Everything else passes
    through unchanged.
    """
    return pa.schema([_file_field(f) for f in schema])


def _file_field(f: pa.Field) -> pa.Field:
    return pa.field(f.name, _file_type(f.type), nullable=f.nullable)


def _file_type(t: pa.DataType) -> pa.DataType:
    if pa.types.is_timestamp(t):
        return pa.timestamp("us", tz="UTC" if t.tz is not None else None)
    if pa.types.is_struct(t):
        return pa.struct([_file_field(t.field(i)) for i in range(t.num_fields)])
    if pa.types.is_large_list(t):
        return pa.large_list(_file_field(t.value_field))
    if pa.types.is_list(t):
        return pa.list_(_file_field(t.value_field))
    if pa.types.is_fixed_size_list(t):
        return pa.list_(_file_field(t.value_field), t.list_size)
    if pa.types.is_map(t):
        return pa.map_(_file_field(t.key_field), _file_field(t.item_field), t.keys_sorted)
    return t


def local_open_output(path: str) -> BinaryIO:
    """Open a local path or ``file://`` URI for writing, creating parent folders."""
    parsed = urlparse(path)
    if parsed.scheme == "file":
        local = unquote(parsed.path)
    elif not parsed.scheme:
        local = path
    else:
        raise TargetError(
            f"cannot open {path!r}: only local paths and file:// URIs are supported here; "
            "pass open_output built on the table's FileIO for object storage"
        )
    os.makedirs(os.path.dirname(local) or ".", exist_ok=True)
    # Exclusive create: a staged file name is never reused, even by a retried extract.
    return open(local, "xb")


@dataclass
class _OpenFile:
    path: str
    partition: dict[str, Any]
    buffer: list[pa.RecordBatch] = field(default_factory=list)
    buffered: int = 0
    rows: int = 0  # rows assigned to this file, flushed or still buffered
    sink: BinaryIO | None = None
    writer: pq.ParquetWriter | None = None


class StagedParquetWriter:
    """Split Arrow batches by partition and write them as rotating Parquet files.

    Memory stays bounded whatever the input size: each open file buffers at most
    ``row_group_rows`` rows before they go out as one row group, all open files together buffer
    at most ``max_buffered_rows`` (the fullest buffer is flushed early past that), and at most
    ``max_open_files`` files are open at once (the least recently written one is finished when
    another is needed).

    Row groups of 512Ki rows by default: with 128Ki, Parquet's dictionary encoding overflows and
    falls back on high-cardinality columns in every group, which is slower and larger.
    """

    def __init__(
        self,
        location: str,
        schema: pa.Schema,
        partition_by: Sequence[PartitionFieldLike] = (),
        open_output: Callable[[str], BinaryIO] | None = None,
        target_file_rows: int = 1_000_000,
        row_group_rows: int = 512 * 1024,
        compression: str = "zstd",
        max_open_files: int = 64,
        max_buffered_rows: int | None = None,
        hive_partitions: bool = False,
        file_prefix: str = "part",
        file_metadata: Mapping[str, str] | None = None,
    ) -> None:
        if target_file_rows < 1 or row_group_rows < 1 or max_open_files < 1:
            raise ValueError("target_file_rows, row_group_rows and max_open_files must be >= 1")
        self._max_buffered = max(max_buffered_rows or 2 * row_group_rows, row_group_rows)
        self._location = location.rstrip("/")
        self._schema = schema
        self._file_schema = parquet_file_schema(schema)
        if file_metadata:
            # key-value metadata in every file footer (governance for readers of plain Parquet)
            self._file_schema = self._file_schema.with_metadata(
                {str(k): str(v) for k, v in file_metadata.items()}
            )
        self._hive = hive_partitions
        self._file_prefix = file_prefix
        self._partitioning = resolve_partitioning(schema, partition_by)
        self._partition_indices = [schema.get_field_index(p.column) for p in self._partitioning]
        self._required = [i for i, f in enumerate(schema) if not f.nullable]
        self._open_output = open_output or local_open_output
        self._target_file_rows = target_file_rows
        self._row_group_rows = row_group_rows
        self._compression = compression
        self._max_open_files = max_open_files
        self._open: OrderedDict[tuple[Any, ...], _OpenFile] = OrderedDict()
        self._finished: list[StagedFile] = []
        self._rows_written = 0
        self._buffered = 0
        self._peak_buffered = 0
        self._file_seq = 0
        self._closed = False
        self._failed = False

    @property
    def rows_written(self) -> int:
        """Rows accepted by ``write`` so far; all of them are in files once ``close`` returns."""
        return self._rows_written

    @property
    def buffered_rows(self) -> int:
        """Rows held in memory across all open files, waiting for their row group to fill."""
        return self._buffered

    @property
    def peak_buffered_rows(self) -> int:
        """The most rows ever held in memory at once; at most max_buffered_rows + one batch."""
        return self._peak_buffered

    @property
    def partitioning(self) -> tuple[PartitionField, ...]:
        return self._partitioning

    def write(self, batch: pa.RecordBatch | pa.Table) -> None:
        self._check_usable()
        if self._closed:
            raise TargetError("this writer is closed; start a new one for more data")
        if isinstance(batch, pa.Table):
            for b in batch.to_batches():
                self.write(b)
            return
        if batch.num_rows == 0:
            return
        # A batch that does not fit is refused before anything is buffered, so the writer
        # stays usable; a failure while writing files is not recoverable.
        batch = self._conform(batch)
        try:
            for key, partition, rows in self._split(batch):
                self._append(key, partition, rows)
        except BaseException:
            self._fail()
            raise
        self._rows_written += batch.num_rows

    def close(self) -> list[StagedFile]:
        """Finish every open file and return all files written; calling it again is harmless."""
        self._check_usable()
        if not self._closed:
            try:
                while self._open:
                    key = next(iter(self._open))
                    self._finish(self._open[key])
                    del self._open[key]
            except BaseException:
                self._fail()
                raise
            self._closed = True
        return list(self._finished)

    def abort(self) -> None:
        """Close streams without finishing files; what was written stays uncommitted and unused."""
        self._closed = True
        self._release()

    def _fail(self) -> None:
        # Files already finished are only part of the data; never hand them out as the result.
        self._failed = True
        self._release()

    def _check_usable(self) -> None:
        if self._failed:
            raise TargetError(
                "this writer failed part-way and its files are incomplete; "
                "start a new writer (the partial files stay uncommitted)"
            )

    def _release(self) -> None:
        while self._open:
            _, open_file = self._open.popitem(last=False)
            for closer in (open_file.writer, open_file.sink):
                if closer is not None:
                    # Already failing: a second error from closing must not hide the first one.
                    with contextlib.suppress(Exception):
                        closer.close()
        self._buffered = 0

    def __enter__(self) -> StagedParquetWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        elif not self._failed:
            self.abort()

    def _conform(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        if batch.schema.names != self._schema.names:
            if sorted(batch.schema.names) != sorted(self._schema.names):
                missing = sorted(set(self._schema.names) - set(batch.schema.names))
                extra = sorted(set(batch.schema.names) - set(self._schema.names))
                raise TargetError(
                    f"batch columns do not match the table schema (missing: {missing}, "
                    f"unexpected: {extra}); conform batches to the contract before staging"
                )
            batch = batch.select(self._schema.names)
        for expected, actual in zip(self._schema, batch.schema, strict=True):
            if not actual.type.equals(expected.type):
                raise TargetError(
                    f"batch column {expected.name!r} has type {actual.type}, "
                    f"expected {expected.type}; conform batches to the contract before staging"
                )
        for i in self._required:
            if batch.column(i).null_count:
                raise TargetError(
                    f"column {self._schema.field(i).name!r} is required but the batch holds "
                    f"{batch.column(i).null_count} null(s)"
                )
        if not batch.schema.equals(self._file_schema, check_metadata=False):
            # Only timestamp unit/zone differ from the declared types here; Iceberg v2 keeps
            # microseconds, so finer precision is truncated the same way pyiceberg's own
            # downcast option does.
            batch = batch.cast(self._file_schema, safe=False)
        return batch

    def _split(
        self, batch: pa.RecordBatch
    ) -> Iterator[tuple[tuple[Any, ...], dict[str, Any], pa.RecordBatch]]:
        if not self._partitioning:
            yield (), {}, batch
            return
        keys = [
            partition_key(batch.column(i), p.transform)
            for i, p in zip(self._partition_indices, self._partitioning, strict=True)
        ]
        group = group_ids(keys)
        bounds = pc.min_max(group)
        if bounds["min"].as_py() == bounds["max"].as_py():
            key, partition = self._describe(keys, 0)
            yield key, partition, batch
            return
        # Taking each group's rows copies them out of the input, so buffers of partitions that
        # fill slowly never pin whole input batches in memory.
        order = pc.sort_indices(group)
        run_ends = pc.run_end_encode(group.take(order)).run_ends.to_pylist()
        start = 0
        for end in run_ends:
            rows = order.slice(start, end - start)
            key, partition = self._describe(keys, rows[0].as_py())
            yield key, partition, batch.take(rows)
            start = end

    def _describe(self, keys: list[pa.Array], row: int) -> tuple[tuple[Any, ...], dict[str, Any]]:
        values = tuple(k[row].as_py() for k in keys)
        partition = {
            p.name: human_value(p.transform, v)
            for p, v in zip(self._partitioning, values, strict=True)
        }
        return values, partition

    def _append(
        self, key: tuple[Any, ...], partition: dict[str, Any], rows: pa.RecordBatch
    ) -> None:
        offset = 0
        while offset < rows.num_rows:
            open_file = self._open.get(key)
            if open_file is None:
                open_file = self._start(key, partition)
            else:
                self._open.move_to_end(key)
            take = min(
                rows.num_rows - offset,
                self._target_file_rows - open_file.rows,
                self._row_group_rows - open_file.buffered,
            )
            open_file.buffer.append(rows.slice(offset, take))
            open_file.buffered += take
            open_file.rows += take
            offset += take
            self._buffered += take
            self._peak_buffered = max(self._peak_buffered, self._buffered)
            if open_file.rows >= self._target_file_rows:
                self._finish(open_file)
                del self._open[key]
            elif open_file.buffered >= self._row_group_rows:
                self._flush(open_file)
        if self._buffered > self._max_buffered:
            # many partitions filling slowly: write out the fullest buffer as a smaller group
            fullest = max(self._open.values(), key=lambda f: f.buffered)
            self._flush(fullest)

    def _start(self, key: tuple[Any, ...], partition: dict[str, Any]) -> _OpenFile:
        if len(self._open) >= self._max_open_files:
            oldest = next(iter(self._open))
            self._finish(self._open[oldest])
            del self._open[oldest]
        folder = self._location
        if self._hive:
            folder += "".join(f"/{name}={hive_value(v)}" for name, v in partition.items())
        path = f"{folder}/{self._file_prefix}-{self._file_seq:05d}-{uuid.uuid4().hex}.parquet"
        self._file_seq += 1
        open_file = _OpenFile(path=path, partition=partition)
        self._open[key] = open_file
        return open_file

    def _flush(self, open_file: _OpenFile) -> None:
        if not open_file.buffer:
            return
        if open_file.writer is None:
            try:
                open_file.sink = self._open_output(open_file.path)
            except DativoError:
                raise
            except Exception as exc:
                raise TargetError(f"cannot create staged file {open_file.path}: {exc}") from exc
            open_file.writer = pq.ParquetWriter(
                cast(Any, open_file.sink),
                self._file_schema,
                compression=self._compression,
                write_statistics=True,
                coerce_timestamps="us",
                allow_truncated_timestamps=True,
            )
        table = pa.Table.from_batches(open_file.buffer, schema=self._file_schema)
        open_file.writer.write_table(table, row_group_size=self._row_group_rows)
        self._buffered -= open_file.buffered
        open_file.buffer = []
        open_file.buffered = 0

    def _finish(self, open_file: _OpenFile) -> None:
        self._flush(open_file)
        if open_file.writer is None or open_file.sink is None:
            return
        open_file.writer.close()
        size = open_file.sink.tell()
        open_file.sink.close()
        self._finished.append(
            StagedFile(
                path=open_file.path,
                rows=open_file.rows,
                bytes=size,
                partition=dict(open_file.partition),
            )
        )
