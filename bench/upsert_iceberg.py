"""Benchmark: upserting keys into an Iceberg table, beside appending the same number of rows.

Builds a table of ``--rows`` rows (ids 0..rows-1, 1M-row files, SQLite catalog on local disk),
then, in one process and on that one table, loads ``--keys`` rows twice through the Iceberg
target: first as an append of new ids (the floor), then as an upsert whose keys are half
existing ids and half new ones. Each load is timed as staging (writing the run's Parquet files)
and commit (everything the write mode does, then the catalog commit). Prints figures; asserts
nothing.

The existing half of the upsert keys are the newest ids of the table by default, as a re-read
with ``lookback_days`` brings them; ``--spread`` draws them uniformly from the whole table
instead, so that every file holds some and is rewritten (copy-on-write's worst case).

    python bench/upsert_iceberg.py --rows 10000000 [--keys 1000000] [--spread]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from airflow_provider_dativo.targets import IcebergSettings, IcebergTarget

SCHEMA = pa.schema([
    pa.field("id", pa.int64(), nullable=False),
    pa.field("customer", pa.string()),
    pa.field("status", pa.string()),
    pa.field("amount", pa.float64()),
    pa.field("quantity", pa.int32()),
    pa.field("updated_at", pa.timestamp("us", tz="UTC")),
])
CHUNK = 1_000_000


def rows_for(ids: np.ndarray, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    n = len(ids)
    stamps = np.datetime64("2026-01-01T00:00:00", "us") + rng.integers(
        0, 86400 * 300 * 10**6, n).astype("timedelta64[us]")
    return pa.table({
        "id": ids.astype(np.int64),
        "customer": pa.array(np.char.add("customer-", (ids % 50_000).astype(str))),
        "status": pa.array(np.array(["placed", "paid", "shipped", "cancelled"])[
            rng.integers(0, 4, n)]),
        "amount": np.round(rng.random(n) * 500, 2),
        "quantity": rng.integers(1, 10, n).astype(np.int32),
        "updated_at": pa.array(stamps, pa.timestamp("us", tz="UTC")),
    }, schema=SCHEMA)


def load(target: IcebergTarget, run_id: str, ids: np.ndarray, seed: int) -> tuple[float, float]:
    """Stage ``ids`` as one run and commit it: seconds for each step."""
    start = time.perf_counter()
    with target.staged_writer(run_id) as writer:
        for offset in range(0, len(ids), CHUNK):
            writer.write(rows_for(ids[offset:offset + CHUNK], seed + offset))
    files = writer.close()
    staged = time.perf_counter()
    target.commit(files, {"run": run_id}, run_id)
    return staged - start, time.perf_counter() - staged


def total_records(target: IcebergTarget) -> int:
    snapshot = target.load_table().current_snapshot()
    return int(snapshot.summary["total-records"]) if snapshot and snapshot.summary else 0


def bench(rows: int, keys: int, spread: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="dativo-bench-") as tmp:
        catalog = {"type": "sql", "uri": f"sqlite:///{Path(tmp) / 'catalog.db'}",
                   "warehouse": (Path(tmp) / "warehouse").as_uri()}
        settings = IcebergSettings("bench", catalog, "bench", "orders")
        appender = IcebergTarget(settings, SCHEMA)
        upserter = IcebergTarget(settings, SCHEMA, write_mode="upsert", primary_key=("id",))
        appender.prepare()
        start = time.perf_counter()
        for i, offset in enumerate(range(0, rows, 5 * CHUNK)):
            load(appender, f"base-{i}", np.arange(offset, min(offset + 5 * CHUNK, rows)), i)
        print(f"{rows:>10,}-row table built in {time.perf_counter() - start:.1f} s "
              f"({len(list(appender.load_table().scan().plan_files()))} data files)")

        new_ids = np.arange(rows, rows + keys)
        append = load(appender, "append", new_ids, 101)
        half = keys // 2
        if spread:
            existing = np.sort(np.random.default_rng(3).choice(rows, half, replace=False))
        else:
            existing = np.arange(rows - half, rows)
        fresh = np.arange(rows + keys, rows + keys + keys - half)
        upsert = load(upserter, "upsert", np.concatenate([existing, fresh]), 202)

        where = "spread over the table" if spread else "the newest ids"
        print(f"{keys:>10,} rows; upsert keys: {half:,} existing ({where}), {keys - half:,} new")
        for label, (stage_s, commit_s) in (("append (floor)", append), ("upsert", upsert)):
            total = stage_s + commit_s
            print(f"  {label:<15}: stage {stage_s:6.2f} s  commit {commit_s:6.2f} s  "
                  f"total {total:6.2f} s  {keys / total:>10,.0f} rows/s")
        print(f"  ratio: {sum(upsert) / sum(append):.2f}x the floor "
              f"(commit alone {upsert[1] / append[1]:.2f}x)")
        expected = rows + keys + keys - half
        print(f"  table rows after: {total_records(appender):,} (expected {expected:,})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, action="append",
                        help="rows in the table before the loads (repeatable; default 10M)")
    parser.add_argument("--keys", type=int, default=1_000_000,
                        help="rows appended, and keys upserted (default 1M)")
    parser.add_argument("--spread", action="store_true",
                        help="draw the existing upsert keys from the whole table")
    args = parser.parse_args()
    for rows in args.rows or [10_000_000]:
        bench(rows, args.keys, args.spread)


if __name__ == "__main__":
    main()
