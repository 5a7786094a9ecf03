"""The Airbyte protocol: spec, check, discover and read over any launcher.

stdout carries newline-delimited ``AirbyteMessage`` JSON. RECORDs become Arrow batches typed
from the stream's JSON schema; STATE is handed to the runner (which commits it with the data)
only after the records before it; LOG and TRACE go to the task log, masked; a TRACE error or a
non-zero exit fails the command with the connector's own message.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from airflow_provider_dativo.engines.airbyte.state import AirbyteState
from airflow_provider_dativo.engines.base import (
    CheckStatus,
    ReadItem,
    StreamInfo,
)
from airflow_provider_dativo.engines.jsonrecords import ProtocolBatches
from airflow_provider_dativo.engines.launchers import FileArg, Launcher, Masker
from airflow_provider_dativo.engines.protocol import BadLine, Session
from airflow_provider_dativo.errors import EngineError

LOG_LEVELS = {"FATAL": logging.ERROR, "ERROR": logging.ERROR, "WARN": logging.WARNING,
              "WARNING": logging.WARNING, "INFO": logging.INFO, "DEBUG": logging.DEBUG,
              "TRACE": logging.DEBUG}
CONFIG = FileArg("config.json")
CATALOG_TTL_S = 3600.0  # a discover this recent is reused by reads


def secret_keys(spec: Mapping[str, Any]) -> set[str]:
    """Names of every property the spec marks ``airbyte_secret``, at any depth."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            for name, prop in (node.get("properties") or {}).items():
                if isinstance(prop, Mapping) and prop.get("airbyte_secret"):
                    found.add(name)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(spec.get("connectionSpecification") or spec)
    return found


def values_under(config: Any, keys: set[str]) -> list[str]:
    out: list[str] = []
    if isinstance(config, Mapping):
        for name, value in config.items():
            if name in keys and isinstance(value, str | int | float):
                out.append(str(value))
            else:
                out += values_under(value, keys)
    elif isinstance(config, list):
        for value in config:
            out += values_under(value, keys)
    return out


def stream_info(stream: Mapping[str, Any]) -> StreamInfo:
    props = (stream.get("json_schema") or {}).get("properties") or {}
    columns = {name: _type_text(p) for name, p in props.items() if isinstance(p, Mapping)}
    cursor = stream.get("default_cursor_field") or []
    return StreamInfo(
        name=stream["name"],
        columns=columns,
        cursor_fields=(".".join(cursor),) if cursor else (),
        primary_key=tuple(".".join(k) for k in stream.get("source_defined_primary_key") or ()),
        supports_incremental="incremental" in (stream.get("supported_sync_modes") or ()))


def _type_text(prop: Mapping[str, Any]) -> str:
    declared = prop.get("type", "?")
    text = declared if isinstance(declared, str) else "|".join(declared)
    fmt = prop.get("airbyte_type") or prop.get("format")
    return f"{text} ({fmt})" if fmt else text


