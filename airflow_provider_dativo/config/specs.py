"""The typed, immutable specs a job resolves into.

Connection settings stay as written, ``${VAR}`` references included; they are resolved by
``JobSpec.resolved_source_connection()`` / ``resolved_target_connection()`` at run time only,
which also hand every secret they resolve to the masker, before anything can log it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from airflow_provider_dativo import masking
from airflow_provider_dativo.config import airflow_refs, env_refs
from airflow_provider_dativo.config.governance import Governance
from airflow_provider_dativo.config.scheduling import SchedulingSpec
from airflow_provider_dativo.config.yaml_loader import join_path, parent_path

if TYPE_CHECKING:
    from airflow_provider_dativo.config.partitions import PartitionSpec
    from airflow_provider_dativo.contracts import Contract


# freeze, thaw and merge copy settings on every job a DAG parse builds, so they walk on their
# own rather than through nested.rebuild, which builds each value's path for rules that need it


def freeze(value: Any) -> Any:
    """Deeply immutable view: mappings become read-only, lists become tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """Plain dicts and lists again, for code that wants to build on a frozen value."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Recursive merge: the job's settings override the recipe's defaults key by key."""
    out = thaw(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = thaw(value)
    return out


@dataclass(frozen=True)
class ConnectionLayer:
    """One file's share of a merged connection: the settings it writes, and where."""

    file: str
    prefix: str  # where the connection mapping sits in the file: connection, source.connection
    values: Mapping[str, Any]
    lines: Mapping[str, int] = field(default_factory=dict)  # the field paths and their lines

    def holds(self, rel: str) -> bool:
        """Whether this layer writes the value at ``rel`` (a path inside the connection)."""
        item: Any = self.values
        for token in re.findall(r"\[(\d+)\]|([^.\[\]]+)", rel):
            index, key = token
            if isinstance(item, Mapping) and not index and key in item:
                item = item[key]
            elif isinstance(item, list | tuple) and index and int(index) < len(item):
                item = item[int(index)]
            else:
                return False
        return True

    def where(self, rel: str) -> tuple[str, int | None, str]:
        path = self.prefix + rel if rel[:1] == "[" else join_path(self.prefix, rel)
        probe = path
        while probe and probe not in self.lines:
            probe = parent_path(probe)
        return self.file, self.lines.get(probe), path


def resolve_layers(layers: Sequence[ConnectionLayer], env: Mapping[str, str] | None = None,
                   merged: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The layers merged (later ones win key by key) with their ``${VAR}`` references
    resolved; a missing variable is reported in the file and line that references it.

    A job passes its own merged connection as ``merged``: that stays the one source of the
    values, and the layers only say where each came from."""
    if merged is None:
        merged = {}
        for layer in layers:
            merged = merge(merged, layer.values)

    def origin(rel: str) -> tuple[str, int | None, str]:
        layer = next((x for x in reversed(layers) if x.holds(rel)), layers[-1])
        return layer.where(rel)

    return env_refs.resolve(merged, env, origin=origin)


@dataclass(frozen=True)
class EngineSpec:
    type: str
    image: str | None = None
    command: tuple[str, ...] = ()
    pip: str | None = None
    plugin: str | None = None
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class ObjectSpec:
    name: str
    cursor_field: str | None = None
    primary_key: tuple[str, ...] = ()


@dataclass(frozen=True)
class ConnectorRecipe:
    type: str
    version: str
    file: str
    default_engine: EngineSpec
    engines: Mapping[str, EngineSpec]
    connection: Mapping[str, Any]
    objects: tuple[ObjectSpec, ...]
    secret_envs: tuple[str, ...]  # env vars named by auth entries; their values get masked
    name: str | None = None
    description: str | None = None
    # defaults for the governance of every table the connector feeds or holds
    governance: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    lines: Mapping[str, int] = field(default_factory=dict)  # the recipe's fields, by line
    modes: tuple[str, ...] | None = None  # narrows the registry entry's modes; None: as is
    # the source_type of the assets its jobs read, when it is another recipe's (one system
    # reached two ways, e.g. a PyPI package and an image, shares one contract); None: its own
    asset_source_type: str | None = None

    @property
    def reads_assets_of(self) -> str:
        """The ``source_type`` an asset of this connector's jobs declares."""
        return self.asset_source_type or self.type

    def connection_layer(self) -> ConnectionLayer:
        return ConnectionLayer(self.file, "connection", self.connection, self.lines)

    def engine(self, engine_type: str) -> EngineSpec:
        if engine_type == self.default_engine.type:
            return self.default_engine
        return self.engines.get(engine_type, EngineSpec(type=engine_type))


@dataclass(frozen=True)
class RegistryEntry:
    name: str
    roles: tuple[str, ...]
    engines: tuple[str, ...]
    default_engine: str
    modes: tuple[str, ...]
    incremental: bool = False
    status: str = "stable"
    description: str | None = None


# Engines whose connector keeps its own incremental state (Airbyte and Singer state messages):
# the runner applies no cursor to their rows, and a lookback window there is the connector's
# business, not a re-read of dativo's.
STATEFUL_ENGINES = frozenset({"airbyte", "singer"})


@dataclass(frozen=True)
class IncrementalSpec:
    cursor_field: str
    lookback_days: int = 0


@dataclass(frozen=True)
class JobSpec:
    """One job, fully resolved against its recipes, asset and registry entries."""

    file: str
    root: Path
    tenant_id: str
    name: str
    mode: str
    source: ConnectorRecipe
    source_entry: RegistryEntry
    source_engine: str
    source_object: str | None
    source_connection: Mapping[str, Any]  # recipe defaults merged with the job, refs unresolved
    target: ConnectorRecipe
    target_entry: RegistryEntry
    target_connection: Mapping[str, Any]
    contract: Contract
    asset_file: str
    table: str
    write_mode: str = "append"
    # target.options of the job: file size, orphan retention, format settings (Markdown-KV)
    target_options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    validation_mode: str = "strict"
    quality_skip: tuple[str, ...] = ()  # validation.quality.skip: rules this job does not run
    incremental: IncrementalSpec | None = None
    batch_size: int | None = None  # rows per batch; None: the engine's own default
    schedule: str | None = None
    owner: str | None = None
    tags: tuple[str, ...] = ()
    description: str | None = None
    staging_root: str | None = None
    source_plugin: str | None = None  # custom_plugin reader named by the job, else the recipe's
    scheduling: SchedulingSpec = field(default_factory=SchedulingSpec)
    stream: str | None = None  # the stream's name in a multi-stream job; None for one stream
    # effective governance: job over contract over recipe defaults (config/governance.py)
    governance: Governance = field(default_factory=Governance)
    # the files the connections are merged from (recipe, then job), for errors that name the
    # file and line a value comes from; empty: every value is the job file's
    source_layers: tuple[ConnectionLayer, ...] = ()
    target_layers: tuple[ConnectionLayer, ...] = ()
    partitions: PartitionSpec | None = None  # source.partitions: the read splits into parts
    # the Airflow Docker connection whose engine runs the source's images in Airflow tasks:
    # the job's source.docker_conn_id, else the recipe engine's options.docker_conn_id
    docker_conn_id: str | None = None

    @property
    def source_keeps_state(self) -> bool:
        """Whether the source's own state is its incremental mechanism (see STATEFUL_ENGINES)."""
        return self.source_engine in STATEFUL_ENGINES

    @property
    def dag_id(self) -> str:
        return dag_id_for(self.tenant_id, self.name)

    @property
    def secret_envs(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.source.secret_envs + self.target.secret_envs))

    def resolved_source_connection(self, env: Mapping[str, str] | None = None) -> dict[str, Any]:
        return self._resolved("source", self.source_connection, self.source_layers, env)

    def resolved_target_connection(self, env: Mapping[str, str] | None = None) -> dict[str, Any]:
        return self._resolved("target", self.target_connection, self.target_layers, env)

    def _resolved(self, role: str, connection: Mapping[str, Any],
                  layers: tuple[ConnectionLayer, ...], env: Mapping[str, str] | None
                  ) -> dict[str, Any]:
        path = f"{role}.connection"
        recipe = self.source if role == "source" else self.target
        values = os.environ if env is None else env
        masking.register(values.get(name) for name in recipe.secret_envs)
        resolved = (resolve_layers(layers, env, connection) if layers
                    else env_refs.resolve(connection, env, file=self.file, path=path))
        resolved = airflow_refs.resolve(resolved, file=self.file, path=path)
        masking.register_settings(resolved)
        return resolved


def dag_id_for(tenant_id: str, job_name: str) -> str:
    return f"dativo__{tenant_id}__{job_name}"
