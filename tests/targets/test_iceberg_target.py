"""IcebergTarget against a real pyiceberg SQL catalog (SQLite) and a local warehouse."""

from __future__ import annotations

import datetime as dt
import decimal
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyiceberg.table import Table

from airflow_provider_dativo.errors import TargetError
from airflow_provider_dativo.targets import IcebergTarget, PartitionSpecField, safe_run_id
from airflow_provider_dativo.targets.base import Target

from .conftest import MakeTarget, stage

UTC = dt.UTC

SCHEMA = pa.schema(
    [
        pa.field("id", pa.int64(), nullable=False),
        pa.field("name", pa.string()),
        pa.field("amount", pa.decimal128(12, 2)),
        pa.field("event_date", pa.date32()),
        pa.field("event_ts", pa.timestamp("us", tz="UTC")),
        pa.field("active", pa.bool_()),
    ]
)


def rows(start: int, count: int, days: int = 1) -> pa.RecordBatch:
    """``count`` rows whose timestamps spread evenly over ``days`` days of January 2026."""
    base = dt.datetime(2026, 1, 1, tzinfo=UTC)
    step = dt.timedelta(days=days) / count
    ids = list(range(start, start + count))
    stamps = [base + step * i for i in range(count)]
    return pa.record_batch(
        [
            pa.array(ids, pa.int64()),
            pa.array([None if i % 7 == 0 else f"name-{i}" for i in ids]),
            pa.array([decimal.Decimal(i) / 4 for i in ids], pa.decimal128(12, 2)),
            pa.array([s.date() for s in stamps], pa.date32()),
            pa.array(stamps, pa.timestamp("us", tz="UTC")),
            pa.array([i % 2 == 0 for i in ids]),
        ],
        schema=SCHEMA,
    )


def table_rows(table: Table) -> list[dict[str, Any]]:
    data = table.scan().to_arrow().select(SCHEMA.names).cast(SCHEMA)
    return data.sort_by("id").to_pylist()


def expected_rows(*batches: pa.RecordBatch) -> list[dict[str, Any]]:
    return pa.Table.from_batches(batches, schema=SCHEMA).sort_by("id").to_pylist()


def file_partitions(table: Table) -> dict[str, dict[str, Any]]:
    files = table.inspect.files().select(["file_path", "partition"]).to_pylist()
    return {f["file_path"]: f["partition"] for f in files}


def test_satisfies_the_target_protocol(make_target: MakeTarget) -> None:
    target: Target = make_target(SCHEMA)
    assert isinstance(target, IcebergTarget)


def test_construction_does_not_touch_the_catalog(make_target: MakeTarget, tmp_path: Path) -> None:
    make_target(SCHEMA, [PartitionSpecField("event_date")], {"dativo.owner": "x"})
    assert not (tmp_path / "catalog.db").exists()


def test_write_commit_and_read_back_exactly(make_target: MakeTarget) -> None:
    target = make_target(SCHEMA)
    target.prepare()
    batches = [rows(0, 1_000), rows(1_000, 500)]
    files = stage(target, "run-1", batches)

    result = target.commit(files, {"cursor": 1_499}, "run-1")

    assert result.committed and result.rows == 1_500
    assert result.table == "tenant_a.events"
    table = target.load_table()
    assert table.current_snapshot() is not None
    assert result.snapshot_id == table.current_snapshot().snapshot_id  # type: ignore[union-attr]
    assert table_rows(table) == expected_rows(*batches)
    # registered in place: the table references the staged files, nothing was rewritten
    assert set(file_partitions(table)) == {f.path for f in files}
    summary = table.current_snapshot().summary  # type: ignore[union-attr]
    assert summary is not None
    assert summary["dativo.run-id"] == "run-1"
    assert summary["dativo.rows"] == "1500"
    assert summary["dativo.state"] == '{"cursor":1499}'


