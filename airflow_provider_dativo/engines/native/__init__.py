"""Native, in-process sources: a table of extractors, one module each with ``from_job`` and
``from_recipe``. A recipe names the extractor it reuses in ``options.extractor`` (an API connector
on the http extractor needs only YAML); otherwise its connector type is the extractor's name."""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from airflow_provider_dativo.errors import EngineError

if TYPE_CHECKING:
    from airflow_provider_dativo.config.partitions import ConnectorRecipe as RecipeEngines
    from airflow_provider_dativo.config.specs import ConnectorRecipe, JobSpec
    from airflow_provider_dativo.engines.base import SourceEngine

# extractor name -> its module under engines/native/, imported on first use
EXTRACTORS: dict[str, str] = {"file": "files", "postgres": "postgres", "mysql": "mysql",
                              "http": "http", "markdown_kv": "markdown_kv"}

# how an extractor's read splits into parts (source.partitions: ranges of a column, or shares
# of the matched files); the others read a stream whole
SPLITS: dict[str, str] = {"postgres": "database", "mysql": "database", "file": "files"}

# extractors whose connection.path is a glob of local files (or an s3:// URI), checked against
# the config root when a job is loaded; an HTTP source's path is the API's URL path
READS_FILES = frozenset({"file", "markdown_kv"})

# in-process: its settings are documented, not published by a connector (dativo spec)
PUBLISHES_SPEC = False
# it runs in dativo's own process, through no launcher
LAUNCHES_CONNECTORS = False


def extractor_name(recipe: RecipeEngines) -> str:
    """The extractor a recipe's native engine runs on: ``options.extractor``, else its type."""
    return str(recipe.engine("native").options.get("extractor") or recipe.type)


def extractor(recipe: ConnectorRecipe) -> ModuleType:
    """The extractor module a recipe's native engine runs on."""
    name = extractor_name(recipe)
    module = EXTRACTORS.get(name)
    if module is None:
        raise EngineError(f"no native extractor '{name}' for connector '{recipe.type}'; set "
                          f"options.extractor of the native engine in {recipe.file} to one of: "
                          f"{', '.join(sorted(EXTRACTORS))}")
    return import_module(f"airflow_provider_dativo.engines.native.{module}")


def from_job(job: JobSpec, connection: dict) -> SourceEngine:
    return extractor(job.source).from_job(job, connection)


def from_recipe(root: Path, recipe: ConnectorRecipe, connection: dict) -> SourceEngine:
    """The native source of ``recipe`` with resolved ``connection`` settings and no job."""
    return extractor(recipe).from_recipe(root, recipe, connection)
