"""What the native database sources share: settings, the SELECT they run, cursor push-down.

A database source reads one table (``table``) or one query (``query``) of the job's connection,
else the table named by the job's stream. The base relation is wrapped as
``SELECT <columns> FROM (<base>) AS q [WHERE q.<cursor> >(=) <bound> OR q.<cursor> IS NULL]``:
the column list casts
types that the driver cannot hand over faithfully as Arrow (for example PostgreSQL ``uuid`` or
``interval``) to text, and the cursor predicate keeps unchanged rows on the server. The driver
streams Arrow record batches, cut here to at most ``batch_rows`` rows, so memory does not grow
with the table. The source state holds the largest cursor value read, committed with the data
by the runner; the bound of the next run is that value minus ``lookback_days``, inclusive for an
upserting job, with NULL cursors always read: the rule of ``cursor.py``, which the runner
applies again to every batch.

Dialects (``postgres.py``, ``mysql.py``) supply the driver, quoting, casts and catalogue queries.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import quote

import pyarrow as pa
import pyarrow.compute as pc

from airflow_provider_dativo import masking
from airflow_provider_dativo.engines.base import (
    DEFAULT_BATCH_ROWS,
    CheckStatus,
    ReadItem,
    StateUpdate,
    StreamInfo,
)
from airflow_provider_dativo.engines.native.cursor import inclusive_for, later, lookback_bound
from airflow_provider_dativo.errors import DativoError, EngineError

if TYPE_CHECKING:
    from airflow_provider_dativo.config.specs import JobSpec

# catalogue type names that make a usable cursor (PostgreSQL and MySQL spellings)
CURSOR_TYPES = ("date", "timestamp", "datetime", "int", "bigint", "smallint")
T = TypeVar("T")


@dataclass(frozen=True)
class SqlSourceConfig:
    url: str = field(repr=False)  # holds the password: never logged, never in an error
    database: str
    table: str | None = None
    query: str | None = None
    schema: str | None = None  # what ``discover`` lists; the dialect's default when unset
    cursor_field: str | None = None
    lookback_days: int = 0
    inclusive: bool = False  # rows equal to the committed cursor are read again (upsert)
    batch_rows: int = DEFAULT_BATCH_ROWS
    secrets: tuple[str, ...] = field(default=(), repr=False)

    @classmethod
    def from_connection(cls, connection: Mapping[str, Any], *, scheme: str, default_port: int,
                        default_user: str, cursor_field: str | None = None,
                        lookback_days: int = 0, inclusive: bool = False,
                        batch_rows: int = DEFAULT_BATCH_ROWS) -> SqlSourceConfig:
        """Settings from a resolved ``source.connection``: ``url``, or ``host``, ``port``,
        ``user``, ``password``, ``database``; plus ``table`` or ``query``, ``schema`` and
        ``batch_rows``."""
        if connection.get("table") and connection.get("query"):
            raise EngineError(f"the {scheme} source takes source.connection.table or "
                              "source.connection.query, not both; keep one")
        password = str(connection.get("password") or "")
        if connection.get("url"):
            url = str(connection["url"])
            database = url.rsplit("/", 1)[-1].split("?", 1)[0]
        else:
            if not connection.get("database"):
                raise EngineError(f"the {scheme} source needs source.connection.database (or a "
                                  "url)")
            database = str(connection["database"])
            user = quote(str(connection.get("user") or default_user), safe="")
            auth = f"{user}:{quote(password, safe='')}" if password else user
            host = str(connection.get("host") or "127.0.0.1")
            port = int(connection.get("port") or default_port)
            url = f"{scheme}://{auth}@{host}:{port}/{quote(database, safe='')}"
            params = connection.get("params") or {}
            if params:
                url += "?" + "&".join(f"{k}={quote(str(v), safe='')}" for k, v in params.items())
        rows = int(connection.get("batch_rows") or batch_rows)
        if rows < 1:
            raise EngineError("source.connection.batch_rows must be at least 1")
        secrets = tuple(s for s in (password, quote(password, safe="")) if s)
        return cls(url=url, database=database, table=connection.get("table"),
                   query=connection.get("query"), schema=connection.get("schema"),
                   cursor_field=cursor_field, lookback_days=int(lookback_days or 0),
                   inclusive=inclusive, batch_rows=rows, secrets=secrets)


# cursor values come from our own committed state; anything else is refused, not escaped
_SAFE_LITERAL = re.compile(r"^[0-9A-Za-z :.+\-_]*$")


def cursor_literal(bound: str | int | float) -> str:
    """The cursor bound as SQL text. Inlined rather than bound as a parameter: ADBC's
    PostgreSQL driver streams a parameterised query more slowly than a plain one."""
    if isinstance(bound, int | float) and not isinstance(bound, bool):
        return repr(bound)
    if not _SAFE_LITERAL.match(str(bound)):
        raise EngineError(f"the committed cursor value {bound!r} is not a number, date or "
                          "timestamp; reset the job's state or fix the cursor field")
    return f"'{bound}'"


def job_options(job: JobSpec) -> dict[str, Any]:
    """The parts of a job a database source needs besides its connection."""
    inc = job.incremental
    return {"cursor_field": inc.cursor_field if inc else None,
            "lookback_days": inc.lookback_days if inc else 0,
            "inclusive": inclusive_for(job.write_mode), "batch_rows": job.batch_size}


class Dialect(Protocol):
    """What one database brings: its driver calls, quoting and type casts."""

    name: str

    def quote(self, identifier: str) -> str: ...

    def probe(self, sql: str) -> pa.Schema:
        """The Arrow schema ``sql`` would return, without reading its rows."""

    def column(self, ref: str, field: pa.Field) -> str:
        """The select expression for column ``ref``: itself, or a cast to text."""

    def after(self, ref: str, field: pa.Field, bound: str | int | float,
              inclusive: bool) -> tuple[str, list]:
        """SQL and parameters for ``ref > bound`` (``>=`` when ``inclusive``)."""

    def literal(self, field: pa.Field, value: str | int | float) -> str:
        """``value`` as SQL of the column's type (a part's bound, from the plan)."""

    def stream(self, sql: str, params: list) -> Iterator[pa.RecordBatch]: ...

    def rows(self, sql: str) -> list[tuple]: ...

    def ping(self) -> str: ...

    def streams(self, schema: str | None) -> list[StreamInfo]: ...


class SqlSource:
    """One engine for every dialect: check, discover and bounded, incremental reads."""

    def __init__(self, config: SqlSourceConfig, dialect: Dialect):
        self.config = config
        self.dialect = dialect
        masking.register(config.secrets)  # drivers may repeat the password in their errors
        self.part: Mapping[str, Any] | None = None  # one part of a partitioned read

    starts_early = False

    def restrict(self, part: Mapping[str, Any]) -> None:
        """Read one part only: ``lo <= column < hi`` (a missing bound is open), or the rows
        where the column is NULL; see ``airflow_provider_dativo.partitions``."""
        self.part = part

    # -- errors ------------------------------------------------------------------------------
    def guarded(self, action: str, call: Callable[[], T]) -> T:
        """Run a driver call; its errors become an ``EngineError`` without the password."""
        try:
            return call()
        except DativoError:
            raise
        except Exception as exc:  # drivers raise their own hierarchies
            raise EngineError(f"{self.dialect.name} source: {action} failed: "
                              f"{masking.mask(str(exc)).strip()}. Check source.connection "
                              "(host, port, user, password, database, table or query).") from None

    # -- the interface -----------------------------------------------------------------------
    def check(self) -> CheckStatus:
        try:
            version = self.guarded("connect", self.dialect.ping)
            if self.config.table or self.config.query:
                self.guarded("probing the source", lambda: self.dialect.probe(self.base(None)))
        except EngineError as exc:
            return CheckStatus(False, str(exc))
        return CheckStatus(True, f"connected to {self.dialect.name} {version}".strip())

    def discover(self) -> list[StreamInfo]:
        return self.guarded("discover", lambda: self.dialect.streams(self.config.schema))

    def base(self, stream: str | None) -> str:
        if self.config.query:
            return self.config.query.strip().rstrip(";")
        table = self.config.table or stream
        if not table:
            raise EngineError(f"the {self.dialect.name} source needs source.connection.table, "
                              "source.connection.query or source.object")
        return f"SELECT * FROM {'.'.join(self.dialect.quote(p) for p in table.split('.'))}"

    def select(self, stream: str, state: Mapping[str, Any] | None) -> tuple[str, list, str | None]:
        """The statement to run, its parameters, and the cursor column it orders by."""
        inner = self.base(stream)
        schema = self.guarded("probing the source", lambda: self.dialect.probe(inner))
        q = self.dialect.quote("q")
        columns = ", ".join(
            f"{self.dialect.column(f'{q}.{self.dialect.quote(f.name)}', f)} AS "
            f"{self.dialect.quote(f.name)}" for f in schema)
        sql = f"SELECT {columns} FROM ({inner}) AS {q}"
        cursor = self.config.cursor_field
        params: list = []
        conditions = []
        if cursor is not None and cursor not in schema.names:
            raise EngineError(f"cursor field '{cursor}' is not a column of the "
                              f"{self.dialect.name} source ({', '.join(schema.names)}); fix "
                              "source.incremental.cursor_field")
        committed = (state or {}).get("cursor")
        if cursor is not None and committed is not None:
            bound = lookback_bound(committed, self.config.lookback_days)
            ref = f"{q}.{self.dialect.quote(cursor)}"
            where, params = self.dialect.after(ref, schema.field(cursor), bound,
                                               self.config.inclusive)
            conditions.append(f"({where} OR {ref} IS NULL)")  # NULL has no place in the order
        if self.part is not None and self.part.get("column"):
            conditions.append(self._part_condition(schema))
        if conditions:
            sql += " WHERE " + " AND ".join(conditions)
        return sql, params, cursor

    def _part_condition(self, schema: pa.Schema) -> str:
        part = self.part or {}
        column = str(part["column"])
        if column not in schema.names:
            raise EngineError(f"partition column '{column}' is not a column of the "
                              f"{self.dialect.name} source ({', '.join(schema.names)}); fix "
                              "source.partitions.column")
        ref = f"{self.dialect.quote('q')}.{self.dialect.quote(column)}"
        if part.get("null"):
            return f"{ref} IS NULL"
        terms = [f"{ref} {op} {self.dialect.literal(schema.field(column), part[key])}"
                 for key, op in (("lo", ">="), ("hi", "<")) if part.get(key) is not None]
        return " AND ".join(terms) or f"{ref} IS NOT NULL"

    def column_bounds(self, stream: str, state: Mapping[str, Any] | None,
                      column: str) -> tuple[Any, Any, bool]:
        """The smallest and largest value of ``column`` among the rows this run reads (the
        incremental bound applied), and whether any row has it NULL: one query, at plan time."""
        sql, _, _ = self.select(stream, state)
        if column not in self.guarded("probing the source", lambda: self.dialect.probe(sql)
                                      ).names:
            raise EngineError(f"partition column '{column}' is not a column of the "
                              f"{self.dialect.name} source; fix source.partitions.column")
        ref = self.dialect.quote(column)
        stmt = (f"SELECT MIN(b.{ref}), MAX(b.{ref}), "
                f"(SELECT COUNT(*) FROM (SELECT 1 FROM ({sql}) AS n WHERE n.{ref} IS NULL "
                f"LIMIT 1) AS m) FROM ({sql}) AS b")
        lo, hi, nulls = self.guarded("reading the partition column's bounds",
                                     lambda: self.dialect.rows(stmt))[0]
        return lo, hi, bool(nulls)

    def read(self, stream: str, state: Mapping[str, Any] | None) -> Iterator[ReadItem]:
        sql, params, cursor = self.select(stream, state)
        newest = (state or {}).get("cursor")
        batches = self.guarded("the query", lambda: self.dialect.stream(sql, params))
        rows = self.config.batch_rows
        while True:
            batch = self.guarded("reading rows", lambda: next(batches, None))
            if batch is None:
                break
            if cursor is not None and batch.num_rows:
                newest = later(newest, pc.max(batch.column(cursor)).as_py())
            for start in range(0, batch.num_rows, rows):
                yield batch.slice(start, rows)
        if cursor is not None:
            yield StateUpdate({"cursor": newest})


def build_streams(columns: list[tuple], keys: list[tuple], prefix: str) -> list[StreamInfo]:
    """StreamInfo per table from (table, column, type) and (table, key column) rows."""
    tables: dict[str, dict[str, str]] = {}
    for table, column, type_name in columns:
        tables.setdefault(table, {})[column] = str(type_name)
    primary: dict[str, list[str]] = {}
    for table, column in keys:
        primary.setdefault(table, []).append(column)
    return [StreamInfo(name=prefix + table, columns=cols,
                       cursor_fields=tuple(c for c, t in cols.items()
                                           if t.lower().startswith(CURSOR_TYPES)),
                       primary_key=tuple(primary.get(table, ())), supports_incremental=True)
            for table, cols in sorted(tables.items())]
