"""The native PostgreSQL source against the machine's real PostgreSQL (127.0.0.1:5432)."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import subprocess
import sys
import uuid
from pathlib import Path

import pyarrow as pa
import pytest

from airflow_provider_dativo import runner
from airflow_provider_dativo.config.loader import ConfigRoot
from airflow_provider_dativo.engines import StateUpdate
from airflow_provider_dativo.engines.native.postgres import open_postgres
from airflow_provider_dativo.errors import ContractViolation, EngineError
from tests.conftest import write
from tests.services import Database

CUSTOMERS = """
CREATE TABLE customers (
  id bigint PRIMARY KEY, external_id uuid, name text NOT NULL, balance numeric(12, 2),
  tags text[], profile jsonb, avatar bytea, signup_date date,
  updated_at timestamptz NOT NULL)
"""
BIN = Path(sys.executable).parent
UUID_1 = uuid.UUID("7d2d1a57-0a52-4a9c-9b1c-0d8a6f4e3b21")


def seed(db: Database) -> None:
    db.execute(CUSTOMERS, """
    INSERT INTO customers VALUES
     (1, '7d2d1a57-0a52-4a9c-9b1c-0d8a6f4e3b21', 'Zoë 🌍 中文 "quoted", new
line', 1234567890.12, ARRAY['a', 'b"c', NULL], '{"vip": true, "n": [1, 2]}', '\\x00ff10',
      '2024-02-29', '2026-11-20 10:00:00+02'),
     (2, NULL, 'Bo', -0.01, NULL, NULL, NULL, NULL, '2026-11-21 00:00:00+00'),
     (3, NULL, '', 0, '{}', 'null', '\\x', '1999-12-31', '2026-11-22 12:30:45.123456+00')
    """)


def read_all(source, stream: str = "customers", state: dict | None = None):
    batches, states = [], []
    for item in source.read(stream, state):
        if isinstance(item, StateUpdate):
            states.append(dict(item.state))
        else:
            batches.append(item)
    return batches, states


def job_for(config_root: Path, db: Database, **extra: str):
    """The shipped pg_customers job, pointed at the test's database."""
    text = (config_root / "jobs/acme/pg_customers.yaml").read_text()
    text = text.replace('"${PGDATABASE:-shop}"', db.name)
    for key, value in extra.items():
        text += f"{key}: {value}\n"
    path = write(config_root / "jobs/acme/pg_customers.yaml", text)
    return ConfigRoot(config_root).load_job(path)


def test_types_arrive_faithfully_and_in_bounded_batches(pg_database: Database) -> None:
    seed(pg_database)
    pg_database.execute("INSERT INTO customers SELECT g, NULL, 'n' || g, g, NULL, NULL, NULL, "
                        "NULL, '2026-01-01'::timestamptz + g * interval '1 second' "
                        "FROM generate_series(10, 2509) g")
    source = open_postgres(pg_database.connection(), batch_rows=1000)
    batches, states = read_all(source)
    assert states == []  # a full read keeps no cursor
    assert max(b.num_rows for b in batches) <= 1000 and len(batches) >= 3
    table = pa.Table.from_batches(batches)
    assert table.num_rows == 2503
    types = {f.name: f.type for f in table.schema}
    assert types["id"] == pa.int64()
    assert types["updated_at"] == pa.timestamp("us", tz="UTC")
    assert types["signup_date"] == pa.date32() and types["avatar"] == pa.binary()
    first, second, third = sorted(table.to_pylist(), key=lambda r: r["id"])[:3]
    assert first["external_id"] == str(UUID_1)
    assert first["name"] == 'Zoë 🌍 中文 "quoted", new\nline'
    assert first["balance"] == "1234567890.12"  # every digit, as text for the contract to parse
    assert json.loads(first["tags"]) == ["a", 'b"c', None]
    assert json.loads(first["profile"]) == {"vip": True, "n": [1, 2]}
    assert first["avatar"] == b"\x00\xff\x10" and third["avatar"] == b""
    assert first["signup_date"] == dt.date(2024, 2, 29)
    assert first["updated_at"] == dt.datetime(2026, 11, 20, 8, tzinfo=dt.UTC)
    assert second["external_id"] is None and second["tags"] is None and second["avatar"] is None
    assert third["name"] == "" and third["tags"] == "[]" and third["profile"] == "null"


def test_incremental_pushes_the_cursor_into_the_query(pg_database: Database) -> None:
    seed(pg_database)
    source = open_postgres(pg_database.connection(), cursor_field="updated_at")
    batches, states = read_all(source)
    assert sum(b.num_rows for b in batches) == 3
    assert states[-1] == {"cursor": "2026-11-22T12:30:45.123456+00:00"}
    sql, params, _ = source.select("customers", states[-1])
    assert "> CAST('2026-11-22T12:30:45.123456+00:00' AS timestamptz)" in sql and params == []
    with pytest.raises(EngineError, match="committed cursor value"):
        list(source.read("customers", {"cursor": "x'); DROP TABLE customers; --"}))
    batches, again = read_all(source, state=states[-1])
    assert sum(b.num_rows for b in batches) == 0 and again == states
    # a lookback of one day re-reads rows changed within a day of the committed cursor
    lookback = open_postgres(pg_database.connection(), cursor_field="updated_at", lookback_days=1)
    batches, _ = read_all(lookback, state={"cursor": "2026-11-21T12:00:00+00:00"})
    ids = sorted(i for b in batches for i in b.column("id").to_pylist())
    assert ids == [2, 3]


