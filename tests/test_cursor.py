"""Incremental reads lose nothing whatever the source's row order: the bound of a run is the
committed cursor, fixed for the whole run, never what the run itself has read so far.

Every test compares the table with the source row by row, on real sources (PostgreSQL and
MariaDB tables in heap order after updates, CSV files, an Airbyte-protocol process).
"""

from __future__ import annotations

import datetime as dt
import random
import sys
from pathlib import Path

from airflow_provider_dativo import runner
from airflow_provider_dativo.config.loader import ConfigRoot
from tests.conftest import write
from tests.services import Database

UTC = dt.UTC
BASE = dt.datetime(2026, 11, 1, tzinfo=UTC)


def table_rows(job: runner.JobSpec, *columns: str) -> list[tuple]:
    table = runner.open_job_target(job).load_table().scan().to_arrow()  # type: ignore[attr-defined]
    return sorted(zip(*(table.column(c).to_pylist() for c in columns), strict=True))


# -- PostgreSQL: a table whose heap order is not cursor order ---------------------------------
PG_TABLE = """
CREATE TABLE customers (
  id bigint PRIMARY KEY, external_id uuid, name text NOT NULL, balance numeric(12, 2),
  tags text[], profile jsonb, avatar bytea, signup_date date,
  updated_at timestamptz NOT NULL)
"""


def pg_job(config_root: Path, db: Database, batch_size: int) -> runner.JobSpec:
    """The shipped pg_customers job (lookback 1 day, upsert), on the test's database."""
    path = config_root / "jobs/acme/pg_customers.yaml"
    text = path.read_text().replace('"${PGDATABASE:-shop}"', db.name)
    text = text.replace("source:\n", f"source:\n  batch_size: {batch_size}\n", 1)
    write(path, text)
    return ConfigRoot(config_root).load_job(path)


def pg_source_rows(db: Database) -> list[tuple]:
    import psycopg

    with psycopg.connect(host="127.0.0.1", port=db.port, user="postgres", dbname=db.name) as con:
        return sorted(con.execute("SELECT id, name, updated_at FROM customers").fetchall())


def test_postgres_in_heap_order_loads_every_row_and_every_update(
        config_root: Path, pg_database: Database) -> None:
    pg_database.execute(
        PG_TABLE,
        # 10,000 rows inserted in random cursor order, so the heap is not in updated_at order
        "INSERT INTO customers (id, name, updated_at) SELECT g, 'v0-' || g, "
        "'2026-11-01'::timestamptz + (random() * 86400 * 3) * interval '1 second' "
        "FROM generate_series(1, 10000) g ORDER BY random()")
    job = pg_job(config_root, pg_database, batch_size=500)
    manifest, _ = runner.run_job(job)
    assert manifest["rows"] == 10000 and manifest["skipped"] == 0
    assert table_rows(job, "id", "name", "updated_at") == pg_source_rows(pg_database)
    committed = dt.datetime.fromisoformat(manifest["state"]["cursor"])

    # 3,000 updates over three days: some after the committed cursor, some inside the
    # one-day lookback, some exactly at it; updated tuples move to the heap's end
    pg_database.execute(
        "UPDATE customers SET name = 'v1-' || id, updated_at = %s::timestamptz "
        "+ ((id %% 3) - 1) * interval '12 hours' + (id %% 997) * interval '1 second' "
        "WHERE id %% 10 < 3", params=[committed.isoformat()])
    pg_database.execute("UPDATE customers SET name = 'tie-' || id, updated_at = %s "
                        "WHERE id IN (5, 15, 25)", params=[committed.isoformat()])
    manifest, _ = runner.run_job(job)
    assert table_rows(job, "id", "name", "updated_at") == pg_source_rows(pg_database)
    assert manifest["skipped"] == 0  # the source sent only rows inside the bound


def test_mysql_ties_on_batch_boundaries_with_no_lookback(
        config_root: Path, mysql_database: Database) -> None:
    """The shipped mysql_orders job (append, no lookback): 900 rows share three cursor values
    across batches of 100; each row lands once, and a rerun lands none of them again."""
    mysql_database.execute(
        "CREATE TABLE orders (id bigint PRIMARY KEY, status varchar(16) NOT NULL, "
        "amount decimal(12, 2), note text, updated_at datetime(6) NOT NULL)")
    values = [(i, "paid", f"2026-11-0{1 + i % 3} 00:00:00") for i in range(1, 901)]
    random.Random(7).shuffle(values)
    mysql_database.execute("INSERT INTO orders (id, status, updated_at) VALUES "
                           + ", ".join(f"({i}, '{s}', '{t}')" for i, s, t in values))
    path = config_root / "jobs/acme/mysql_orders.yaml"
    text = path.read_text().replace("  connection:\n", "  batch_size: 100\n  connection:\n"
                                    f"    database: {mysql_database.name}\n"
                                    f"    port: {mysql_database.port}\n", 1)
    job = ConfigRoot(config_root).load_job(write(path, text))
    manifest, _ = runner.run_job(job)
    assert manifest["rows"] == 900
    assert table_rows(job, "id") == [(i,) for i in range(1, 901)]
    # later rows: one after the cursor, one tied with it (an appending job cannot tell a late
    # tie from a row it already has, so the bound excludes the committed value)
    mysql_database.execute("INSERT INTO orders (id, status, updated_at) VALUES "
                           "(901, 'paid', '2026-11-04 00:00:00')")
    manifest, _ = runner.run_job(job)
    assert manifest["rows"] == 1
    assert table_rows(job, "id") == [(i,) for i in range(1, 902)]


