"""Upsert planned per data file, on a real SQLite-catalog Iceberg table: only files holding a
run's keys are rewritten, the rest stay as they are; the table is checked row by row."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
import pytest

from airflow_provider_dativo.targets import IcebergTarget, PartitionSpecField
from tests.targets.conftest import MakeTarget, stage

SCHEMA = pa.schema([
    pa.field("id", pa.int64()),
    pa.field("day", pa.date32()),
    pa.field("value", pa.string()),
])
Row = tuple[Any, str | None, str]


def batch(rows: list[Row], schema: pa.Schema = SCHEMA) -> pa.RecordBatch:
    columns = list(zip(*rows, strict=True)) if rows else [(), (), ()]
    days = [dt.date.fromisoformat(d) if d else None for d in columns[1]]
    return pa.record_batch([pa.array(columns[0], schema.field(0).type),
                            pa.array(days, pa.date32()), pa.array(columns[2], pa.string())],
                           schema=schema)


def load(target: IcebergTarget, run_id: str, rows: list[Row], file_rows: int = 1_000_000,
         schema: pa.Schema = SCHEMA) -> None:
    target.prepare()
    files = stage(target, run_id, [batch(rows, schema)] if rows else [],
                  target_file_rows=file_rows)
    assert target.commit(files, {"run": run_id}, run_id).committed


def content(target: IcebergTarget) -> list[Row]:
    table = target.load_table().scan().to_arrow()
    rows = [(r["id"], r["day"].isoformat() if r["day"] else None, r["value"])
            for r in table.to_pylist()]
    return sorted(rows, key=lambda r: (r[0] is None, r[0] or 0, r[1] or "", r[2]))


def file_paths(target: IcebergTarget) -> set[str]:
    return {t.file.file_path for t in target.load_table().scan().plan_files()}


def upserter(make_target: MakeTarget, primary_key: tuple[str, ...] = ("id",),
             **kwargs: Any) -> IcebergTarget:
    return make_target(SCHEMA, write_mode="upsert", primary_key=primary_key, **kwargs)


def test_keys_spread_over_several_files_rewrite_only_those_files(
        make_target: MakeTarget) -> None:
    target = upserter(make_target)
    base = [(i, "2026-11-01", f"v{i}") for i in range(100)]
    load(target, "r1", base, file_rows=10)  # ten files: ids 0-9, 10-19, ...
    before = file_paths(target)
    assert len(before) == 10
    load(target, "r2", [(5, "2026-11-02", "new5"), (37, "2026-11-02", "new37"),
                        (38, "2026-11-02", "new38"), (150, "2026-11-02", "new150")])
    expected = {i: (i, "2026-11-01", f"v{i}") for i in range(100)}
    expected.update({i: (i, "2026-11-02", f"new{i}") for i in (5, 37, 38, 150)})
    assert content(target) == [expected[i] for i in sorted(expected)]
    after = file_paths(target)
    # files 0-9 and 30-39 were rewritten, the eight others are the same files
    assert len(before & after) == 8
    new = after - before
    assert len(new) == 3  # two rewritten copies and the run's own file
    run_folder = target.data_location("r2")
    assert all(p.startswith(run_folder + "/") for p in new)
    assert target.read_state() == {"run": "r2"}


def test_a_file_whose_every_row_is_replaced_is_dropped_without_a_copy(
        make_target: MakeTarget) -> None:
    target = upserter(make_target)
    load(target, "r1", [(i, "2026-11-01", "old") for i in range(20)], file_rows=10)
    before = file_paths(target)
    load(target, "r2", [(i, "2026-11-02", "new") for i in range(10)])
    assert content(target) == ([(i, "2026-11-02", "new") for i in range(10)]
                               + [(i, "2026-11-01", "old") for i in range(10, 20)])
    after = file_paths(target)
    assert len(before & after) == 1 and len(after) == 2  # the untouched file and the run's


def test_keys_within_the_range_that_match_nothing_leave_every_file_alone(
        make_target: MakeTarget) -> None:
    target = upserter(make_target)
    load(target, "r1", [(i, "2026-11-01", "old") for i in range(0, 40, 2)], file_rows=5)
    before = file_paths(target)
    load(target, "r2", [(i, "2026-11-02", "new") for i in range(1, 40, 2)])
    assert file_paths(target) > before
    assert len(content(target)) == 40
    snapshot = target.load_table().current_snapshot()
    assert snapshot is not None and snapshot.summary is not None
    assert snapshot.summary.operation.value == "append"


def test_upsert_on_a_composite_key_across_files(make_target: MakeTarget) -> None:
    target = upserter(make_target, ("id", "day"))
    base = [(i % 5, f"2026-11-{1 + i // 5:02d}", f"v{i}") for i in range(30)]
    load(target, "r1", base, file_rows=7)
    # same id other day, same day other id, and exact key matches
    load(target, "r2", [(1, "2026-11-01", "hit"), (1, "2026-11-09", "new-day"),
                        (7, "2026-11-02", "new-id"), (4, "2026-11-06", "hit2")])
    expected = {(r[0], r[1]): r for r in base}
    for row in [(1, "2026-11-01", "hit"), (1, "2026-11-09", "new-day"),
                (7, "2026-11-02", "new-id"), (4, "2026-11-06", "hit2")]:
        expected[(row[0], row[1])] = row
    assert content(target) == sorted(expected.values())


def test_a_null_key_never_matches_so_its_row_is_appended(make_target: MakeTarget) -> None:
    target = upserter(make_target)
    load(target, "r1", [(None, "2026-11-01", "null-1"), (1, "2026-11-01", "one")])
    load(target, "r2", [(None, "2026-11-02", "null-2"), (1, "2026-11-02", "one-b")])
    assert content(target) == [(1, "2026-11-02", "one-b"), (None, "2026-11-01", "null-1"),
                               (None, "2026-11-02", "null-2")]
    # in a composite key, one NULL column is enough for the key never to match
    pair = upserter(make_target, ("id", "day"), table="pairs")
    load(pair, "p1", [(1, None, "a"), (1, "2026-11-01", "b")])
    load(pair, "p2", [(1, None, "a2"), (1, "2026-11-01", "b2")])
    assert content(pair) == [(1, None, "a"), (1, None, "a2"), (1, "2026-11-01", "b2")]


def test_an_upsert_of_zero_rows_changes_no_row_and_records_the_state(
        make_target: MakeTarget) -> None:
    target = upserter(make_target)
    load(target, "r1", [(i, "2026-11-01", "old") for i in range(5)])
    before = file_paths(target)
    load(target, "r2", [])
    assert content(target) == [(i, "2026-11-01", "old") for i in range(5)]
    assert file_paths(target) == before
    assert target.read_state() == {"run": "r2"}


def test_the_first_upsert_into_an_empty_table_adds_the_rows(make_target: MakeTarget) -> None:
    target = upserter(make_target)
    load(target, "r1", [(2, "2026-11-01", "b"), (1, "2026-11-01", "a")])
    assert content(target) == [(1, "2026-11-01", "a"), (2, "2026-11-01", "b")]


def test_upsert_into_a_partitioned_table_keeps_each_copy_in_its_partition(
        make_target: MakeTarget) -> None:
    target = upserter(make_target, partitioning=[PartitionSpecField("day", "day")])
    base = [(i, f"2026-11-{1 + i % 3:02d}", f"v{i}") for i in range(30)]
    load(target, "r1", base, file_rows=4)
    # a key may come back in another partition: its old row goes wherever it was
    changes = [(3, "2026-11-01", "moved"), (4, "2026-11-02", "same-day"),
               (29, "2026-11-03", "moved-too"), (40, "2026-11-03", "new")]
    load(target, "r2", changes)
    expected = {r[0]: r for r in base} | {r[0]: r for r in changes}
    assert content(target) == [expected[i] for i in sorted(expected)]
    table = target.load_table()
    epoch = dt.date(1970, 1, 1)
    for task in table.scan().plan_files():
        days = pa.Table.from_batches(
            table.scan(row_filter=f"day == '{(epoch + dt.timedelta(task.file.partition[0]))}'")
            .to_arrow_batch_reader()).column("day").to_pylist()
        assert {(d - epoch).days for d in days} == {task.file.partition[0]}
    assert sorted(r["id"] for r in table.scan(row_filter="day == '2026-11-01'")
                  .to_arrow().to_pylist()) == sorted(
        i for i, d, _ in expected.values() if d == "2026-11-01")


def test_string_and_timestamp_keys(make_target: MakeTarget) -> None:
    schema = pa.schema([pa.field("code", pa.string()),
                        pa.field("at", pa.timestamp("us", tz="UTC")),
                        pa.field("value", pa.string())])
    target = make_target(schema, write_mode="upsert", primary_key=("code", "at"))
    at = [dt.datetime(2026, 11, 1, h, tzinfo=dt.UTC) for h in range(6)]

    def rows(items: list[tuple[str, int, str]]) -> pa.RecordBatch:
        return pa.record_batch([pa.array([c for c, _, _ in items]),
                                pa.array([at[h] for _, h, _ in items], schema.field(1).type),
                                pa.array([v for _, _, v in items])], schema=schema)

    target.prepare()
    base = [(f"k{i}", i % 6, "old") for i in range(12)]
    target.commit(stage(target, "r1", [rows(base)], target_file_rows=3), None, "r1")
    change = [("k1", 1, "new"), ("k2", 3, "other-time"), ("k11", 5, "new")]
    target.commit(stage(target, "r2", [rows(change)]), None, "r2")
    got = sorted((r["code"], r["at"].hour, r["value"])
                 for r in target.load_table().scan().to_arrow().to_pylist())
    expected = {(c, h): v for c, h, v in base} | {(c, h): v for c, h, v in change}
    assert got == sorted((c, h, v) for (c, h), v in expected.items())


def test_an_upsert_retried_after_a_conflict_plans_again_on_the_fresh_table(
        make_target: MakeTarget, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_dativo.targets import iceberg

    target = upserter(make_target)
    load(target, "r1", [(i, "2026-11-01", "old") for i in range(10)], file_rows=5)
    other = upserter(make_target)
    files = stage(target, "r2", [batch([(1, "2026-11-02", "r2"), (7, "2026-11-02", "r2")])])
    real = iceberg.stage_load
    runs: list[str] = []

    def racing_stage_load(*args: Any) -> None:
        real(*args)
        runs.append(args[3]["dativo.run-id"])
        if runs == ["r2"]:  # another writer commits between our planning and our commit
            load(other, "o1", [(7, "2026-11-03", "o1"), (8, "2026-11-03", "o1")])

    monkeypatch.setattr(iceberg, "stage_load", racing_stage_load)
    assert target.commit(files, {"run": "r2"}, "r2").committed
    assert runs == ["r2", "o1", "r2"]
    expected = {i: (i, "2026-11-01", "old") for i in range(10)}
    expected |= {1: (1, "2026-11-02", "r2"), 7: (7, "2026-11-02", "r2"),
                 8: (8, "2026-11-03", "o1")}
    assert content(target) == [expected[i] for i in sorted(expected)]


@pytest.mark.parametrize("rows", [3, 250])
def test_matching_rows_batches_the_join(make_target: MakeTarget, rows: int,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_dativo.targets import iceberg_upsert

    # tiny batches: each file is joined on its own, and the positions must not mix up
    monkeypatch.setattr(iceberg_upsert, "PROBE_ROWS", rows)
    target = upserter(make_target)
    load(target, "r1", [(i, "2026-11-01", f"v{i}") for i in range(100)], file_rows=9)
    hits = [3, 4, 17, 50, 51, 52, 98]
    load(target, "r2", [(i, "2026-11-02", "new") for i in hits])
    expected = {i: (i, "2026-11-01", f"v{i}") for i in range(100)}
    expected |= {i: (i, "2026-11-02", "new") for i in hits}
    assert content(target) == [expected[i] for i in sorted(expected)]
