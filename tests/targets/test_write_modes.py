"""Write modes on a real SQLite-catalog Iceberg table: append, overwrite per partition, upsert."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_provider_dativo.errors import TargetError
from airflow_provider_dativo.targets import PartitionSpecField
from tests.targets.conftest import MakeTarget, stage

SCHEMA = pa.schema([
    pa.field("id", pa.int64(), nullable=False),
    pa.field("day", pa.date32(), nullable=False),
    pa.field("value", pa.string()),
])


def batch(*rows: tuple[int, str, str]) -> pa.RecordBatch:
    return pa.record_batch({
        "id": pa.array([r[0] for r in rows], pa.int64()),
        "day": pa.array([dt.date.fromisoformat(r[1]) for r in rows], pa.date32()),
        "value": pa.array([r[2] for r in rows], pa.string()),
    }, schema=SCHEMA)


def load(target, run_id: str, *rows: tuple[int, str, str]):
    target.prepare()
    return target.commit(stage(target, run_id, [batch(*rows)]), {"run": run_id}, run_id)


def content(target) -> list[tuple[int, str, str]]:
    order = [("id", "ascending"), ("day", "ascending")]
    table = target.load_table().scan().to_arrow().sort_by(order)
    return [(r["id"], r["day"].isoformat(), r["value"]) for r in table.to_pylist()]


def test_overwrite_replaces_only_the_partitions_a_run_touches(make_target: MakeTarget) -> None:
    target = make_target(SCHEMA, [PartitionSpecField("day", "day")], write_mode="overwrite")
    load(target, "r1", (1, "2026-11-01", "a"), (2, "2026-11-02", "b"), (3, "2026-11-02", "c"))
    load(target, "r2", (4, "2026-11-02", "d"), (5, "2026-11-03", "e"))
    assert content(target) == [(1, "2026-11-01", "a"), (4, "2026-11-02", "d"),
                               (5, "2026-11-03", "e")]
    assert target.read_state() == {"run": "r2"}
    # a retried overwrite is a no-op like any other load
    assert not load(target, "r2", (9, "2026-11-01", "zz")).committed
    assert len(content(target)) == 3


def test_overwrite_of_an_unpartitioned_table_replaces_everything(make_target: MakeTarget) -> None:
    target = make_target(SCHEMA, write_mode="overwrite")
    load(target, "r1", (1, "2026-11-01", "a"), (2, "2026-11-02", "b"))
    load(target, "r2", (3, "2026-11-03", "c"))
    assert content(target) == [(3, "2026-11-03", "c")]


def test_upsert_replaces_rows_with_the_same_key(make_target: MakeTarget) -> None:
    target = make_target(SCHEMA, [PartitionSpecField("day", "month")], write_mode="upsert",
                         primary_key=("id",))
    load(target, "r1", (1, "2026-11-01", "a"), (2, "2026-11-02", "b"), (3, "2026-10-02", "c"))
    load(target, "r2", (2, "2026-11-02", "b2"), (4, "2026-11-04", "d"))
    load(target, "r3", (3, "2026-10-02", "c3"))
    assert content(target) == [(1, "2026-11-01", "a"), (2, "2026-11-02", "b2"),
                               (3, "2026-10-02", "c3"), (4, "2026-11-04", "d")]
    assert target.read_state() == {"run": "r3"}


def test_upsert_on_a_composite_key(make_target: MakeTarget) -> None:
    target = make_target(SCHEMA, write_mode="upsert", primary_key=("id", "day"))
    load(target, "r1", (1, "2026-11-01", "a"), (1, "2026-11-02", "b"))
    load(target, "r2", (1, "2026-11-02", "b2"), (2, "2026-11-01", "c"))
    assert content(target) == [(1, "2026-11-01", "a"), (1, "2026-11-02", "b2"),
                               (2, "2026-11-01", "c")]


def test_upsert_needs_a_primary_key(make_target: MakeTarget) -> None:
    with pytest.raises(TargetError, match="primary key"):
        make_target(SCHEMA, write_mode="upsert")
    with pytest.raises(TargetError, match="unknown write mode 'merge'"):
        make_target(SCHEMA, write_mode="merge")


def test_bucket_partitions_match_icebergs_hash_and_overwrite_by_bucket(
        make_target: MakeTarget) -> None:
    from pyiceberg.transforms import BucketTransform
    from pyiceberg.types import LongType

    target = make_target(SCHEMA, [PartitionSpecField("id", "bucket[4]")], write_mode="overwrite")
    load(target, "r1", *[(i, "2026-11-01", f"v{i}") for i in range(1, 21)])
    table = target.load_table()
    assert str(table.spec().fields[0].transform) == "bucket[4]"
    bucket_of = BucketTransform(4).transform(LongType())
    for task in table.scan().plan_files():
        ids = pq.read_table(task.file.file_path.removeprefix("file://"),
                            columns=["id"]).column("id").to_pylist()
        assert {bucket_of(i) for i in ids} == {task.file.partition[0]}
    # a run with ids of one bucket replaces that bucket only
    one_bucket = [i for i in range(1, 21) if bucket_of(i) == bucket_of(1)]
    load(target, "r2", (1, "2026-11-02", "new"))
    kept = [r for r in content(target) if r[0] != 1]
    assert (1, "2026-11-02", "new") in content(target)
    assert sorted(r[0] for r in kept) == sorted(set(range(2, 21)) - set(one_bucket))
    # the table prunes by bucket like any Iceberg reader would
    assert len(list(table.refresh().scan(row_filter="id == 1").plan_files())) == 1


def test_a_contract_can_bucket_its_table(config_root) -> None:  # type: ignore[no-untyped-def]
    from airflow_provider_dativo import runner
    from airflow_provider_dativo.config.loader import ConfigRoot

    asset = config_root / "assets/file/v1.0/orders.yaml"
    asset.write_text(asset.read_text().replace(
        "partitioning: [ingest_date]",
        "partitioning: [ingest_date, {column: order_id, transform: bucket, buckets: 3}]"))
    job = ConfigRoot(config_root).load_job(config_root / "jobs/acme/orders.yaml")
    manifest, result = runner.run_job(job, "b-1")
    assert result.rows == 8
    assert {tuple(f["partition"]) for f in manifest["files"]} == {("ingest_date",
                                                                    "order_id_bucket")}
    table = runner.open_job_target(job).load_table()
    assert [str(f.transform) for f in table.spec().fields] == ["identity", "bucket[3]"]
    assert table.scan().to_arrow().num_rows == 8


def test_a_bucket_on_a_float_column_is_refused(config_root) -> None:  # type: ignore[no-untyped-def]
    from airflow_provider_dativo.config.loader import ConfigRoot
    from airflow_provider_dativo.errors import ConfigError

    asset = config_root / "assets/file/v1.0/orders.yaml"
    asset.write_text(asset.read_text().replace(
        "partitioning: [ingest_date]", "partitioning: [{column: amount, transform: bucket, "
        "buckets: 3}]"
    ).replace("    type: decimal\n    precision: 12\n    scale: 2\n", "    type: double\n"))
    with pytest.raises(ConfigError, match=r"bucket\[3\] partitioning needs an integer"):
        ConfigRoot(config_root).load_job(config_root / "jobs/acme/orders.yaml")
