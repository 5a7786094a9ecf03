"""The ``airbyte`` engine: Airbyte connectors (Docker image or local executable)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from airflow_provider_dativo.engines.airbyte.source import AirbyteSource
from airflow_provider_dativo.engines.base import (
    PROTOCOL_BATCH_ROWS,
    contract_reads,
    nested_columns,
)

if TYPE_CHECKING:
    from airflow_provider_dativo.config.specs import ConnectorRecipe, JobSpec
    from airflow_provider_dativo.contracts.model import FieldSpec

__all__ = ["AirbyteSource", "from_job", "from_recipe"]
from airflow_provider_dativo.engines.protocol import recipe_settings

# the connector describes its own config (dativo spec)
PUBLISHES_SPEC = True
# its connectors run as processes a launcher starts (a local executable or a Docker image)
LAUNCHES_CONNECTORS = True


def from_recipe(root: Path, recipe: ConnectorRecipe, connection: dict, *,
                batch_size: int = PROTOCOL_BATCH_ROWS, cursor_field: str | None = None,
                fields: tuple[str, ...] = (), nested: tuple[FieldSpec, ...] = ()) -> AirbyteSource:
    engine = recipe.engine("airbyte")
    return AirbyteSource(config=connection, batch_size=batch_size, cursor_field=cursor_field,
                         sync_mode=engine.options.get("sync_mode"), fields=fields,
                         nested=nested, **recipe_settings(root, recipe, "airbyte"))


def from_job(job: JobSpec, connection: dict) -> AirbyteSource:
    """The engine registry's entry point: the job's source recipe with its connection."""
    wanted = job.source_object or job.contract.name
    cursor = job.incremental.cursor_field if job.incremental else next(
        (o.cursor_field for o in job.source.objects if o.name == wanted), None)
    return from_recipe(job.root, job.source, connection,
                       batch_size=job.batch_size or PROTOCOL_BATCH_ROWS, cursor_field=cursor,
                       fields=contract_reads(job.contract),
                       nested=nested_columns(job.contract))
