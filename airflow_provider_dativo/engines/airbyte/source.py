"""The Airbyte protocol: spec, check, discover and read over any launcher.

stdout carries newline-delimited ``AirbyteMessage`` JSON. RECORDs become Arrow batches typed
from the stream's JSON schema; STATE is handed to the runner (which commits it with the data)
only after the records before it; LOG and TRACE go to the task log, masked; a TRACE error or a
non-zero exit fails the command with the connector's own message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from airflow_provider_dativo import masking
from airflow_provider_dativo.engines.airbyte.state import AirbyteState
from airflow_provider_dativo.engines.base import (
    PROTOCOL_BATCH_ROWS,
    CheckStatus,
    PendingState,
    ReadItem,
    RecordsDone,
    StreamInfo,
)
from airflow_provider_dativo.engines.launchers import FileArg, LateFile, Launcher
from airflow_provider_dativo.engines.protocol import (
    BadLine,
    ProtocolSource,
    RecordLines,
    Session,
    started,
    state_input,
)
from airflow_provider_dativo.errors import EngineError

if TYPE_CHECKING:
    from airflow_provider_dativo.contracts.model import FieldSpec

LOG_LEVELS = {"FATAL": logging.ERROR, "ERROR": logging.ERROR, "WARN": logging.WARNING,
              "WARNING": logging.WARNING, "INFO": logging.INFO, "DEBUG": logging.DEBUG,
              "TRACE": logging.DEBUG}
CONFIG = FileArg("config.json")


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


class AirbyteSource(ProtocolSource):
    """One Airbyte connector behind a launcher, configured with the job's connection."""

    kind = "airbyte"

    def __init__(self, launcher: Launcher, config: Mapping[str, Any], *, connector: str,
                 batch_size: int = PROTOCOL_BATCH_ROWS, secrets: Sequence[str] = (),
                 cache_dir: Path | None = None, cursor_field: str | None = None,
                 sync_mode: str | None = None, fields: Sequence[str] = (),
                 nested: Sequence[FieldSpec] = ()) -> None:
        super().__init__(launcher, config, connector=connector, batch_size=batch_size,
                         secrets=secrets, cache_dir=cache_dir, fields=fields, nested=nested)
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

    def spec(self) -> dict[str, Any]:
        cached = self.cache.spec()
        if isinstance(cached, dict):
            return cached
        spec = self._expect("spec", ["spec"], {}, "SPEC").get("spec") or {}
        self.cache.save_spec(spec)
        return spec

    def config_schema(self) -> Mapping[str, Any] | None:
        return self.spec().get("connectionSpecification") or {}

    @staticmethod
    def is_secret(name: str, prop: Mapping[str, Any]) -> bool:
        return bool(prop.get("airbyte_secret"))

    def _learn_secrets(self) -> None:
        """Mask what the spec marks ``airbyte_secret`` before the config is handed over."""
        if not self._secrets_known:
            self.mask.add(masking.secret_values(
                self.config, secret_keys=masking.declared_secret_keys(self.spec())))
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
        """The connector's streams; ``fresh=False`` may answer from an earlier discover with
        the same connector install, config and contract fields (see ``connector_cache``)."""
        self._learn_secrets()
        config = self._config_file()
        if not fresh:
            cached = self.cache.catalog(config["config.json"])
            if isinstance(cached, list):
                return cached
        found = self._expect("discover", ["discover", "--config", CONFIG], config, "CATALOG")
        streams = list((found.get("catalog") or {}).get("streams") or [])
        self.cache.save_catalog(config["config.json"], streams)
        return streams

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

    def read(self, stream: str,
             state: Mapping[str, Any] | PendingState | None) -> Iterator[ReadItem]:
        _, selected = self._find(stream, lambda fresh: self.catalog(fresh=fresh),
                                 lambda found: {s["name"]: s for s in found})
        catalog = {"streams": [self.configured_stream(selected)]}
        # the connector may start before the state is known; a first run hands it an empty
        # state list, which the protocol reads as no state
        state_args, state_file = state_input(
            state, lambda known: AirbyteState(known).argument(), empty=[])
        files = {**self._config_file(), "catalog.json": orjson.dumps(catalog), **state_file}
        args: list[Any] = ["read", "--config", CONFIG, "--catalog", FileArg("catalog.json"),
                           *state_args]

        def committed() -> AirbyteState:
            return AirbyteState(state.wait() if isinstance(state, PendingState) else state)

        yield from self._read(args, files, stream, selected.get("json_schema") or {}, committed)

    def _read(self, args: list[Any], files: dict[str, bytes | LateFile], stream: str,
              json_schema: Mapping[str, Any],
              committed: Callable[[], AirbyteState]) -> Iterator[ReadItem]:
        progress: AirbyteState | None = None
        session = self._session("read")
        # how the Airbyte CDK writes a record of this stream; such lines are parsed in bulk,
        # any other spelling takes the general path below
        prefix = b'{"type":"RECORD","record":{"stream":' + orjson.dumps(stream) + b',"data":{'
        with started(session.messages(args, files, passthrough=prefix)) as messages:
            from airflow_provider_dativo.engines.jsonrecords import ProtocolBatches

            out = ProtocolBatches(json_schema, self.batch_size, self.connector, keep=self.fields,
                                  envelope=("record", "data"), nested=self.nested,
                                  stream=stream)
            done = False  # the connector reported the stream COMPLETE
            for message in messages:
                if isinstance(message, BadLine):
                    out.reject(message.raw, message.reason)
                    continue
                if done and (isinstance(message, RecordLines) or message["type"] == "RECORD"):
                    raise EngineError(
                        f"{self.connector} sent a RECORD after reporting stream '{stream}' "
                        "COMPLETE; the connector is broken, nothing was committed")
                if isinstance(message, RecordLines):
                    yield from out.add_lines(message.first, message.lines)
                    continue
                kind = message["type"]
                if kind == "TRACE" and _completes(message, stream):
                    # a connector spends a while ending after its last record (faker: a quarter
                    # of a second); the runner finishes its files meanwhile
                    self._handle(session, message)
                    yield from out.flush()
                    yield RecordsDone()
                    done = True
                elif kind == "RECORD":
                    record = message.get("record")
                    if (not isinstance(record, Mapping)
                            or not isinstance(record.get("data"), Mapping)):
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
                    if progress is None:  # a connector sends state only after it read its own
                        progress = committed()
                    if progress.update(message.get("state") or {}):
                        out.checkpoint(progress.saved() or {})
                else:
                    self._handle(session, message)
        yield from out.flush()


def _completes(message: Mapping[str, Any], stream: str) -> bool:
    """Whether a TRACE message reports ``stream`` COMPLETE (no more records of it follow)."""
    trace = message.get("trace") or {}
    status = trace.get("stream_status") if trace.get("type") == "STREAM_STATUS" else None
    if not isinstance(status, Mapping) or status.get("status") != "COMPLETE":
        return False
    return (status.get("stream_descriptor") or {}).get("name") == stream