def test_identity_date_partitions(make_target: MakeTarget) -> None:
    target = make_target(SCHEMA, [PartitionSpecField("event_date")])
    target.prepare()
    batches = [rows(0, 900, days=3), rows(900, 600, days=3)]
    files = stage(target, "run-1", batches)
    target.commit(files, None, "run-1")

    table = target.load_table()
    assert [(f.name, str(f.transform)) for f in table.spec().fields] == [("event_date", "identity")]
    partitions = file_partitions(table)
    assert {p["event_date"] for p in partitions.values()} == {
        dt.date(2026, 1, d) for d in (1, 2, 3)
    }
    for f in files:
        dates = set(pq.read_table(urlparse(f.path).path).column("event_date").to_pylist())
        assert dates == {partitions[f.path]["event_date"]}
        assert f.partition == {"event_date": partitions[f.path]["event_date"].isoformat()}
    assert table_rows(table) == expected_rows(*batches)
    # partition pruning works on the inferred values
    assert table.scan(row_filter="event_date = '2026-01-02'").to_arrow().num_rows == 500


def test_day_of_timestamp_partitions_over_several_days(make_target: MakeTarget) -> None:
    target = make_target(SCHEMA, [PartitionSpecField("event_ts", "day")])
    target.prepare()
    batches = [rows(i * 1_000, 1_000, days=5) for i in range(3)]
    files = stage(target, "run-1", batches, target_file_rows=150)
    target.commit(files, None, "run-1")

    table = target.load_table()
    partitions = file_partitions(table)
    assert len(partitions) == len(files) > 5  # several files per day after rotation
    for f in files:
        stamps = pq.read_table(urlparse(f.path).path).column("event_ts").to_pylist()
        days = {s.astimezone(UTC).date() for s in stamps}
        assert days == {partitions[f.path]["event_ts_day"]}
        assert f.rows <= 150
    assert {p["event_ts_day"] for p in partitions.values()} == {
        dt.date(2026, 1, d) for d in range(1, 6)
    }
    assert table_rows(table) == expected_rows(*batches)


def test_file_rotation_lands_every_file(make_target: MakeTarget) -> None:
    target = make_target(SCHEMA)
    target.prepare()
    files = stage(target, "run-1", [rows(0, 2_500)], target_file_rows=1_000, row_group_rows=256)
    assert [f.rows for f in files] == [1_000, 1_000, 500]
    target.commit(files, None, "run-1")
    table = target.load_table()
    assert sorted(table.inspect.files().column("record_count").to_pylist()) == [500, 1_000, 1_000]


def test_repeated_run_id_is_a_no_op(make_target: MakeTarget) -> None:
    target = make_target(SCHEMA)
    target.prepare()
    files = stage(target, "run-1", [rows(0, 100)])
    first = target.commit(files, {"cursor": 99}, "run-1")

    again = make_target(SCHEMA).commit(files, {"cursor": 99}, "run-1")

    assert again.committed is False
    assert again.snapshot_id == first.snapshot_id and again.rows == 100
    table = target.load_table()
    assert table.scan().to_arrow().num_rows == 100
    assert len(table.snapshots()) == 1
    assert target.is_committed("run-1") and not target.is_committed("run-2")


def test_state_round_trip_across_runs(make_target: MakeTarget) -> None:
    target = make_target(SCHEMA)
    target.prepare()
    assert target.read_state() is None

    target.commit(stage(target, "run-1", [rows(0, 10)]), {"cursor": "2026-01-01", "n": 1}, "run-1")
    fresh = make_target(SCHEMA)  # another worker, another catalog handle
    assert fresh.read_state() == {"cursor": "2026-01-01", "n": 1}

    fresh.commit(stage(fresh, "run-2", [rows(10, 10)]), {"cursor": "2026-01-02", "n": 2}, "run-2")
    assert target.read_state() == {"cursor": "2026-01-02", "n": 2}
    # a run without state keeps the last one
    target.commit(stage(target, "run-3", [rows(20, 10)]), None, "run-3")
    assert target.read_state() == {"cursor": "2026-01-02", "n": 2}
    assert target.load_table().scan().to_arrow().num_rows == 30


def test_empty_commit_still_advances_state(make_target: MakeTarget) -> None:
    target = make_target(SCHEMA)
    target.prepare()
    target.commit(stage(target, "run-1", [rows(0, 10)]), {"cursor": 9}, "run-1")

    result = target.commit([], {"cursor": 9, "checked_at": "2026-01-02"}, "run-2")

    assert result.committed and result.rows == 0
    assert target.read_state() == {"checked_at": "2026-01-02", "cursor": 9}
    assert target.is_committed("run-2")
    assert target.commit([], {"cursor": 10}, "run-2").committed is False
    table = target.load_table()
    assert table.scan().to_arrow().num_rows == 10
    assert len(table.snapshots()) == 2


