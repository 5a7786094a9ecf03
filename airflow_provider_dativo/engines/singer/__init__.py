"""The ``singer`` engine: Singer taps, run by any launcher (usually a local executable)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from airflow_provider_dativo.engines.base import (
    PROTOCOL_BATCH_ROWS,
    contract_reads,
    nested_columns,
)
from airflow_provider_dativo.engines.protocol import recipe_settings
from airflow_provider_dativo.engines.singer.source import SingerSource

if TYPE_CHECKING:
    from airflow_provider_dativo.config.specs import ConnectorRecipe, JobSpec
    from airflow_provider_dativo.contracts.model import FieldSpec

__all__ = ["SingerSource", "from_job", "from_recipe"]

# the connector describes its own config (dativo spec)
PUBLISHES_SPEC = True
# its connectors run as processes a launcher starts (a local executable or a Docker image)
LAUNCHES_CONNECTORS = True


def from_recipe(root: Path, recipe: ConnectorRecipe, connection: dict, *,
                batch_size: int = PROTOCOL_BATCH_ROWS,
                fields: tuple[str, ...] = (), replication_key: str | None = None,
                replication_origin: str | None = None,
                nested: tuple[FieldSpec, ...] = ()) -> SingerSource:
    """A tap from its recipe; ``replication_key`` (named by ``replication_origin``) makes its
    stream INCREMENTAL, else the singer engine's ``options.replication_key``, else FULL_TABLE
    (unless the tap forces INCREMENTAL)."""
    engine = recipe.engine("singer")
    if replication_key is None and engine.options.get("replication_key") is not None:
        replication_key = str(engine.options["replication_key"])
        replication_origin = f"{recipe.file}: options.replication_key of the singer engine"
    return SingerSource(config=connection, batch_size=batch_size,
                        catalog_flag=str(engine.options.get("catalog_flag", "--catalog")),
                        fields=fields,
                        replication_key=replication_key,
                        replication_origin=replication_origin or "the replication key",
                        nested=nested, **recipe_settings(root, recipe, "singer"))


def from_job(job: JobSpec, connection: dict) -> SingerSource:
    """The engine registry's entry point: the job's source recipe with its connection."""
    return from_recipe(job.root, job.source, connection,
                       batch_size=job.batch_size or PROTOCOL_BATCH_ROWS,
                       fields=contract_reads(job.contract),
                       nested=nested_columns(job.contract),
                       replication_key=job.incremental.cursor_field if job.incremental else None,
                       replication_origin=f"{job.file}: source.incremental.cursor_field")