class AirbyteSource:
    """One Airbyte connector behind a launcher, configured with the job's connection."""

    def __init__(self, launcher: Launcher, config: Mapping[str, Any], *, connector: str,
                 batch_size: int = 65536, secrets: Sequence[str] = (),
                 cache_dir: Path | None = None, cursor_field: str | None = None,
                 sync_mode: str | None = None) -> None:
        self.launcher = launcher
        self.config = dict(config)
        self.connector = connector
        self.batch_size = batch_size
        self.mask = Masker(secrets)
        self.cache_dir = cache_dir
        self.cursor_field = cursor_field
        self.sync_mode = sync_mode
        self._secrets_known = False

    # -- commands --------------------------------------------------------------------------
    def _session(self, command: str) -> Session:
        return Session(self.launcher, self.mask, self.connector, command)

    def _handle(self, session: Session, message: Mapping[str, Any]) -> None:
        """LOG, TRACE and CONTROL: to the task log, never to the data."""
        kind = message["type"]
        if kind == "LOG":
            entry = message.get("log") or {}
            session.log(LOG_LEVELS.get(str(entry.get("level", "INFO")).upper(), logging.INFO),
                        str(entry.get("message", ""))[:4000])
        elif kind == "TRACE":
            trace = message.get("trace") or {}
            if trace.get("type") == "ERROR":
                error = trace.get("error") or {}
                text = str(error.get("message") or error.get("internal_message") or "error")
                failure = error.get("failure_type")
                session.log(logging.ERROR, text)
                session.fail(f"{text} ({failure})" if failure else text)
            elif trace.get("type") == "ESTIMATE":
                estimate = trace.get("estimate") or {}
                session.log(logging.INFO, f"estimate for {estimate.get('name')}: "
                            f"{estimate.get('row_estimate')} rows")
            else:
                session.log(logging.DEBUG, f"trace {trace.get('type')}")
        elif kind == "CONTROL":
            # a connector asking to persist new config (refreshed tokens) is not applied: the
            # job's connection is the config, kept in the config repo
            session.log(logging.WARNING, "connector sent a CONTROL message (config update); "
                        "dativo does not persist connector config changes")

    def _expect(self, command: str, args: list[Any], files: dict[str, bytes],
                wanted: str) -> dict[str, Any]:
        session = self._session(command)
        found: dict[str, Any] | None = None
        for message in session.messages(args, files):
            if isinstance(message, BadLine):
                session.log(logging.WARNING, message.reason)
            elif message["type"] == wanted and found is None:
                found = message
            else:
                self._handle(session, message)
        if found is None:
            raise EngineError(f"{self.connector} {command} ended without a {wanted} message")
        return found

    def _config_file(self) -> dict[str, bytes]:
        return {"config.json": orjson.dumps(self.config)}

    def spec(self) -> dict[str, Any]:
        cache = None
        if self.cache_dir is not None:
            digest = hashlib.sha256(self.launcher.describe().encode()).hexdigest()[:16]
            cache = self.cache_dir / f"airbyte-spec-{digest}.json"
            if cache.exists():
                return json.loads(cache.read_text())
        spec = self._expect("spec", ["spec"], {}, "SPEC").get("spec") or {}
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps(spec))
        return spec

    def _learn_secrets(self) -> None:
        """Mask what the spec marks ``airbyte_secret`` before the config is handed over."""
        if not self._secrets_known:
            self.mask.add(values_under(self.config, secret_keys(self.spec())))
            self._secrets_known = True

    def check(self) -> CheckStatus:
        self._learn_secrets()
        status = self._expect("check", ["check", "--config", CONFIG], self._config_file(),
                              "CONNECTION_STATUS").get("connectionStatus") or {}
        message = self.mask(str(status.get("message") or ""))
        ok = status.get("status") == "SUCCEEDED"
        return CheckStatus(ok=ok, message=message or ("connection succeeded" if ok else
                                                      "connection failed"))

    def catalog(self, *, fresh: bool = True) -> list[dict[str, Any]]:
        """The connector's streams; ``fresh=False`` may answer from a recent discover.

        A read reuses the catalog of a discover younger than CATALOG_TTL_S with the same
        connector and config, which saves starting the connector once more per run.
        """
        self._learn_secrets()
        cache = self._catalog_cache()
        if (not fresh and cache is not None and cache.exists()
                and time.time() - cache.stat().st_mtime < CATALOG_TTL_S):
            return list(json.loads(cache.read_text()))
        found = self._expect("discover", ["discover", "--config", CONFIG], self._config_file(),
                             "CATALOG")
        streams = list((found.get("catalog") or {}).get("streams") or [])
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(streams))
            tmp.replace(cache)  # atomic: a concurrent reader never sees half a catalog
        return streams

    def _catalog_cache(self) -> Path | None:
        if self.cache_dir is None:
            return None
        # the config is part of the key (it decides what a connector offers); only a digest
        # of it is kept, never the values
        key = hashlib.sha256(self.launcher.describe().encode() + self._config_file()[
            "config.json"]).hexdigest()[:24]
        return self.cache_dir / f"airbyte-catalog-{key}.json"

    def discover(self) -> list[StreamInfo]:
        return [stream_info(s) for s in self.catalog()]

    # -- read ------------------------------------------------------------------------------
    def configured_stream(self, stream: Mapping[str, Any]) -> dict[str, Any]:
        modes = stream.get("supported_sync_modes") or ["full_refresh"]
        cursor = list(stream.get("default_cursor_field") or ())
        if not stream.get("source_defined_cursor") and self.cursor_field:
            cursor = self.cursor_field.split(".")
        incremental = "incremental" in modes and (cursor or stream.get("source_defined_cursor"))
        mode = self.sync_mode or ("incremental" if incremental else "full_refresh")
        if mode not in modes:
            raise EngineError(f"stream '{stream['name']}' of {self.connector} does not support "
                              f"sync mode '{mode}' (supported: {', '.join(modes)})")
        configured: dict[str, Any] = {"stream": dict(stream), "sync_mode": mode,
                                      "destination_sync_mode": "append"}
        if mode == "incremental" and cursor:
            configured["cursor_field"] = cursor
        if stream.get("source_defined_primary_key"):
            configured["primary_key"] = stream["source_defined_primary_key"]
        return configured

    def read(self, stream: str, state: Mapping[str, Any] | None) -> Iterator[ReadItem]:
        streams = {s["name"]: s for s in self.catalog(fresh=False)}
        if stream not in streams:  # the connector may have gained it since the cached discover
            streams = {s["name"]: s for s in self.catalog()}
        if stream not in streams:
            raise EngineError(f"{self.connector} has no stream '{stream}' (it offers: "
                              f"{', '.join(sorted(streams)) or 'none'}); fix the job's "
                              "source.object or the asset's object")
        selected = streams[stream]
        catalog = {"streams": [self.configured_stream(selected)]}
        progress = AirbyteState(state)
        files = {**self._config_file(), "catalog.json": orjson.dumps(catalog)}
        args: list[Any] = ["read", "--config", CONFIG, "--catalog", FileArg("catalog.json")]
        previous = progress.argument()
        if previous is not None:
            files["state.json"] = orjson.dumps(previous)
            args += ["--state", FileArg("state.json")]
        yield from self._read(args, files, stream, selected.get("json_schema") or {}, progress)

    def _read(self, args: list[Any], files: dict[str, bytes], stream: str,
              json_schema: Mapping[str, Any], progress: AirbyteState) -> Iterator[ReadItem]:
        session = self._session("read")
        out = ProtocolBatches(json_schema, self.batch_size, self.connector)
        for message in session.messages(args, files):
            if isinstance(message, BadLine):
                out.reject(message.raw, message.reason)
                continue
            kind = message["type"]
            if kind == "RECORD":
                record = message.get("record")
                if not isinstance(record, Mapping) or not isinstance(record.get("data"), Mapping):
                    out.reject(orjson.dumps(message).decode(), "RECORD without a data object")
                    continue
                name = record.get("stream")
                if name != stream:
                    raise EngineError(
                        f"{self.connector} sent a RECORD for stream '{name}', which the "
                        f"configured catalog does not select (it selects '{stream}'); the "
                        "connector is broken or misconfigured, nothing was committed")
                yield from out.add(record["data"])
            elif kind == "STATE":
                if progress.update(message.get("state") or {}):
                    out.checkpoint(progress.saved() or {})
            else:
                self._handle(session, message)
        yield from out.flush()
