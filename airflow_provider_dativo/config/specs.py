"""The typed, immutable specs a job resolves into.

Connection settings stay as written, ``${VAR}`` references included; they are resolved by
``JobSpec.resolved_source_connection()`` / ``resolved_target_connection()`` at run time only,
which also hand every secret they resolve to the masker, before anything can log it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from airflow_provider_dativo import masking
from airflow_provider_dativo.config import airflow_refs, env_refs
from airflow_provider_dativo.config.scheduling import SchedulingSpec

if TYPE_CHECKING:
    from airflow_provider_dativo.config.partitions import PartitionSpec
    from airflow_provider_dativo.contracts import Contract


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
    partitions: PartitionSpec | None = None  # source.partitions: the read splits into parts

    @property
    def dag_id(self) -> str:
        return dag_id_for(self.tenant_id, self.name)

    @property
    def secret_envs(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.source.secret_envs + self.target.secret_envs))

    def resolved_source_connection(self, env: Mapping[str, str] | None = None) -> dict[str, Any]:
        return self._resolved(self.source_connection, self.source, env, "source.connection")

    def resolved_target_connection(self, env: Mapping[str, str] | None = None) -> dict[str, Any]:
        return self._resolved(self.target_connection, self.target, env, "target.connection")

    def _resolved(self, connection: Mapping[str, Any], recipe: ConnectorRecipe,
                  env: Mapping[str, str] | None, path: str) -> dict[str, Any]:
        values = os.environ if env is None else env
        masking.register(values.get(name) for name in recipe.secret_envs)
        resolved = env_refs.resolve(connection, env, file=self.file, path=path)
        resolved = airflow_refs.resolve(resolved, file=self.file, path=path)
        masking.register_settings(resolved)
        return resolved


def dag_id_for(tenant_id: str, job_name: str) -> str:
    return f"dativo__{tenant_id}__{job_name}"
