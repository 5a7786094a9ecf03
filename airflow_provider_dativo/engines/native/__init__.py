"""Native, in-process sources; ``from_recipe`` opens one from a recipe alone (for discover)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from airflow_provider_dativo.errors import EngineError

if TYPE_CHECKING:
    from airflow_provider_dativo.config.specs import ConnectorRecipe
    from airflow_provider_dativo.engines.base import SourceEngine


def _postgres(root: Path, recipe: ConnectorRecipe, connection: dict) -> SourceEngine:
    from airflow_provider_dativo.engines.native.postgres import open_postgres

    return open_postgres(connection)


def _mysql(root: Path, recipe: ConnectorRecipe, connection: dict) -> SourceEngine:
    from airflow_provider_dativo.engines.native.mysql import open_mysql

    return open_mysql(connection)


def _http(root: Path, recipe: ConnectorRecipe, connection: dict) -> SourceEngine:
    from airflow_provider_dativo.engines.native.http import HttpSource, HttpSourceConfig

    objects = [o.name for o in recipe.objects]
    return HttpSource(HttpSourceConfig.from_connection(connection),
                      stream=objects[0] if objects else "records")


def _file(root: Path, recipe: ConnectorRecipe, connection: dict) -> SourceEngine:
    from airflow_provider_dativo.engines.native.files import FileSource, FileSourceConfig

    return FileSource(FileSourceConfig.from_connection(root, connection))


RECIPE_SOURCES: dict[str, Callable[[Path, ConnectorRecipe, dict], SourceEngine]] = {
    "postgres": _postgres, "mysql": _mysql, "http": _http, "toy_http": _http, "file": _file}


def from_recipe(root: Path, recipe: ConnectorRecipe, connection: dict) -> SourceEngine:
    """The native source of ``recipe`` with resolved ``connection`` settings and no job."""
    # a recipe that reuses an extractor (options.extractor: http) discovers through it too
    name = recipe.engine("native").options.get("extractor") or recipe.type
    build = RECIPE_SOURCES.get(name)
    if build is None:
        raise EngineError(f"discover --connector has no native source for '{recipe.type}'; "
                          "use --job with a job of this connector")
    return build(root, recipe, connection)
