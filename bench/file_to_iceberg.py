"""Benchmark: a CSV file source → Iceberg through `dativo run`, beside the floor.

The floor is pyarrow alone reading the same CSV and writing it as one Parquet file. Each side
runs in its own process so that peak memory (max RSS) is measured separately. Prints figures;
asserts nothing.

    python bench/file_to_iceberg.py --rows 1000000 --rows 5000000 [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

ASSET = """\
apiVersion: v3.0.2
kind: DataContract
name: bench_orders
version: "1.0"
source_type: file
object: orders
schema:
  - {name: order_id, type: long, required: true}
  - {name: customer, type: string, required: true}
  - {name: status, type: string, enum: [placed, paid, shipped, cancelled]}
  - {name: amount, type: double, minimum: 0}
  - {name: quantity, type: integer}
  - {name: ordered_at, type: timestamptz, required: true}
target:
  partitioning: [ingest_date]
"""

JOB = """\
tenant_id: bench
source_connector: file
source_connector_path: connectors/file.yaml
asset: bench_orders
asset_path: assets/bench/v1.0/orders.yaml
target_connector: iceberg
target_connector_path: connectors/iceberg.yaml
source:
  connection:
    path: data/orders.csv
"""

FLOOR = """\
import sys, pyarrow.csv as c, pyarrow.parquet as pq
reader = c.open_csv(sys.argv[1])
with pq.ParquetWriter(sys.argv[2], reader.schema, compression="zstd") as w:
    for batch in reader:
        w.write_batch(batch)
"""


def make_root(rows: int, folder: Path) -> Path:
    root = folder / "config"
    for rel in ("connectors", "registry"):
        shutil.copytree(REPO / rel, root / rel)
    (root / "assets/bench/v1.0").mkdir(parents=True)
    (root / "assets/bench/v1.0/orders.yaml").write_text(ASSET)
    (root / "jobs/bench").mkdir(parents=True)
    (root / "jobs/bench/orders.yaml").write_text(JOB)
    (root / "data").mkdir()
    rng = np.random.default_rng(7)
    chunk = 1_000_000
    with pacsv.CSVWriter(root / "data/orders.csv", pa.schema([
        ("order_id", pa.int64()), ("customer", pa.string()), ("status", pa.string()),
        ("amount", pa.float64()), ("quantity", pa.int32()), ("ordered_at", pa.string()),
    ])) as writer:
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            ids = np.arange(start, start + n)
            stamps = np.datetime64("2026-01-01T00:00:00") + rng.integers(0, 86400 * 300, n
                                                                          ).astype("timedelta64[s]")
            writer.write_table(pa.table({
                "order_id": ids,
                "customer": pa.array(np.char.add("customer-", (ids % 50_000).astype(str))),
                "status": pa.array(np.array(["placed", "paid", "shipped", "cancelled"])[
                    rng.integers(0, 4, n)]),
                "amount": np.round(rng.random(n) * 500, 2),
                "quantity": rng.integers(1, 10, n).astype(np.int32),
                "ordered_at": pa.array(np.char.add(np.datetime_as_string(stamps), "Z")),
            }))
    return root


WRAP = """\
import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def timed(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one command, measured by a wrapper of its own."""
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", WRAP, *cmd], check=True, capture_output=True,
                         text=True)
    seconds = time.perf_counter() - start
    return seconds, int(out.stdout.strip().splitlines()[-1]) / 1024


def snapshots(root: Path) -> int:
    """Snapshots in the bench table: one per run, however many batches it held."""
    from pyiceberg.catalog import load_catalog

    home = root / ".dativo"
    catalog = load_catalog("dativo", type="sql", uri=f"sqlite:///{home / 'catalog.db'}",
                           warehouse=(home / "warehouse").as_uri())
    return len(catalog.load_table("bench.bench_orders").snapshots())


def bench(rows: int, repeat: int) -> None:
    """Best of ``repeat`` runs of each side, interleaved so load from elsewhere hits both."""
    with tempfile.TemporaryDirectory(prefix="dativo-bench-") as tmp:
        root = make_root(rows, Path(tmp))
        csv = root / "data/orders.csv"
        size = csv.stat().st_size / 2**20
        floor: list[tuple[float, float]] = []
        ours: list[tuple[float, float]] = []
        for i in range(repeat):
            floor.append(timed([sys.executable, "-c", FLOOR, str(csv), f"{tmp}/floor.parquet"]))
            shutil.rmtree(root / ".dativo", ignore_errors=True)
            ours.append(timed([str(BIN / "dativo"), "--root", str(root), "run",
                               "jobs/bench/orders.yaml", "--run-id", f"bench-{i}"]))
        floor_s, floor_mb = min(floor)
        ours_s, ours_mb = min(ours)
        print(f"{rows:>10,} rows ({size:,.0f} MiB CSV), best of {repeat}")
        report(rows, "floor  pyarrow CSV -> Parquet", (floor_s, floor_mb),
               "dativo run -> Iceberg", (ours_s, ours_mb), f"  ({snapshots(root)} snapshot)")


def report(rows: int, floor_label: str, floor: tuple[float, float], ours_label: str,
           ours: tuple[float, float], ours_note: str = "") -> None:
    """Both sides' seconds, rows/s and peak memory, then their ratio."""
    for label, (seconds, mib), note in ((floor_label, floor, ""), (ours_label, ours, ours_note)):
        print(f"  {label:<29}: {seconds:7.2f} s  {rows / seconds:>12,.0f} rows/s"
              f"  peak {mib:,.0f} MiB{note}")
    print(f"  ratio: {ours[0] / floor[0]:.2f}x the floor")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, action="append", help="rows (repeatable)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs of each side; the best is reported (default 1)")
    args = parser.parse_args()
    for rows in args.rows or [1_000_000]:
        bench(rows, max(args.repeat, 1))


if __name__ == "__main__":
    main()
