"""PostgreSQL source through ADBC's libpq driver: rows arrive as Arrow over COPY.

Measured on this machine (1M rows, 5 columns), ADBC read the table into Arrow in 1.5 s,
connectorx in 1.8 s; a psycopg loop would convert every value in Python. Types ADBC hands over
as Arrow are kept (integers, floats, bool, text, date, timestamp, timestamptz, bytea); arrays
become JSON text, and every other type (numeric, uuid, json/jsonb, interval, inet, ...) arrives
as PostgreSQL's own text form, which the contract layer parses exactly (numeric keeps every
digit, so precision and scale are checked against the contract, not rounded by a float).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import closing
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from airflow_provider_dativo.engines.base import StreamInfo
from airflow_provider_dativo.engines.native.drivers import driver
from airflow_provider_dativo.engines.native.sql import (
    SqlSource,
    SqlSourceConfig,
    build_streams,
    cursor_literal,
    job_options,
)

if TYPE_CHECKING:
    from pathlib import Path

    from airflow_provider_dativo.config.specs import ConnectorRecipe, JobSpec

KEEP = {"int2", "int4", "int8", "float4", "float8", "bool", "text", "varchar", "bpchar", "name",
        "date", "timestamp", "timestamptz", "bytea"}
_TYPE_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
# bytes of Arrow the driver gathers before handing over a batch: bounds memory per batch
BATCH_BYTES = 16 << 20


def _pg_type(field: pa.Field) -> str:
    meta = field.metadata or {}
    return meta.get(b"POSTGRESQL:type", b"").decode()


class PostgresDialect:
    name = "postgres"

    def __init__(self, url: str):
        self.url = url

    def connect(self) -> Any:
        return driver("adbc_driver_postgresql.dbapi", "postgres").connect(self.url)

    def quote(self, identifier: str) -> str:
        return '"' + identifier.replace('"', '""') + '"'

    def probe(self, sql: str) -> pa.Schema:
        with closing(self.connect()) as con, closing(con.cursor()) as cur:
            return cur.adbc_execute_schema(sql)

    def column(self, ref: str, field: pa.Field) -> str:
        if pa.types.is_list(field.type) or pa.types.is_large_list(field.type):
            return f"to_json({ref})::text"
        return ref if _pg_type(field) in KEEP else f"{ref}::text"

    def after(self, ref: str, field: pa.Field, bound: str | int | float,
              inclusive: bool) -> tuple[str, list]:
        pg_type = _pg_type(field)
        cast = pg_type if _TYPE_NAME.match(pg_type) else "text"
        # the bound as text, cast by the server: one code path for every cursor type
        op = ">=" if inclusive else ">"
        return f"{ref} {op} CAST({cursor_literal(str(bound))} AS {cast})", []

    def literal(self, field: pa.Field, value: str | int | float) -> str:
        pg_type = _pg_type(field)
        cast = pg_type if _TYPE_NAME.match(pg_type) else "text"
        return f"CAST({cursor_literal(str(value))} AS {cast})"

    def stream(self, sql: str, params: list) -> Iterator[pa.RecordBatch]:
        con = self.connect()
        try:
            with closing(con.cursor()) as cur:
                cur.adbc_statement.set_options(
                    **{"adbc.postgresql.batch_size_hint_bytes": str(BATCH_BYTES)})
                cur.execute(sql, parameters=params or None)
                yield from cur.fetch_record_batch()
        finally:
            con.close()

    def rows(self, sql: str, params: list | None = None) -> list[tuple]:
        with closing(self.connect()) as con, closing(con.cursor()) as cur:
            cur.execute(sql, parameters=params)
            return list(cur.fetchall())

    def ping(self) -> str:
        return str(self.rows("SELECT current_setting('server_version')")[0][0])

    def streams(self, schema: str | None) -> list[StreamInfo]:
        schema = schema or "public"
        columns = self.rows(
            "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) "
            "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f') "
            "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY c.relname, a.attnum", [schema])
        keys = self.rows(
            "SELECT t.relname, a.attname FROM pg_index i "
            "JOIN pg_class t ON t.oid = i.indrelid "
            "JOIN pg_namespace n ON n.oid = t.relnamespace "
            "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY(i.indkey) "
            "WHERE i.indisprimary AND n.nspname = $1 "
            "ORDER BY t.relname, array_position(i.indkey::int2[], a.attnum)", [schema])
        return build_streams(columns, keys, "" if schema == "public" else f"{schema}.")


def open_postgres(connection: dict, *, cursor_field: str | None = None, lookback_days: int = 0,
                  inclusive: bool = False, batch_rows: int | None = None) -> SqlSource:
    config = SqlSourceConfig.from_connection(
        connection, scheme="postgresql", default_port=5432, default_user="postgres",
        cursor_field=cursor_field, lookback_days=lookback_days, inclusive=inclusive,
        **({"batch_rows": batch_rows} if batch_rows else {}))
    return SqlSource(config, PostgresDialect(config.url))


def from_job(job: JobSpec, connection: dict) -> SqlSource:
    """The engine for a job whose resolved source connection is ``connection``."""
    return open_postgres(connection, **job_options(job))


def from_recipe(root: Path, recipe: ConnectorRecipe, connection: dict) -> SqlSource:
    return open_postgres(connection)
