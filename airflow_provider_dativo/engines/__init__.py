"""Source engines: a registry of names, one module each, one interface (``base.SourceEngine``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from airflow_provider_dativo.engines.base import (
    CheckStatus,
    ReadItem,
    RejectedRecords,
    SourceEngine,
    StateUpdate,
    StreamInfo,
)
from airflow_provider_dativo.errors import EngineError

if TYPE_CHECKING:
    from airflow_provider_dativo.config.specs import JobSpec
    from airflow_provider_dativo.contracts.model import Contract

__all__ = ["CheckStatus", "ReadItem", "RejectedRecords", "SourceEngine", "StateUpdate",
           "StreamInfo", "open_source"]


def _native(job: JobSpec, connection: dict) -> SourceEngine:
    # a recipe may name the extractor it reuses (an API connector on the http extractor needs
    # only YAML); otherwise the connector type is the extractor's name
    name = job.source.engine("native").options.get("extractor") or job.source.type
    builder = NATIVE_CONNECTORS.get(name)
    if builder is None:
        raise EngineError(f"no native extractor '{name}' for connector '{job.source.type}'; "
                          f"set default_engine.options.extractor in its recipe to one of: "
                          f"{', '.join(sorted(NATIVE_CONNECTORS))}")
    return builder(job, connection)


def _file(job: JobSpec, connection: dict) -> SourceEngine:
    from airflow_provider_dativo.engines.native.files import FileSource, FileSourceConfig

    return FileSource(FileSourceConfig.from_connection(job.root, connection),
                      json_types=json_types(job.contract))


def json_types(contract: Contract) -> dict:
    """Source columns (by the name the source sends) whose Arrow type JSON carries natively;
    the rest arrive as Arrow infers them. A ``json`` column is read as text: inference would
    merge the keys of every line into one struct and write keys a value never had."""
    import pyarrow as pa

    from airflow_provider_dativo.contracts.arrow_types import arrow_type

    native = {pa.int64(), pa.float64(), pa.bool_(), pa.string()}
    types = {}
    for spec in contract.fields:
        type_ = arrow_type(spec)
        if type_ in native or pa.types.is_floating(type_):
            types[spec.source_name] = pa.float64() if pa.types.is_floating(type_) else type_
    return types


def _lazy(module: str) -> Callable[[JobSpec, dict], SourceEngine]:
    """``from_job`` of an engine module, imported on first use so drivers load only if used."""

    def build(job: JobSpec, connection: dict) -> SourceEngine:
        from importlib import import_module

        return import_module(f"airflow_provider_dativo.engines.{module}").from_job(job, connection)

    return build


NATIVE_CONNECTORS: dict[str, Callable[[JobSpec, dict], SourceEngine]] = {
    "file": _file, "postgres": _lazy("native.postgres"), "mysql": _lazy("native.mysql"),
    "http": _lazy("native.http"), "toy_http": _lazy("native.http"),
    "markdown_kv": _lazy("native.markdown_kv")}

ENGINES: dict[str, Callable[[JobSpec, dict], SourceEngine]] = {
    "native": _native, "airbyte": _lazy("airbyte"), "singer": _lazy("singer"),
    "custom_plugin": _lazy("plugin")}


def open_source(job: JobSpec, connection: dict) -> SourceEngine:
    """The engine a job's source runs on, given its resolved connection settings."""
    factory = ENGINES.get(job.source_engine)
    if factory is None:
        raise EngineError(
            f"engine '{job.source_engine}' is not available in this version of dativo "
            f"(available: {', '.join(sorted(ENGINES))}); choose another engine for "
            f"'{job.source.type}' in the job's source.engine")
    return factory(job, connection)