def test_empty_commit_on_a_new_table(make_target: MakeTarget) -> None:
    target = make_target(SCHEMA)
    target.prepare()
    assert target.commit([], {"cursor": 0}, "run-1").committed
    assert target.read_state() == {"cursor": 0}
    assert target.load_table().scan().to_arrow().num_rows == 0


class InterleavedTarget(IcebergTarget):
    """Runs ``interleave`` once, right after the next table load: a writer sneaking in."""

    interleave: Callable[[], None] | None = None
    loads = 0

    def load_table(self) -> Table:
        table = super().load_table()
        self.loads += 1
        hook, self.interleave = self.interleave, None
        if hook is not None:
            hook()
        return table


def test_conflicting_commit_is_retried_and_both_land(make_target: MakeTarget) -> None:
    ours = make_target(SCHEMA, cls=InterleavedTarget)
    assert isinstance(ours, InterleavedTarget)
    ours.prepare()
    other = make_target(SCHEMA)
    our_files = stage(ours, "run-ours", [rows(0, 100)])
    other_files = stage(other, "run-other", [rows(100, 50)])

    ours.interleave = lambda: other.commit(other_files, {"cursor": 149}, "run-other")
    ours.loads = 0
    result = ours.commit(our_files, {"cursor": 99}, "run-ours")

    assert result.committed
    assert ours.loads == 2  # the stale attempt failed and a fresh one landed
    table = ours.load_table()
    assert table.scan().to_arrow().num_rows == 150
    assert ours.is_committed("run-other") and ours.is_committed("run-ours")
    assert ours.read_state() == {"cursor": 99}
    assert len(table.snapshots()) == 2
    # retries are ours alone, but switching pyiceberg's off must not leak into the table
    assert "commit.retry.num-retries" not in table.properties


def test_a_racing_duplicate_of_the_same_run_lands_once(make_target: MakeTarget) -> None:
    ours = make_target(SCHEMA, cls=InterleavedTarget)
    assert isinstance(ours, InterleavedTarget)
    ours.prepare()
    files = stage(ours, "run-1", [rows(0, 100)])
    zombie = make_target(SCHEMA)

    ours.interleave = lambda: zombie.commit(files, {"cursor": 99}, "run-1")
    result = ours.commit(files, {"cursor": 99}, "run-1")

    assert result.committed is False
    table = ours.load_table()
    assert table.scan().to_arrow().num_rows == 100
    assert len(table.snapshots()) == 1


def test_schema_evolution_adds_an_optional_column(make_target: MakeTarget) -> None:
    make_target(SCHEMA).prepare()
    wider = SCHEMA.append(pa.field("channel", pa.string()))
    target = make_target(wider)
    target.prepare()

    table = target.load_table()
    assert table.schema().find_field("channel").optional
    batch = rows(0, 5)
    extended = pa.record_batch(
        [*batch.columns, pa.array(["web"] * 5)],
        schema=wider,
    )
    target.commit(stage(target, "run-1", [extended]), None, "run-1")
    back = target.load_table().scan().to_arrow()
    assert back.column("channel").to_pylist() == ["web"] * 5
    # the old schema still loads into the evolved table; the new column reads as null
    old = make_target(SCHEMA)
    old.prepare()
    old.commit(stage(old, "run-2", [rows(5, 5)]), None, "run-2")
    assert old.load_table().scan().to_arrow().column("channel").null_count == 5


def test_widening_and_relaxing_are_compatible(make_target: MakeTarget) -> None:
    narrow = pa.schema([pa.field("id", pa.int32(), nullable=False), pa.field("v", pa.float32())])
    make_target(narrow).prepare()
    wide = pa.schema([pa.field("id", pa.int64()), pa.field("v", pa.float64())])
    target = make_target(wide)
    target.prepare()
    schema = target.load_table().schema()
    assert str(schema.find_field("id").field_type) == "long"
    assert schema.find_field("id").optional
    assert str(schema.find_field("v").field_type) == "double"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda s: s.set(1, pa.field("name", pa.int64())),
            "column 'name' changed type from string to long",
        ),
        (
            lambda s: s.set(1, pa.field("name", pa.string(), nullable=False)),
            "column 'name' is optional in the table but required now",
        ),
        (lambda s: s.remove(0), "required column 'id' is missing"),
        (
            lambda s: s.append(pa.field("extra", pa.int64(), nullable=False)),
            "new column 'extra' is required",
        ),
    ],
)
def test_incompatible_schema_changes_are_refused(
    make_target: MakeTarget, change: Callable[[pa.Schema], pa.Schema], message: str
) -> None:
    make_target(SCHEMA).prepare()
    with pytest.raises(TargetError, match=message) as refused:
        make_target(change(SCHEMA)).prepare()
    assert "tenant_a.events" in str(refused.value)
    assert make_target(SCHEMA).load_table().schema().find_field("name") is not None


