"""Real pyiceberg SQL catalogs on SQLite with a local warehouse, one per test."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from airflow_provider_dativo.targets import (
    IcebergSettings,
    IcebergTarget,
    PartitionSpecField,
    StagedFile,
)

MakeTarget = Callable[..., IcebergTarget]


@pytest.fixture
def catalog_properties(tmp_path: Path) -> dict[str, str]:
    return {
        "type": "sql",
        "uri": f"sqlite:///{tmp_path / 'catalog.db'}",
        "warehouse": (tmp_path / "warehouse").as_uri(),
    }


@pytest.fixture
def make_target(catalog_properties: dict[str, str]) -> MakeTarget:
    """A new target, with its own catalog handle, for the same table every call."""

    def make(
        schema: pa.Schema,
        partitioning: Sequence[PartitionSpecField] = (),
        table_properties: Mapping[str, str] | None = None,
        table: str = "events",
        cls: type[IcebergTarget] = IcebergTarget,
        **kwargs: Any,
    ) -> IcebergTarget:
        settings = IcebergSettings("test", catalog_properties, "tenant_a", table)
        target = cls(settings, schema, partitioning, table_properties, **kwargs)
        target.retry_backoff_seconds = 0.005
        return target

    return make


def stage(
    target: IcebergTarget, run_id: str, batches: Sequence[pa.RecordBatch], **options: Any
) -> list[StagedFile]:
    with target.staged_writer(run_id, **options) as writer:
        for batch in batches:
            writer.write(batch)
    return writer.close()
