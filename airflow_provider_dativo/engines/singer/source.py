"""The Singer protocol: a tap with ``--config``, ``--discover``, ``--catalog`` and ``--state``.

stdout carries SCHEMA, RECORD, STATE (and BATCH, ACTIVATE_VERSION) messages; stderr is the tap's
log. Records become Arrow batches typed from the stream's SCHEMA message; the last STATE is
handed to the runner after the records before it, and given back as ``--state`` next run.
"""

from __future__ import annotations

import gzip
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

import orjson

from airflow_provider_dativo import masking
from airflow_provider_dativo.engines.base import (
    PROTOCOL_BATCH_ROWS,
    CheckStatus,
    PendingState,
    ReadItem,
    StreamInfo,
)
from airflow_provider_dativo.engines.launchers import FileArg, LateFile, Launcher
from airflow_provider_dativo.engines.protocol import (
    BadLine,
    ProtocolSource,
    RecordLines,
    Session,
    log,
    started,
    state_input,
)
from airflow_provider_dativo.errors import EngineError

if TYPE_CHECKING:
    from airflow_provider_dativo.contracts.model import FieldSpec

CONFIG = FileArg("config.json")


def stream_id(entry: Mapping[str, Any]) -> str:
    return str(entry.get("tap_stream_id") or entry.get("stream"))


def _root_metadata(entry: Mapping[str, Any]) -> dict[str, Any]:
    for item in entry.get("metadata") or ():
        if not item.get("breadcrumb"):
            return dict(item.get("metadata") or {})
    return {}


@dataclass(frozen=True)
class Replication:
    """How the catalog asks a tap to read its stream: the stream-level ``replication-method``
    and, for INCREMENTAL, the ``replication-key`` the tap bookmarks in its STATE."""

    method: str  # INCREMENTAL or FULL_TABLE
    key: str | None = None


FULL_TABLE = Replication("FULL_TABLE")


def valid_keys(entry: Mapping[str, Any]) -> tuple[str, ...]:
    """The replication keys a discovered stream offers: ``valid-replication-keys`` metadata,
    and the legacy ``replication_key`` of the entry (the Singer SDK writes both)."""
    meta = _root_metadata(entry)
    found = meta.get("valid-replication-keys") or ()
    found = [found] if isinstance(found, str) else list(found)
    if isinstance(entry.get("replication_key"), str):
        found.append(entry["replication_key"])
    return tuple(dict.fromkeys(str(k) for k in found))


def _is_database(entry: Mapping[str, Any]) -> bool:
    # database taps (pipelinewise-tap-postgres, tap-mysql) name no valid keys, as any column
    # can be the replication-key; they mark a table by the spec's database metadata instead
    if {"database-name", "is-view", "row-count"} & _root_metadata(entry).keys():
        return True
    return any((m.get("metadata") or {}).get("sql-datatype") for m in entry.get("metadata") or ()
               if m.get("breadcrumb"))


def supports_incremental(entry: Mapping[str, Any]) -> bool:
    """Whether the tap's discovered metadata lets the stream be read INCREMENTAL."""
    forced = _root_metadata(entry).get("forced-replication-method")
    if forced is not None and forced != "INCREMENTAL":
        return False
    return (forced == "INCREMENTAL" or entry.get("replication_method") == "INCREMENTAL"
            or bool(valid_keys(entry)) or _is_database(entry))


def replication(entry: Mapping[str, Any], key: str | None, *, origin: str,
                connector: str) -> Replication:
    """The replication the job asks of ``entry``, checked against what the tap discovered.

    ``key`` comes from ``origin`` (the job's ``source.incremental.cursor_field`` or the
    recipe's ``options.replication_key``); without one the stream is read FULL_TABLE unless
    the tap forces INCREMENTAL, which then keeps the key the tap discovered.
    """
    name = stream_id(entry)
    forced = _root_metadata(entry).get("forced-replication-method")
    offered = valid_keys(entry)
    if key is None:
        if forced != "INCREMENTAL":
            return FULL_TABLE
        if len(offered) == 1:
            return Replication("INCREMENTAL", offered[0])
        raise EngineError(f"stream '{name}' of {connector} is INCREMENTAL only and offers "
                          f"replication keys {', '.join(offered) or '(none named)'}; set "
                          "source.incremental.cursor_field in the job to one of them")
    # a stream whose metadata says nothing is still asked: taps older than the metadata
    # conventions keep their own bookmarks
    if forced is not None and forced != "INCREMENTAL":
        raise EngineError(f"stream '{name}' of {connector} cannot be read INCREMENTAL: the tap "
                          f"forces {forced} (forced-replication-method); remove {origin}")
    if offered and key not in offered:
        raise EngineError(f"{origin} is '{key}', which stream '{name}' of {connector} does not "
                          f"offer as a replication key (valid-replication-keys: "
                          f"{', '.join(offered)}); set it to one of them")
    props = (entry.get("schema") or {}).get("properties") or {}
    if props and key not in props:
        raise EngineError(f"{origin} is '{key}', which is not a field of stream '{name}' of "
                          f"{connector} (its fields: {', '.join(props)}); fix {origin}")
    return Replication("INCREMENTAL", key)


