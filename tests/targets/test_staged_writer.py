"""StagedParquetWriter on the local file system: splitting, rotation, bounded memory, file shape."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from airflow_provider_dativo.errors import TargetError
from airflow_provider_dativo.targets import PartitionSpecField, StagedFile, StagedParquetWriter

UTC = dt.UTC

SCHEMA = pa.schema(
    [
        pa.field("id", pa.int64(), nullable=False),
        pa.field("value", pa.float64()),
    ]
)


def ints(start: int, count: int) -> pa.RecordBatch:
    ids = pa.array(range(start, start + count), pa.int64())
    return pa.record_batch([ids, pc.multiply(ids.cast(pa.float64()), 0.5)], schema=SCHEMA)


def local(path: str) -> str:
    return urlparse(path).path if path.startswith("file://") else path


def read(files: list[StagedFile]) -> pa.Table:
    return pa.concat_tables([pq.read_table(local(f.path)) for f in files])


def test_rotates_files_at_target_rows_and_keeps_every_row(tmp_path: Path) -> None:
    writer = StagedParquetWriter(
        str(tmp_path / "run"), SCHEMA, target_file_rows=1_000, row_group_rows=300
    )
    for start in range(0, 3_500, 700):
        writer.write(ints(start, 700))
    files = writer.close()

    assert [f.rows for f in files] == [1_000, 1_000, 1_000, 500]
    assert writer.rows_written == 3_500
    assert sorted(read(files).column("id").to_pylist()) == list(range(3_500))
    for f in files:
        name = Path(local(f.path)).name
        assert name.startswith("part-") and name.endswith(".parquet")
        assert f.bytes == Path(local(f.path)).stat().st_size
        meta = pq.read_metadata(local(f.path))
        assert meta.num_rows == f.rows
        assert max(meta.row_group(i).num_rows for i in range(meta.num_row_groups)) <= 300
    assert len({f.path for f in files}) == len(files)


def test_memory_stays_bounded_for_millions_of_rows(tmp_path: Path) -> None:
    limit = 10_000
    writer = StagedParquetWriter(
        str(tmp_path / "run"), SCHEMA, target_file_rows=600_000, row_group_rows=limit
    )
    batch_rows = 1_500  # not a divisor of the limit, so batches straddle row groups
    total = 2_000_000
    for start in range(0, total, batch_rows):
        writer.write(ints(start, min(batch_rows, total - start)))
        assert writer.buffered_rows < limit
    files = writer.close()

    assert writer.peak_buffered_rows <= limit
    assert writer.buffered_rows == 0
    assert sum(f.rows for f in files) == total
    assert [f.rows for f in files] == [600_000, 600_000, 600_000, 200_000]
    groups = pq.read_metadata(local(files[0].path))
    assert {groups.row_group(i).num_rows for i in range(groups.num_row_groups)} == {limit}


def test_memory_bound_holds_per_open_file_and_open_files_are_capped(tmp_path: Path) -> None:
    schema = pa.schema([pa.field("id", pa.int64()), pa.field("key", pa.string())])
    writer = StagedParquetWriter(
        str(tmp_path / "run"),
        schema,
        partition_by=[PartitionSpecField("key")],
        row_group_rows=500,
        max_open_files=2,
    )
    for start in range(0, 30_000, 1_000):
        ids = pa.array(range(start, start + 1_000), pa.int64())
        keys = pc.cast(pc.bit_wise_and(ids, 3), pa.string())  # four partitions per batch
        writer.write(pa.record_batch([ids, keys], schema=schema))
    files = writer.close()

    assert writer.peak_buffered_rows <= 2 * 500
    assert sum(f.rows for f in files) == 30_000
    for f in files:
        keys = pq.read_table(local(f.path)).column("key")
        assert pc.unique(keys).to_pylist() == [f.partition["key"]]


def test_all_open_files_together_stay_under_the_buffer_cap(tmp_path: Path) -> None:
    schema = pa.schema([pa.field("id", pa.int64()), pa.field("key", pa.string())])
    writer = StagedParquetWriter(
        str(tmp_path / "run"),
        schema,
        partition_by=[PartitionSpecField("key")],
        row_group_rows=1_000,
        max_buffered_rows=1_500,
    )
    batch_rows = 400
    for start in range(0, 40_000, batch_rows):
        ids = pa.array(range(start, start + batch_rows), pa.int64())
        keys = pc.cast(pc.bit_wise_and(ids, 15), pa.string())  # sixteen slowly filling files
        writer.write(pa.record_batch([ids, keys], schema=schema))
        assert writer.buffered_rows <= 1_500
    files = writer.close()

    assert writer.peak_buffered_rows <= 1_500 + batch_rows
    assert len(files) == 16
    assert sorted(read(files).column("id").to_pylist()) == list(range(40_000))


def test_splits_day_partitions_in_utc_whatever_the_input_zone(tmp_path: Path) -> None:
    schema = pa.schema(
        [pa.field("id", pa.int64()), pa.field("ts", pa.timestamp("ns", tz="America/New_York"))]
    )
    start = dt.datetime(2026, 1, 1, 0, 30, tzinfo=UTC)
    stamps = [start + dt.timedelta(hours=7 * i) for i in range(20)]  # 20 rows over ~6 days
    batch = pa.record_batch(
        [pa.array(range(20), pa.int64()), pa.array(stamps, pa.timestamp("ns", tz="UTC"))],
        schema=schema,
    )
    writer = StagedParquetWriter(str(tmp_path), schema, [PartitionSpecField("ts", "day")])
    writer.write(batch)
    files = writer.close()

    expected_days = sorted({s.date().isoformat() for s in stamps})
    assert sorted(f.partition["ts_day"] for f in files) == expected_days
    for f in files:
        table = pq.read_table(local(f.path))
        assert table.schema.field("ts").type == pa.timestamp("us", tz="UTC")
        days = {v.astimezone(UTC).date().isoformat() for v in table.column("ts").to_pylist()}
        assert days == {f.partition["ts_day"]}
        # add_files refuses Parquet that carries its own field ids
        assert all(not field.metadata for field in table.schema)


@pytest.mark.parametrize(
    ("transform", "expected"),
    [
        ("year", ["1969", "2026"]),
        ("month", ["1969-12", "2026-02", "2026-03"]),
        ("day", ["1969-12-31", "2026-02-28", "2026-03-01"]),
        ("hour", ["1969-12-31-23", "2026-02-28-23", "2026-03-01-00"]),
    ],
)
def test_temporal_partition_values(tmp_path: Path, transform: str, expected: list[str]) -> None:
    schema = pa.schema([pa.field("ts", pa.timestamp("us"))])
    stamps = [
        dt.datetime(1969, 12, 31, 23, 59, 59),
        dt.datetime(2026, 2, 28, 23, 0),
        dt.datetime(2026, 2, 28, 23, 59),
        dt.datetime(2026, 3, 1, 0, 0),
        None,
    ]
    writer = StagedParquetWriter(str(tmp_path), schema, [PartitionSpecField("ts", transform)])
    writer.write(pa.record_batch([pa.array(stamps, pa.timestamp("us"))], schema=schema))
    files = writer.close()

    values = [f.partition[f"ts_{transform}"] for f in files]
    assert sorted(v for v in values if v is not None) == expected
    assert values.count(None) == 1
    assert sum(f.rows for f in files) == len(stamps)


def test_two_partition_fields_and_null_keys(tmp_path: Path) -> None:
    schema = pa.schema(
        [pa.field("region", pa.string()), pa.field("day", pa.date32()), pa.field("n", pa.int32())]
    )
    regions = ["eu", "us", None, "eu", "us", "eu"]
    days = [dt.date(2026, 1, d) for d in (1, 1, 1, 2, 2, 1)]
    batch = pa.record_batch(
        [pa.array(regions), pa.array(days), pa.array(range(6), pa.int32())], schema=schema
    )
    writer = StagedParquetWriter(
        str(tmp_path),
        schema,
        [PartitionSpecField("region"), PartitionSpecField("day", "month")],
    )
    writer.write(batch)
    files = writer.close()

    got = sorted((f.partition["region"] or "", f.partition["day_month"], f.rows) for f in files)
    assert got == [("", "2026-01", 1), ("eu", "2026-01", 3), ("us", "2026-01", 2)]


def test_accepts_partition_fields_from_other_layers(tmp_path: Path) -> None:
    @dataclass(frozen=True)
    class ContractPartition:
        column: str
        transform: str

    schema = pa.schema([pa.field("d", pa.date32())])
    writer = StagedParquetWriter(str(tmp_path), schema, [ContractPartition("d", "days")])
    assert writer.partitioning == (PartitionSpecField("d", "day"),)


def test_file_uri_location_and_context_manager(tmp_path: Path) -> None:
    location = (tmp_path / "nested" / "run").as_uri()
    with StagedParquetWriter(location, SCHEMA) as writer:
        writer.write(ints(0, 10))
    files = writer.close()  # closing again returns the same files
    assert len(files) == 1 and files[0].path.startswith(location + "/part-")
    assert pq.read_table(local(files[0].path)).num_rows == 10
    with pytest.raises(TargetError, match="closed"):
        writer.write(ints(10, 1))


def test_nothing_written_means_no_files(tmp_path: Path) -> None:
    writer = StagedParquetWriter(str(tmp_path / "run"), SCHEMA)
    writer.write(ints(0, 0))
    assert writer.close() == []
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("batch", "message"),
    [
        (pa.record_batch({"id": pa.array([1], pa.int64())}), "missing: \\['value'\\]"),
        (
            pa.record_batch({"id": pa.array([1], pa.int32()), "value": pa.array([1.0])}),
            "'id' has type int32, expected int64",
        ),
        (
            pa.record_batch({"id": pa.array([None], pa.int64()), "value": pa.array([1.0])}),
            "'id' is required",
        ),
    ],
)
def test_refuses_batches_that_do_not_fit(
    tmp_path: Path, batch: pa.RecordBatch, message: str
) -> None:
    writer = StagedParquetWriter(str(tmp_path), SCHEMA)
    with pytest.raises(TargetError, match=message):
        writer.write(batch)
    writer.write(ints(0, 3))  # a refused batch leaves the writer usable
    assert sum(f.rows for f in writer.close()) == 3


def test_reordered_columns_are_accepted(tmp_path: Path) -> None:
    writer = StagedParquetWriter(str(tmp_path), SCHEMA)
    writer.write(ints(0, 4).select(["value", "id"]))
    (staged,) = writer.close()
    assert pq.read_table(local(staged.path)).column_names == ["id", "value"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (PartitionSpecField("missing"), "'missing' is not in the schema"),
        (PartitionSpecField("value", "day"), "needs a date or timestamp"),
    ],
)
def test_refuses_bad_partitioning(tmp_path: Path, spec: PartitionSpecField, message: str) -> None:
    with pytest.raises(TargetError, match=message):
        StagedParquetWriter(str(tmp_path), SCHEMA, [spec])


def test_unknown_transform_is_named() -> None:
    with pytest.raises(TargetError, match="unknown transform 'bucket'"):
        PartitionSpecField("id", "bucket")


def test_a_failed_writer_never_returns_partial_files(tmp_path: Path) -> None:
    opened: list[str] = []

    def flaky_output(path: str) -> BinaryIO:
        if opened:
            raise OSError("disk full")
        opened.append(path)
        return open(local(path), "xb")

    writer = StagedParquetWriter(
        str(tmp_path), SCHEMA, open_output=flaky_output, target_file_rows=10, row_group_rows=10
    )
    with pytest.raises(TargetError, match="disk full"):
        writer.write(ints(0, 25))
    with pytest.raises(TargetError, match="incomplete"):
        writer.close()