def test_partitioning_mismatch_is_refused(make_target: MakeTarget) -> None:
    make_target(SCHEMA, [PartitionSpecField("event_ts", "day")]).prepare()
    with pytest.raises(TargetError, match=r"partitioned by day\(event_ts\).*asks for month"):
        make_target(SCHEMA, [PartitionSpecField("event_ts", "month")]).prepare()


def test_governance_properties_are_applied_and_updated(make_target: MakeTarget) -> None:
    target = make_target(
        SCHEMA, table_properties={"dativo.owner": "data-team", "dativo.classification": "pii"}
    )
    target.prepare()
    props = target.load_table().properties
    assert props["dativo.owner"] == "data-team"
    assert props["dativo.classification"] == "pii"
    assert "schema.name-mapping.default" in props

    make_target(SCHEMA, table_properties={"dativo.owner": "platform"}).prepare()
    props = target.load_table().properties
    assert props["dativo.owner"] == "platform"
    assert props["dativo.classification"] == "pii"  # properties not named are left alone


def test_prepare_is_repeatable_and_tolerates_a_concurrent_create(make_target: MakeTarget) -> None:
    first = make_target(SCHEMA, [PartitionSpecField("event_date")])
    second = make_target(SCHEMA, [PartitionSpecField("event_date")])
    first.prepare()
    # the second worker lost the race to create the table
    assert second._create_table(second.catalog()) is None
    second.prepare()
    first.prepare()
    table = first.load_table()
    assert len(table.metadata.schemas) == 1
    assert len(table.metadata.partition_specs) == 1


def test_data_location_is_run_scoped_and_collision_free(make_target: MakeTarget) -> None:
    target = make_target(SCHEMA)
    target.prepare()
    run_id = "manual__2026-11-26T10:00:00.123456+00:00"
    location = target.data_location(run_id)
    table_location = target.load_table().location().rstrip("/")
    folder = location.removeprefix(f"{table_location}/data/")
    assert folder == f"_dativo_run={safe_run_id(run_id)}"
    assert folder.startswith("_dativo_run=manual__2026-11-26T10_00_00.123456_00_00-")
    assert safe_run_id("a:b") != safe_run_id("a/b")
    assert location != target.data_location(run_id.replace(":", "_"))


def test_missing_table_explains_what_to_do(make_target: MakeTarget) -> None:
    with pytest.raises(TargetError,
                       match=r"tenant_a\.events does not exist: a run.s extract creates it"):
        make_target(SCHEMA).commit([], None, "run-1")


def test_missing_staged_file_is_reported(make_target: MakeTarget) -> None:
    target = make_target(SCHEMA)
    target.prepare()
    files = stage(target, "run-1", [rows(0, 10)])
    os.remove(urlparse(files[0].path).path)
    with pytest.raises(TargetError, match="nothing was committed"):
        target.commit(files, {"cursor": 9}, "run-1")
    assert not target.is_committed("run-1")


def test_state_survives_snapshot_expiry(make_target: MakeTarget) -> None:
    target = make_target(SCHEMA)
    target.prepare()
    target.commit(stage(target, "run-1", [rows(0, 10)]), {"cursor": 9}, "run-1")
    table = target.load_table()
    dativo_snapshot = table.current_snapshot()
    assert dativo_snapshot is not None
    # someone else appends (compaction, a backfill) and expires the older history
    table.append(pa.Table.from_batches([rows(10, 5)]).cast(table.schema().as_arrow()))
    target.load_table().maintenance.expire_snapshots().by_id(dativo_snapshot.snapshot_id).commit()

    assert target.read_state() == {"cursor": 9}
    assert target.is_committed("run-1")
    assert target.commit([], {"cursor": 9}, "run-1").committed is False