def _configured(entry: dict[str, Any], how: Replication) -> dict[str, Any]:
    """``entry`` as its tap reads a selected stream: the Singer spec's stream-level metadata
    (``replication-method``, ``replication-key``: what pipelinewise taps read), the same as
    the entry's legacy fields (what Singer SDK taps read first), and the key's own field
    selected, since a tap bookmarks only a field it emits."""
    metadata = [dict(m) for m in entry["metadata"]]
    root = metadata[0]["metadata"]
    root.pop("replication-key", None)
    root["replication-method"] = how.method
    entry["replication_method"] = how.method
    entry.pop("replication_key", None)
    if how.key is None:
        return {**entry, "metadata": metadata}
    root["replication-key"] = entry["replication_key"] = how.key
    crumb = ["properties", how.key]
    field = next((m for m in metadata if list(m.get("breadcrumb") or ()) == crumb), None)
    if field is None:
        metadata.append({"breadcrumb": crumb, "metadata": {"selected": True}})
    elif (field.get("metadata") or {}).get("inclusion") != "automatic":
        field["metadata"] = {**(field.get("metadata") or {}), "selected": True}
    return {**entry, "metadata": metadata}


def select(catalog: Mapping[str, Any], wanted: str,
           how: Replication = FULL_TABLE) -> dict[str, Any]:
    """The discovered catalog with only ``wanted`` selected, read as ``how`` says; the rest of
    the discovered metadata (``table-key-properties``, ...) is kept as the tap wrote it."""
    streams = []
    for entry in catalog.get("streams") or ():
        entry = dict(entry)
        chosen = stream_id(entry) == wanted
        metadata = [dict(m) for m in entry.get("metadata") or () if m.get("breadcrumb")]
        metadata.insert(0, {"breadcrumb": [],
                            "metadata": {**_root_metadata(entry), "selected": chosen}})
        entry["metadata"] = metadata
        entry["selected"] = chosen  # older taps read the flag from the entry itself
        streams.append(_configured(entry, how) if chosen else entry)
    return {"streams": streams}


def stream_info(entry: Mapping[str, Any]) -> StreamInfo:
    meta = _root_metadata(entry)
    props = (entry.get("schema") or {}).get("properties") or {}
    keys = entry.get("key_properties") or meta.get("table-key-properties") or ()
    return StreamInfo(
        name=stream_id(entry),
        columns={n: "|".join(p["type"]) if isinstance(p.get("type"), list)
                 else str(p.get("type", "?")) for n, p in props.items()
                 if isinstance(p, Mapping)},
        cursor_fields=valid_keys(entry), primary_key=tuple(keys),
        supports_incremental=supports_incremental(entry))


def batch_lines(message: Mapping[str, Any]) -> Iterator[bytes]:
    """Lines of the local JSONL files a BATCH message points to."""
    encoding = message.get("encoding") or {}
    if encoding.get("format", "jsonl") != "jsonl":
        raise EngineError(f"BATCH format '{encoding.get('format')}' is not supported (jsonl is)")
    for uri in message.get("manifest") or ():
        parsed = urlparse(str(uri))
        if parsed.scheme not in ("", "file"):
            raise EngineError(f"BATCH file {uri}: only local files are supported")
        path = unquote(parsed.path)
        opener = gzip.open if encoding.get("compression") == "gzip" else open
        with opener(path, "rb") as handle:
            yield from handle


