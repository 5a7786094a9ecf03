"""A small Singer tap on a real PostgreSQL table that behaves as pipelinewise-tap-postgres does.

- ``--discover`` prints one stream per table of the ``public`` schema: ``table-key-properties``,
  ``schema-name``, ``database-name``, ``is-view`` and ``valid-replication-keys`` (its timestamp
  and integer columns; left out with ``advertise_keys: false``, as the real tap leaves it out)
  at the stream level, ``inclusion`` and ``sql-datatype`` per column.
- A sync reads the stream-level ``replication-method`` and ``replication-key`` of the selected
  streams. A method other than FULL_TABLE, INCREMENTAL or LOG_BASED fails, and so does
  INCREMENTAL without a ``replication-key``: the process exits non-zero as the real tap does.
- INCREMENTAL reads rows whose key is at or above the bookmark of ``--state`` (``>=``, so the
  row at the bookmark is sent again on purpose), minus the config's ``lookback_seconds`` if
  set (late rows a little older than the bookmark are re-read, as taps with a lookback window
  do), in key order, and ends with a STATE whose bookmark is the last key sent. A changed key
  or method resets the stream's bookmark first.
"""

import json
import sys
from datetime import date, datetime
from decimal import Decimal

import psycopg

KEY_TYPES = ("timestamp with time zone", "timestamp without time zone", "date", "integer",
             "bigint")


def emit(message):
    print(json.dumps(message, default=str), flush=True)


def connect(config):
    return psycopg.connect(host=config["host"], port=config["port"], user=config["user"],
                           dbname=config["dbname"])


def json_type(sql_type, nullable):
    if sql_type in ("integer", "bigint", "smallint"):
        schema = {"type": ["integer"]}
    elif sql_type in ("numeric", "double precision", "real"):
        schema = {"type": ["number"]}
    elif sql_type == "boolean":
        schema = {"type": ["boolean"]}
    elif sql_type.startswith("timestamp") or sql_type == "date":
        schema = {"type": ["string"], "format": "date-time"}
    else:
        schema = {"type": ["string"]}
    if nullable:
        schema["type"].insert(0, "null")
    return schema


def discover(config):
    with connect(config) as con:
        columns = con.execute(
            "SELECT table_name, column_name, data_type, is_nullable = 'YES' "
            "FROM information_schema.columns WHERE table_schema = 'public' "
            "ORDER BY table_name, ordinal_position").fetchall()
        keys = con.execute(
            "SELECT tc.table_name, kcu.column_name FROM information_schema.table_constraints tc "
            "JOIN information_schema.key_column_usage kcu "
            "ON tc.constraint_name = kcu.constraint_name AND tc.table_schema = kcu.table_schema "
            "WHERE tc.table_schema = 'public' AND tc.constraint_type = 'PRIMARY KEY'").fetchall()
    tables = {}
    for table, column, sql_type, nullable in columns:
        tables.setdefault(table, []).append((column, sql_type, nullable))
    streams = []
    for table, cols in tables.items():
        primary = [c for t, c in keys if t == table]
        root = {"table-key-properties": primary, "schema-name": "public",
                "database-name": config["dbname"], "is-view": False}
        if config.get("advertise_keys", True):  # false: as pipelinewise-tap-postgres itself
            root["valid-replication-keys"] = [c for c, t, _ in cols if t in KEY_TYPES]
        metadata = [{"breadcrumb": [], "metadata": root}]
        for column, sql_type, _ in cols:
            metadata.append({"breadcrumb": ["properties", column], "metadata": {
                "inclusion": "automatic" if column in primary else "available",
                "sql-datatype": sql_type, "selected-by-default": True}})
        streams.append({"tap_stream_id": f"public-{table}", "table_name": table,
                        "stream": table, "metadata": metadata,
                        "schema": {"type": "object", "properties": {
                            c: json_type(t, n) for c, t, n in cols}}})
    return {"streams": streams}


def root_metadata(stream):
    return next(m["metadata"] for m in stream["metadata"] if not m["breadcrumb"])


def value(v):
    if isinstance(v, datetime | date):
        return v.isoformat()
    if isinstance(v, Decimal):
        return float(v)
    return v


def sync_stream(con, config, stream, state):
    meta = root_metadata(stream)
    method = meta.get("replication-method", config.get("default_replication_method"))
    if method not in ("LOG_BASED", "FULL_TABLE", "INCREMENTAL"):
        raise Exception(f"Unrecognized replication_method {method}")
    key = meta.get("replication-key")
    sid = stream["tap_stream_id"]
    bookmarks = state.setdefault("bookmarks", {})
    bookmark = bookmarks.get(sid, {})
    # as the real tap does: a changed method or key starts the stream over
    if bookmark.get("last_replication_method") not in (None, method) or (
            method == "INCREMENTAL" and bookmark.get("replication_key") != key):
        bookmark = {}
    bookmark["last_replication_method"] = method
    bookmarks[sid] = bookmark
    columns = list(stream["schema"]["properties"])
    quoted = ", ".join(f'"{c}"' for c in columns)
    table = stream["table_name"]
    emit({"type": "SCHEMA", "stream": sid, "schema": stream["schema"],
          "key_properties": meta.get("table-key-properties", []),
          **({"bookmark_properties": [key]} if method == "INCREMENTAL" else {})})
    if method == "INCREMENTAL":
        if not key:
            raise Exception(f"No replication-key metadata for INCREMENTAL stream {sid}")
        props = {tuple(m["breadcrumb"]): m["metadata"] for m in stream["metadata"]}
        sql_type = props[("properties", key)]["sql-datatype"]  # KeyError as the tap's crash
        bookmark["replication_key"] = key
        start = bookmark.get("replication_key_value")
        where, params = "", []
        if start is not None:
            where = f'WHERE "{key}" >= %s::{sql_type}'
            params = [start]
            if config.get("lookback_seconds"):
                where += f" - interval '{int(config['lookback_seconds'])} seconds'"
        sql = f'SELECT {quoted} FROM "{table}" {where} ORDER BY "{key}" ASC'
    else:
        sql, params = f'SELECT {quoted} FROM "{table}"', []
    print(f"select statement: {sql} {params}", file=sys.stderr)
    sent = 0
    for row in con.execute(sql, params):
        record = {c: value(v) for c, v in zip(columns, row, strict=True)}
        emit({"type": "RECORD", "stream": sid, "record": record})
        sent += 1
        # the bookmark follows the rows sent; a lookback re-read never moves it back
        if method == "INCREMENTAL" and record[key] is not None and (
                start is None or row[columns.index(key)] >= _parse(start)):
            bookmark["replication_key_value"] = record[key]
    print(f"sent {sent} rows of {sid} ({method})", file=sys.stderr)
    emit({"type": "STATE", "value": state})


def _parse(text):
    return datetime.fromisoformat(text) if isinstance(text, str) else text


def main(argv):
    args = dict(zip(argv[::2], argv[1::2], strict=False))
    with open(args["--config"]) as handle:
        config = json.load(handle)
    if "--discover" in argv:
        print(json.dumps(discover(config), indent=2))
        return 0
    with open(args["--catalog"]) as handle:
        catalog = json.load(handle)
    state = {}
    if "--state" in args:
        with open(args["--state"]) as handle:
            state = json.load(handle)
    selected = [s for s in catalog["streams"] if root_metadata(s).get("selected")]
    print(f"selected streams: {[s['tap_stream_id'] for s in selected]}", file=sys.stderr)
    with connect(config) as con:
        for stream in selected:
            sync_stream(con, config, stream, state)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