# -- files: a CSV with a cursor ---------------------------------------------------------------
EVENTS_ASSET = """\
apiVersion: v3.0.2
kind: DataContract
id: 6c1b2a0e-0000-4000-8000-00000000e001
status: active
name: events
version: "1.0"
source_type: file
object: events
schema:
  - name: id
    type: long
    required: true
    primary_key: true
  - name: ts
    type: timestamp
  - name: note
    type: string
"""

EVENTS_JOB = """\
tenant_id: acme
source_connector: file
source_connector_path: connectors/file.yaml
asset: events
asset_path: assets/file/v1.0/events.yaml
target_connector: iceberg
target_connector_path: connectors/iceberg.yaml
source:
  batch_size: {batch}
  connection:
    path: data/events/*.csv
  incremental:
    cursor_field: ts
validation:
  mode: warn
target:
  write_mode: {mode}
"""


def events_job(root: Path, mode: str = "append", batch: int = 1000) -> runner.JobSpec:
    write(root / "assets/file/v1.0/events.yaml", EVENTS_ASSET)
    path = write(root / "jobs/acme/events.yaml", EVENTS_JOB.format(mode=mode, batch=batch))
    return ConfigRoot(root).load_job(path)


def write_csv(root: Path, name: str, rows: list[tuple[int, str, str]]) -> None:
    lines = ["id,ts,note", *(f"{i},{ts},{note}" for i, ts, note in rows)]
    write(root / "data/events" / name, "\n".join(lines) + "\n")


def test_unordered_csv_with_a_cursor_lands_every_row(config_root: Path) -> None:
    rng = random.Random(3)
    rows = [(i, (BASE + dt.timedelta(seconds=rng.randrange(10**6))).strftime(
        "%Y-%m-%dT%H:%M:%S"), f"n{i}") for i in range(50000)]
    write_csv(config_root, "a.csv", rows)
    job = events_job(config_root, batch=4096)
    manifest, _ = runner.run_job(job)
    assert manifest["rows"] == 50000 and manifest["skipped"] == 0
    assert table_rows(job, "id") == [(i,) for i, _, _ in rows]

    # a new file holds rows after the cursor and rows before it: the old ones were read by
    # no run, yet the job asked for cursor semantics; they are skipped and counted, not lost
    # silently
    newest = max(ts for _, ts, _ in rows)
    later = [(50000 + i, "2026-12-30T00:00:00", "late") for i in range(10)]
    older = [(60000 + i, "2026-10-01T00:00:00", "old") for i in range(5)]
    write_csv(config_root, "b.csv", later + older + [(70000, newest, "tie")])
    manifest, _ = runner.run_job(job)
    assert manifest["rows"] == 10 and manifest["skipped"] == 6
    assert len(table_rows(job, "id")) == 50010


def test_ties_and_nulls_on_batch_boundaries(config_root: Path) -> None:
    """Batches of 100 rows: 300 rows share one cursor value, 300 have none (warn mode, the
    column is optional): all 600 land, and the NULLs are counted."""
    tie = "2026-11-05T00:00:00"
    rows = [(i, tie if i % 2 else "", f"n{i}") for i in range(600)]
    write_csv(config_root, "a.csv", rows)
    job = events_job(config_root, mode="upsert", batch=100)
    manifest, _ = runner.run_job(job)
    assert manifest["rows"] == 600 and manifest["null_cursor"] == 300
    assert manifest["state"]["cursor"] == tie
    # an upserting job reads the committed value again: a late row tied with it lands, and
    # rows read again replace themselves
    write_csv(config_root, "b.csv", [(1000, tie, "late tie"), (1001, "2026-11-01T00:00:00",
                                                                 "too old")])
    manifest, _ = runner.run_job(job)
    assert manifest["rows"] == 1 and manifest["skipped"] == 1
    assert table_rows(job, "id") == sorted([(i,) for i in range(600)] + [(1000,)])


# -- Airbyte: the connector's state is the incremental mechanism ------------------------------
def test_airbyte_rows_older_than_the_cursor_are_loaded(config_root: Path) -> None:
    script = Path(__file__).parent / "engines" / "airbyte_script.py"
    write(config_root / "connectors/faker.yaml", f"""\
type: faker
version: 1.0.0
default_engine:
  type: airbyte
  command: [{sys.executable}, {script}]
""")
    path = write(config_root / "jobs/examples/script_users.yaml", """\
tenant_id: demo
source_connector: faker
source_connector_path: connectors/faker.yaml
asset: faker_users
asset_path: assets/faker/v1.0/users.yaml
target_connector: iceberg
target_connector_path: connectors/iceberg.yaml
source:
  connection:
    scenario: late
  incremental:
    cursor_field: updated_at
target:
  table: script_users
""")
    job = ConfigRoot(config_root).load_job(path)
    runner.run_job(job)
    manifest, _ = runner.run_job(job)
    # the second read sends users 4-6 and, late, user 100 updated long before the cursor
    assert manifest["rows"] == 4 and manifest["skipped"] == 0
    assert table_rows(job, "id") == [(i,) for i in (1, 2, 3, 4, 5, 6, 100)]


