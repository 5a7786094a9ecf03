"""Source engines: a table of names, one module each, one interface (``base.SourceEngine``).

Each engine module exposes ``from_job(job, connection)`` (what a run opens) and
``from_recipe(root, recipe, connection)`` (what ``dativo discover --connector`` and ``dativo spec``
open, with no job), ``PUBLISHES_SPEC`` (whether the connector describes its own config) and
``LAUNCHES_CONNECTORS`` (whether its connectors are processes a launcher starts); the native
engine keeps its own table of extractors the same way.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from types import ModuleType
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
    from airflow_provider_dativo.config.specs import ConnectorRecipe, JobSpec

__all__ = ["ENGINES", "CheckStatus", "ReadItem", "RejectedRecords", "SourceEngine",
           "StateUpdate", "StreamInfo", "engine_module", "open_recipe_source", "open_source"]

# engine name -> its module under engines/, imported on first use so drivers load only if used
ENGINES: dict[str, str] = {"native": "native", "airbyte": "airbyte", "singer": "singer",
                           "custom_plugin": "plugin"}


def engine_module(name: str, where: str) -> ModuleType:
    """The module of engine ``name``; ``where`` says which setting chose it, for the error."""
    module = ENGINES.get(name)
    if module is None:
        raise EngineError(f"engine '{name}' is not available in this version of dativo "
                          f"(available: {', '.join(sorted(ENGINES))}); choose another engine "
                          f"in {where}")
    return import_module(f"airflow_provider_dativo.engines.{module}")


def open_source(job: JobSpec, connection: dict) -> SourceEngine:
    """The engine a job's source runs on, given its resolved connection settings."""
    module = engine_module(job.source_engine, f"the job's source.engine for '{job.source.type}'")
    return module.from_job(job, connection)


def open_recipe_source(root: Path, recipe: ConnectorRecipe, engine: str,
                       connection: dict) -> SourceEngine:
    """A recipe's source on ``engine`` with resolved ``connection`` settings and no job."""
    module = engine_module(engine, f"{recipe.file} (or pass --engine)")
    return module.from_recipe(root, recipe, connection)