def test_jobs_sharing_a_table_keep_their_own_state_and_run_ids(make_target: MakeTarget) -> None:
    a = make_target(SCHEMA, writer="dativo__acme__a")
    b = make_target(SCHEMA, writer="dativo__acme__b")
    a.prepare()
    # Airflow gives both DAGs the same run id for the same schedule: neither may skip the other
    run_id = "scheduled__2026-01-01T00:00:00+00:00"
    assert a.commit(stage(a, run_id, [rows(0, 10)]), {"cursor": "a"}, run_id, base=None).committed
    assert b.read_state() is None and not b.is_committed(run_id)
    assert b.commit(stage(b, run_id, [rows(10, 10)]), {"cursor": "b"}, run_id, base=None).committed
    assert a.read_state() == {"cursor": "a"} and b.read_state() == {"cursor": "b"}
    assert a.committed_head().run_id == run_id == b.committed_head().run_id
    assert table_rows(a.load_table()) == expected_rows(rows(0, 10), rows(10, 10))
    # a's next load builds on a's commit, whatever b committed since
    a.commit(stage(a, "next", [rows(20, 5)]), {"cursor": "a2"}, "next", base=run_id)
    assert b.read_state() == {"cursor": "b"} and a.read_state() == {"cursor": "a2"}


def test_a_load_whose_base_is_no_longer_the_newest_commit_is_refused(
        make_target: MakeTarget) -> None:
    target = make_target(SCHEMA, writer="dativo__acme__orders")
    target.prepare()
    target.commit(stage(target, "run-1", [rows(0, 10)]), {"cursor": 9}, "run-1", base=None)
    # two runs read state from run-1; run-2 lands first
    target.commit(stage(target, "run-2", [rows(10, 10)]), {"cursor": 19}, "run-2", base="run-1")
    late = stage(target, "run-3", [rows(10, 10)])  # the same source rows as run-2
    with pytest.raises(TargetError, match=(
            r"another run of job dativo__acme__orders committed run 'run-2' to "
            r"tenant_a\.events after run 'run-1'.*nothing of run 'run-3' was committed")):
        target.commit(late, {"cursor": 19}, "run-3", base="run-1")
    with pytest.raises(TargetError, match="after this run's extract found no earlier commit"):
        target.commit(late, {"cursor": 19}, "run-3", base=None)
    assert not target.is_committed("run-3")
    assert target.read_state() == {"cursor": 19}
    assert table_rows(target.load_table()) == expected_rows(rows(0, 10), rows(10, 10))
    # a manifest from before bases were recorded is committed unchecked, as it used to be
    assert target.commit([], {"cursor": 19}, "run-4").committed


def test_a_retry_after_a_conflict_refuses_when_the_same_job_committed_meanwhile(
        make_target: MakeTarget) -> None:
    ours = make_target(SCHEMA, cls=InterleavedTarget, writer="job")
    assert isinstance(ours, InterleavedTarget)
    ours.prepare()
    twin = make_target(SCHEMA, writer="job")  # another run of the same job, same base
    twin_files = stage(twin, "run-twin", [rows(0, 100)])
    ours.interleave = lambda: twin.commit(twin_files, {"cursor": 99}, "run-twin", base=None)
    with pytest.raises(TargetError, match="committed run 'run-twin'"):
        ours.commit(stage(ours, "run-ours", [rows(0, 100)]), {"cursor": 99}, "run-ours",
                    base=None)
    assert table_rows(ours.load_table()) == expected_rows(rows(0, 100))
    assert ours.read_state() == {"cursor": 99} and not ours.is_committed("run-ours")


def test_a_retry_after_a_conflict_with_another_job_lands_with_its_own_state(
        make_target: MakeTarget) -> None:
    ours = make_target(SCHEMA, cls=InterleavedTarget, writer="job-a")
    assert isinstance(ours, InterleavedTarget)
    ours.prepare()
    other = make_target(SCHEMA, writer="job-b")
    other_files = stage(other, "run-b", [rows(100, 50)])
    ours.interleave = lambda: other.commit(other_files, {"cursor": "b"}, "run-b", base=None)
    ours.loads = 0
    assert ours.commit(stage(ours, "run-a", [rows(0, 100)]), {"cursor": "a"}, "run-a",
                       base=None).committed
    assert ours.loads == 2
    assert ours.read_state() == {"cursor": "a"} and other.read_state() == {"cursor": "b"}
    assert table_rows(ours.load_table()) == expected_rows(rows(0, 100), rows(100, 50))