def test_a_lookback_needs_an_upsert(config_root: Path) -> None:
    """Rows in the lookback window are read again: an append would land them twice."""
    from airflow_provider_dativo.errors import ConfigError

    events_job(config_root)  # the asset
    text = EVENTS_JOB.format(mode="append", batch=10).replace(
        "cursor_field: ts\n", "cursor_field: ts\n    lookback_days: 1\n")
    path = write(config_root / "jobs/acme/events.yaml", text)
    try:
        ConfigRoot(config_root).load_job(path)
    except ConfigError as exc:
        message = str(exc)
    else:
        raise AssertionError("an appending job with a lookback was accepted")
    assert "events.yaml:14: source.incremental.lookback_days" in message
    assert "write_mode: upsert" in message
    write(path, text.replace("write_mode: append", "write_mode: upsert"))
    assert ConfigRoot(config_root).load_job(path).incremental.lookback_days == 1  # type: ignore[union-attr]


# -- PostgreSQL: NULL cursors and ties, pushed into the query ---------------------------------
EVENTS_PG_ASSET = """\
apiVersion: v3.0.2
kind: DataContract
id: 6c1b2a0e-0000-4000-8000-00000000e002
status: active
name: pg_events
version: "1.0"
source_type: postgres
object: events
schema:
  - name: id
    type: long
    required: true
    primary_key: true
  - name: ts
    type: timestamptz
  - name: note
    type: string
"""

EVENTS_PG_JOB = """\
tenant_id: acme
source_connector: postgres
source_connector_path: connectors/postgres.yaml
asset: pg_events
asset_path: assets/postgres/v1.0/pg_events.yaml
target_connector: iceberg
target_connector_path: connectors/iceberg.yaml
source:
  batch_size: 100
  object: events
  connection:
    database: {database}
  incremental:
    cursor_field: ts
validation:
  mode: warn
target:
  write_mode: upsert
"""


def pg_events_rows(db: Database) -> list[tuple]:
    import psycopg

    with psycopg.connect(host="127.0.0.1", port=db.port, user="postgres", dbname=db.name) as con:
        return sorted(con.execute("SELECT id, ts, note FROM events").fetchall())


def test_postgres_nulls_and_ties_are_read_by_the_query_itself(
        config_root: Path, pg_database: Database) -> None:
    """An upsert job's query reads rows at the committed cursor and rows with no cursor again
    (``>= bound OR ts IS NULL``): a late tie and a late NULL land, nothing lands twice."""
    pg_database.execute(
        "CREATE TABLE events (id bigint PRIMARY KEY, ts timestamptz, note text)",
        # 600 rows in random order: a third share one time, a third have none, batches of 100
        "INSERT INTO events SELECT g, CASE g % 3 WHEN 0 THEN NULL WHEN 1 THEN "
        "'2026-11-05 00:00:00+00'::timestamptz ELSE '2026-11-01 00:00:00+00'::timestamptz "
        "+ g * interval '1 minute' END, 'v0' FROM generate_series(1, 600) g ORDER BY random()")
    write(config_root / "assets/postgres/v1.0/pg_events.yaml", EVENTS_PG_ASSET)
    path = write(config_root / "jobs/acme/pg_events.yaml",
                 EVENTS_PG_JOB.format(database=pg_database.name))
    job = ConfigRoot(config_root).load_job(path)
    manifest, _ = runner.run_job(job)
    assert manifest["rows"] == 600 and manifest["null_cursor"] == 200
    assert table_rows(job, "id", "ts", "note") == pg_events_rows(pg_database)
    committed = manifest["state"]["cursor"]
    assert committed == "2026-11-05T00:00:00+00:00"

    # later: a row tied with the committed cursor, a row with no cursor, and an older row the
    # lookback-free bound leaves alone (the source does not send it: it is below the bound)
    pg_database.execute(
        "INSERT INTO events VALUES (601, '2026-11-05 00:00:00+00', 'late tie'), "
        "(602, NULL, 'late null'), (603, '2026-10-01 00:00:00+00', 'too old')")
    manifest, _ = runner.run_job(job)
    # the query sent the 200 tied rows and 200 NULL rows again, plus the two late ones
    assert manifest["rows_read"] == 402 and manifest["skipped"] == 0
    landed = {row[0] for row in table_rows(job, "id")}
    assert len(table_rows(job, "id")) == len(landed) == 602  # upsert: no id twice
    assert 601 in landed and 602 in landed and 603 not in landed