def test_query_source_and_discover(pg_database: Database) -> None:
    seed(pg_database)
    pg_database.execute("CREATE SCHEMA sales", "CREATE TABLE sales.lines (order_id int, "
                        "line int, sku text, PRIMARY KEY (order_id, line))")
    source = open_postgres({**pg_database.connection(),
                            "query": "SELECT id, upper(name) AS name FROM customers "
                                     "WHERE id < 3;"})
    rows = [r for b in read_all(source, "ignored")[0] for r in b.to_pylist()]
    assert sorted(r["id"] for r in rows) == [1, 2]
    assert source.check().ok
    streams = {s.name: s for s in open_postgres(pg_database.connection()).discover()}
    assert set(streams) == {"customers"}
    customers = streams["customers"]
    assert customers.primary_key == ("id",)
    assert customers.columns["balance"] == "numeric(12,2)"
    assert customers.columns["updated_at"] == "timestamp with time zone"
    assert "updated_at" in customers.cursor_fields
    sales = open_postgres({**pg_database.connection(), "schema": "sales"}).discover()
    assert [(s.name, s.primary_key) for s in sales] == [("sales.lines", ("order_id", "line"))]


def test_errors_name_the_problem_and_never_the_password(pg_database: Database) -> None:
    secret = "s3cr3t/p@ss"
    bad = open_postgres({**pg_database.connection(), "port": 1, "password": secret,
                         "table": "customers"})
    status = bad.check()
    assert not status.ok and "connect failed" in status.message
    assert secret not in status.message and "s3cr3t" not in status.message
    missing = open_postgres({**pg_database.connection(), "table": "nope"})
    with pytest.raises(EngineError, match="nope"):
        list(missing.read("nope", None))
    seed(pg_database)
    wrong = open_postgres(pg_database.connection(), cursor_field="modified")
    with pytest.raises(EngineError, match="cursor field 'modified'"):
        list(wrong.read("customers", None))
    with pytest.raises(EngineError, match="not both"):
        open_postgres({**pg_database.connection(), "table": "a", "query": "SELECT 1"})


def test_job_runs_into_iceberg_incrementally(config_root: Path, pg_database: Database) -> None:
    seed(pg_database)
    job = job_for(config_root, pg_database)
    manifest, result = runner.run_job(job, "run-1")
    assert result.committed and manifest["rows"] == 3
    table = runner.open_job_target(job).load_table().scan().to_arrow()
    assert table.schema.field("balance").type == pa.decimal128(12, 2)
    landed = {r["id"]: r for r in table.to_pylist()}
    assert landed[1]["balance"] == decimal.Decimal("1234567890.12")
    assert landed[1]["avatar"] == b"\x00\xff\x10"
    assert landed[1]["external_id"] == str(UUID_1)
    state = runner.open_job_target(job).read_state()
    assert state["cursor"] == state["source"]["cursor"] == "2026-11-22T12:30:45.123456+00:00"

    # one row changes, one is older than the lookback: the old one never leaves the database
    pg_database.execute("UPDATE customers SET name = 'Bo 2', updated_at = "
                        "'2026-11-23 00:00:00+00' WHERE id = 2",
                        "INSERT INTO customers (id, name, updated_at) VALUES "
                        "(4, 'old', '2020-01-01 00:00:00+00')")
    manifest, result = runner.run_job(job, "run-2")
    assert manifest["rows_read"] == 2  # id 2, and id 3 again (within one day)
    assert manifest["rows"] == 2  # the runner's guard applies the same bound
    landed = {r["id"]: r["name"] for r in runner.open_job_target(job).load_table().scan()
              .to_arrow().to_pylist()}
    assert sorted(landed) == [1, 2, 3] and landed[2] == "Bo 2"  # upserted by primary key
    assert runner.open_job_target(job).read_state()["cursor"] == "2026-11-23T00:00:00+00:00"


def test_contract_refuses_values_the_column_cannot_hold(config_root: Path,
                                                       pg_database: Database) -> None:
    seed(pg_database)
    pg_database.execute("ALTER TABLE customers ALTER COLUMN balance TYPE numeric(20, 4)",
                        "UPDATE customers SET balance = 123456789012345.6789 WHERE id = 3")
    job = job_for(config_root, pg_database)
    with pytest.raises(ContractViolation, match="balance"):
        runner.run_job(job, "run-1")
    assert runner.open_job_target(job).read_state() is None


def test_cli_discover_lists_tables_keys_and_columns(config_root: Path,
                                                     pg_database: Database,
                                                     mysql_database: Database) -> None:
    seed(pg_database)
    mysql_database.execute("CREATE TABLE items (sku varchar(8) PRIMARY KEY, changed datetime)")
    found = {}
    for kind, db in (("postgres", pg_database), ("mysql", mysql_database)):
        out = subprocess.run([str(BIN / "dativo"), "--root", str(config_root), "discover",
                              "--connector", kind, "--set", f"database={db.name}", "--json",
                              "--verbose"], capture_output=True, text=True, check=True)
        found[kind] = {s["name"]: s for s in json.loads(out.stdout)}
    assert found["postgres"]["customers"]["primary_key"] == ["id"]
    assert found["postgres"]["customers"]["columns"]["tags"] == "text[]"
    assert found["mysql"]["items"]["primary_key"] == ["sku"]
    assert found["mysql"]["items"]["cursor_fields"] == ["changed"]
    bad = subprocess.run([str(BIN / "dativo"), "--root", str(config_root), "discover",
                          "--connector", "postgres", "--set", "database=no_such_db"],
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "no_such_db" in bad.stdout + bad.stderr
    assert "Traceback" not in bad.stderr
