"""Benchmark: a PostgreSQL table → Iceberg through `dativo run`, beside the floor.

The floor is the fastest copy of the same table into Arrow this machine offers (ADBC's
PostgreSQL driver, binary COPY; connectorx measured slower), written once as one Parquet file,
with no checks. Each side runs in its own process so peak memory (max RSS) is its own. Needs the
PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth); creates and drops a database of its
own. Prints figures; asserts nothing.

    python bench/postgres_to_iceberg.py --rows 1000000 --rows 5000000
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from file_to_iceberg import BIN, REPO, report, timed  # one way to time and report

DB = "dativo_bench"
ASSET = """\
apiVersion: v3.0.2
kind: DataContract
name: bench_pg_orders
version: "1.0"
source_type: postgres
object: orders
schema:
  - {name: order_id, type: long, required: true}
  - {name: customer, type: string, required: true}
  - {name: status, type: string, enum: [placed, paid, shipped, cancelled]}
  - {name: amount, type: decimal, precision: 12, scale: 2, minimum: 0}
  - {name: quantity, type: integer}
  - {name: ordered_at, type: timestamptz, required: true}
target:
  partitioning: [ingest_date]
"""

JOB = f"""\
tenant_id: bench
source_connector: postgres
source_connector_path: connectors/postgres.yaml
asset: bench_pg_orders
asset_path: assets/bench/v1.0/orders.yaml
target_connector: iceberg
target_connector_path: connectors/iceberg.yaml
source:
  connection:
    database: {DB}
    table: orders
"""

FLOOR = """\
import sys, adbc_driver_postgresql.dbapi as d, pyarrow as pa, pyarrow.parquet as pq
con = d.connect(sys.argv[1]); cur = con.cursor()
cur.execute("SELECT * FROM orders")
reader = cur.fetch_record_batch()
plain = lambda t: t.storage_type if isinstance(t, pa.ExtensionType) else t
schema = pa.schema([(f.name, plain(f.type)) for f in reader.schema])
with pq.ParquetWriter(sys.argv[2], schema, compression="zstd") as w:
    for b in reader:
        w.write_batch(pa.record_batch([c.storage if isinstance(c, pa.ExtensionArray) else c
                                       for c in b.columns], schema=schema))
"""


def admin(sql: str, database: str = "postgres") -> None:
    import psycopg

    with psycopg.connect(host="127.0.0.1", user="postgres", dbname=database,
                         autocommit=True) as con:
        con.execute(sql)  # type: ignore[arg-type]


def make_table(rows: int) -> None:
    admin(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    admin(f"CREATE DATABASE {DB}")
    admin(f"""CREATE TABLE orders AS SELECT g::bigint AS order_id,
        'customer-' || (g % 50000) AS customer,
        (ARRAY['placed', 'paid', 'shipped', 'cancelled'])[1 + g % 4] AS status,
        round((random() * 500)::numeric, 2)::numeric(12, 2) AS amount,
        (1 + g % 9)::int AS quantity,
        timestamptz '2026-01-01' + (g % 25920000) * interval '1 second' AS ordered_at
        FROM generate_series(1, {rows}) g""", DB)
    admin("ALTER TABLE orders ADD PRIMARY KEY (order_id)", DB)
    admin("VACUUM ANALYZE orders", DB)


def make_root(folder: Path) -> Path:
    root = folder / "config"
    for rel in ("connectors", "registry"):
        shutil.copytree(REPO / rel, root / rel)
    (root / "assets/bench/v1.0").mkdir(parents=True)
    (root / "assets/bench/v1.0/orders.yaml").write_text(ASSET)
    (root / "jobs/bench").mkdir(parents=True)
    (root / "jobs/bench/orders.yaml").write_text(JOB)
    return root


def bench(rows: int) -> None:
    make_table(rows)
    try:
        with tempfile.TemporaryDirectory(prefix="dativo-bench-") as tmp:
            root = make_root(Path(tmp))
            url = f"postgresql://postgres@127.0.0.1:5432/{DB}"
            floor_s, floor_mb = timed([sys.executable, "-c", FLOOR, url,
                                       f"{tmp}/floor.parquet"])
            ours_s, ours_mb = timed([str(BIN / "dativo"), "--root", str(root), "run",
                                     "jobs/bench/orders.yaml", "--run-id", "bench"])
    finally:
        admin(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    print(f"{rows:>10,} rows (PostgreSQL table)")
    report(rows, "floor  ADBC -> Parquet", (floor_s, floor_mb), "dativo run -> Iceberg",
           (ours_s, ours_mb))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, action="append", help="rows (repeatable)")
    args = parser.parse_args()
    for rows in args.rows or [1_000_000]:
        bench(rows)


if __name__ == "__main__":
    main()
