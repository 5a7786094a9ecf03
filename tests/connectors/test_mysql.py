"""The native MySQL/MariaDB source against the machine's real MariaDB (127.0.0.1:3306)."""

from __future__ import annotations

import datetime as dt
import decimal
from pathlib import Path

import pyarrow as pa
import pytest

from airflow_provider_dativo import runner
from airflow_provider_dativo.config.loader import ConfigRoot
from airflow_provider_dativo.engines import StateUpdate
from airflow_provider_dativo.engines.native.mysql import open_mysql
from airflow_provider_dativo.errors import EngineError
from tests.conftest import write
from tests.services import Database

ORDERS = """
CREATE TABLE orders (
  id bigint PRIMARY KEY, status varchar(16) NOT NULL, amount decimal(12, 2),
  wide decimal(30, 12), note text, payload json, raw blob, shipped date, at_time time,
  updated_at datetime(6) NOT NULL) CHARACTER SET utf8mb4
"""


def seed(db: Database) -> None:
    db.execute(ORDERS, """
    INSERT INTO orders VALUES
     (1, 'paid', 10.50, 123456789012345678.123456789012, 'Zoë 🌍 中文', '{"a": [1, 2]}',
      x'00ff', '2024-02-29', '12:34:56', '2026-11-20 10:00:00.000001'),
     (2, 'placed', NULL, NULL, NULL, NULL, NULL, NULL, NULL, '2026-11-21 00:00:00'),
     (3, 'lost', -1.00, 0, '', 'null', x'', '1999-12-31', '00:00:00', '2026-11-22 12:30:45')
    """)


def read_all(source, state: dict | None = None):
    batches, states = [], []
    for item in source.read("orders", state):
        (states.append(dict(item.state)) if isinstance(item, StateUpdate)
         else batches.append(item))
    return (pa.Table.from_batches(batches) if batches else None), states


def test_types_incremental_and_discover(mysql_database: Database) -> None:
    seed(mysql_database)
    source = open_mysql({**mysql_database.connection(), "table": "orders"},
                        cursor_field="updated_at", batch_rows=2)
    batches = [b for b in source.read("orders", None) if isinstance(b, pa.RecordBatch)]
    assert max(b.num_rows for b in batches) <= 2
    table, states = read_all(source)
    assert table is not None and table.num_rows == 3
    first = {r["id"]: r for r in table.to_pylist()}[1]
    assert first["wide"] == "123456789012345678.123456789012"  # no rounding through a float
    assert first["amount"] == "10.50" and first["at_time"] == "12:34:56"
    assert first["note"] == "Zoë 🌍 中文" and first["raw"] == b"\x00\xff"
    assert first["shipped"] == dt.date(2024, 2, 29)
    assert first["updated_at"] == dt.datetime(2026, 11, 20, 10, 0, 0, 1)
    assert states[-1] == {"cursor": "2026-11-22T12:30:45"}
    assert read_all(source, states[-1])[0] is None  # nothing newer: no rows leave the server
    lookback = open_mysql({**mysql_database.connection(), "table": "orders"},
                          cursor_field="updated_at", lookback_days=1)
    table, _ = read_all(lookback, {"cursor": "2026-11-21T12:00:00"})
    assert table is not None and sorted(table.column("id").to_pylist()) == [2, 3]

    streams = {s.name: s for s in open_mysql(mysql_database.connection()).discover()}
    assert streams["orders"].primary_key == ("id",)
    assert streams["orders"].columns["amount"] == "decimal(12,2)"
    assert "updated_at" in streams["orders"].cursor_fields
    assert open_mysql(mysql_database.connection()).check().ok


def test_bad_settings_fail_clearly_without_the_password(mysql_database: Database) -> None:
    status = open_mysql({**mysql_database.connection(), "password": "hunter2!",
                         "table": "orders"}).check()
    assert not status.ok and "hunter2" not in status.message
    assert "Access denied" in status.message
    seed(mysql_database)
    source = open_mysql({**mysql_database.connection(), "table": "orders"},
                        cursor_field="updated_at")
    with pytest.raises(EngineError, match="committed cursor value"):
        list(source.read("orders", {"cursor": "x'; DROP TABLE orders; --"}))


def test_job_runs_into_iceberg_and_quarantines_in_warn_mode(config_root: Path,
                                                           mysql_database: Database) -> None:
    seed(mysql_database)
    text = (config_root / "jobs/acme/mysql_orders.yaml").read_text()
    text = text.replace("    table: orders\n",
                        f"    table: orders\n    database: {mysql_database.name}\n")
    job = ConfigRoot(config_root).load_job(write(config_root / "jobs/acme/mysql_orders.yaml",
                                                 text))
    manifest, result = runner.run_job(job, "run-1")
    assert result.committed and manifest["rows"] == 2 and manifest["rejected"] == 1
    assert manifest["rule_counts"] == {"enum:status": 1}
    landed = {r["id"]: r for r in runner.open_job_target(job).load_table().scan().to_arrow()
              .to_pylist()}
    assert landed[1]["amount"] == decimal.Decimal("10.50") and landed[2]["amount"] is None
    assert runner.open_job_target(job).read_state()["source"] == {
        "cursor": "2026-11-22T12:30:45"}
    manifest, _ = runner.run_job(job, "run-2")
    assert manifest["rows_read"] == 0