def test_state_of_commits_without_a_writer_is_read_back(make_target: MakeTarget) -> None:
    legacy = make_target(SCHEMA)  # writes commits that name no writer, like earlier versions
    legacy.prepare()
    legacy.commit(stage(legacy, "old", [rows(0, 10)]), {"cursor": 9}, "old")
    job = make_target(SCHEMA, writer="dativo__acme__orders")
    assert job.committed_head().run_id == "old" and job.read_state() == {"cursor": 9}
    assert job.is_committed("old")
    job.commit(stage(job, "new", [rows(10, 10)]), {"cursor": 19}, "new", base="old")
    assert job.read_state() == {"cursor": 19}
    assert make_target(SCHEMA, writer="dativo__acme__other").read_state() == {"cursor": 9}


def test_state_of_an_earlier_version_survives_snapshot_expiry(make_target: MakeTarget) -> None:
    legacy = make_target(SCHEMA)
    legacy.prepare()
    legacy.commit(stage(legacy, "old", [rows(0, 10)]), {"cursor": 9}, "old")
    table = legacy.load_table()
    old_snapshot = table.current_snapshot()
    assert old_snapshot is not None
    # what earlier versions kept in the table's properties instead of the per-writer record
    with table.transaction() as tx:
        tx.remove_properties("dativo.commits")
        tx.set_properties({"dativo.last-run-id": "old", "dativo.last-state": '{"cursor":9}'})
    table = legacy.load_table()
    table.append(pa.Table.from_batches([rows(10, 5)]).cast(table.schema().as_arrow()))
    legacy.load_table().maintenance.expire_snapshots().by_id(old_snapshot.snapshot_id).commit()
    job = make_target(SCHEMA, writer="dativo__acme__orders")
    assert job.read_state() == {"cursor": 9} and job.is_committed("old")
    assert job.committed_head().run_id == "old"


def test_the_run_id_record_is_bounded(make_target: MakeTarget,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from airflow_provider_dativo.targets import iceberg

    monkeypatch.setattr(iceberg, "RUN_ID_RECORD", 3)
    target = make_target(SCHEMA, writer="job")
    target.prepare()
    for i in range(5):
        target.commit([], {"cursor": i}, f"run-{i}")
    record = json.loads(target.load_table().properties["dativo.commits.job"])
    assert record == {"run_ids": ["run-2", "run-3", "run-4"], "state": {"cursor": 4}}


def test_a_late_retry_after_expire_snapshots_is_a_no_op(
        make_target: MakeTarget, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_dativo.targets import iceberg

    target = make_target(SCHEMA, writer="job")
    target.prepare()
    first = stage(target, "run-1", [rows(0, 10)])
    target.commit(first, {"cursor": 9}, "run-1", base=None)
    target.commit(stage(target, "run-2", [rows(10, 10)]), {"cursor": 19}, "run-2", base="run-1")
    table = target.load_table()
    expired = [s.snapshot_id for s in table.snapshots()
               if s.summary is not None and s.summary["dativo.run-id"] == "run-1"]
    table.maintenance.expire_snapshots().by_ids(expired).commit()
    assert all(s.summary["dativo.run-id"] != "run-1" for s in target.load_table().snapshots()
               if s.summary is not None)

    # an Airflow "clear" of run-1's load, with the manifest it staged back then
    assert target.is_committed("run-1")
    assert target.commit(first, {"cursor": 9}, "run-1", base=None).committed is False
    assert target.read_state() == {"cursor": 19}
    assert table_rows(target.load_table()) == expected_rows(rows(0, 10), rows(10, 10))
    # once run-1 has left the record too, its stale base still refuses it
    monkeypatch.setattr(iceberg, "RUN_ID_RECORD", 1)
    target.commit([], {"cursor": 19}, "run-3", base="run-2")
    assert not target.is_committed("run-1")
    with pytest.raises(TargetError, match="committed run 'run-3'"):
        target.commit(first, {"cursor": 9}, "run-1", base=None)
    assert target.read_state() == {"cursor": 19}
    assert table_rows(target.load_table()) == expected_rows(rows(0, 10), rows(10, 10))