class SingerSource(ProtocolSource):
    kind = "singer"

    def __init__(self, launcher: Launcher, config: Mapping[str, Any], *, connector: str,
                 batch_size: int = PROTOCOL_BATCH_ROWS, secrets: Sequence[str] = (),
                 catalog_flag: str = "--catalog", cache_dir: Path | None = None,
                 fields: Sequence[str] = (), replication_key: str | None = None,
                 replication_origin: str = "the replication key",
                 nested: Sequence[FieldSpec] = ()) -> None:
        super().__init__(launcher, config, connector=connector, batch_size=batch_size,
                         secrets=secrets, cache_dir=cache_dir, fields=fields, nested=nested)
        self.catalog_flag = catalog_flag
        # the field the tap bookmarks (None: FULL_TABLE), and the config that names it
        self.replication_key = replication_key
        self.replication_origin = replication_origin

    def catalog(self, *, fresh: bool = True) -> dict[str, Any]:
        """The tap's catalog; ``fresh=False`` may answer from an earlier discover with the same
        tap install, config and contract fields (see ``connector_cache``)."""
        files = self._config_file()
        if not fresh:
            cached = self.cache.catalog(files["config.json"])
            if isinstance(cached, dict):
                return cached
        session = Session(self.launcher, self.mask, self.connector, "--discover")
        text = session.output(["--config", CONFIG, "--discover"], files)
        try:
            catalog = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise EngineError(f"{self.connector} --discover did not print a JSON catalog "
                              f"({exc.msg})") from exc
        if not isinstance(catalog, dict) or not isinstance(catalog.get("streams"), list):
            raise EngineError(f"{self.connector} --discover printed no 'streams' list")
        self.cache.save_catalog(files["config.json"], catalog)
        return catalog

    def discover(self) -> list[StreamInfo]:
        return [stream_info(e) for e in self.catalog()["streams"]]

    def config_schema(self) -> Mapping[str, Any] | None:
        """The settings of ``--about --format json`` (Singer SDK taps); None for taps without
        ``--about``, which publish no spec."""
        session = Session(self.launcher, self.mask, self.connector, "--about")
        try:
            text = session.output(["--about", "--format", "json"], {})
            about = orjson.loads(text)
        except (EngineError, orjson.JSONDecodeError):
            return None
        settings = about.get("settings") if isinstance(about, dict) else None
        return settings if isinstance(settings, dict) else None

    @staticmethod
    def is_secret(name: str, prop: Mapping[str, Any]) -> bool:
        # the Singer SDK marks secrets with secret/writeOnly; older taps only by their names
        return bool(prop.get("secret") or prop.get("writeOnly")) or masking.is_secret_name(name)

    def check(self) -> CheckStatus:
        # Singer has no check command; a discover proves the config and the connection
        streams = self.discover()
        return CheckStatus(ok=True, message=f"discover found {len(streams)} stream(s): "
                           + ", ".join(s.name for s in streams))

    def read(self, stream: str,
             state: Mapping[str, Any] | PendingState | None) -> Iterator[ReadItem]:
        catalog, entry = self._find(
            stream, lambda fresh: self.catalog(fresh=fresh),
            lambda found: {stream_id(e): e for e in found["streams"]})
        how = replication(entry, self.replication_key,
                          origin=self.replication_origin, connector=self.connector)
        log.info("[%s] reading stream %s %s%s", self.connector, stream, how.method,
                 f" by {how.key}" if how.key else "")
        # the tap may start before the state is known; a first run hands it an empty object,
        # which Singer taps read as no bookmarks; its STATE then carries the bookmark
        state_args, state_file = state_input(
            state, lambda known: (known or {}).get("singer"), empty={})
        files = {**self._config_file(), "catalog.json": orjson.dumps(select(catalog, stream, how)),
                 **state_file}
        args: list[Any] = ["--config", CONFIG, self.catalog_flag, FileArg("catalog.json"),
                           *state_args]
        yield from self._read(args, files, stream, entry.get("schema") or {})

    def _read(self, args: list[Any], files: dict[str, bytes | LateFile], stream: str,
              schema: Mapping[str, Any]) -> Iterator[ReadItem]:
        session = Session(self.launcher, self.mask, self.connector, "sync")
        # how the Singer SDK writes a record of this stream; such lines are parsed in bulk,
        # any other spelling takes the general path below
        prefix = b'{"type":"RECORD","stream":' + orjson.dumps(stream) + b',"record":{'
        with started(session.messages(args, files, passthrough=prefix)) as messages:
            from airflow_provider_dativo.engines.jsonrecords import ProtocolBatches

            out = ProtocolBatches(schema, self.batch_size, self.connector, keep=self.fields,
                                  envelope=("record",), nested=self.nested, stream=stream)

            def own(name: Any) -> None:
                if name != stream:
                    raise EngineError(
                        f"{self.connector} sent data for stream '{name}', which the catalog does "
                        f"not select (it selects '{stream}'); nothing was committed")

            for message in messages:
                if isinstance(message, RecordLines):
                    yield from out.add_lines(message.first, message.lines)
                    continue
                if isinstance(message, BadLine):
                    out.reject(message.raw, message.reason)
                    continue
                kind = message["type"]
                if kind == "RECORD":
                    record = message.get("record")
                    if not isinstance(record, dict):
                        out.reject(orjson.dumps(message).decode(), "RECORD without a record object")
                        continue
                    own(message.get("stream"))
                    yield from out.add(record)
                elif kind == "SCHEMA":
                    own(message.get("stream"))
                    yield from out.reschema(message.get("schema") or schema)
                elif kind == "STATE":
                    out.checkpoint({"singer": message.get("value")})
                elif kind == "BATCH":
                    own(message.get("stream"))
                    for number, line in enumerate(batch_lines(message), 1):
                        if line.strip():
                            yield from out.add_text(f"BATCH file line {number}", line)
                else:  # ACTIVATE_VERSION and future types carry no rows
                    session.log(logging.DEBUG, f"{kind} message")
        yield from out.flush()
