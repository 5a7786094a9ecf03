"""Target registry: connector type → the module that lands data, behind ``base.Target``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_provider_dativo.errors import ConfigError, ConfigIssue, TargetError

if TYPE_CHECKING:
    from airflow_provider_dativo.config.specs import JobSpec
    from airflow_provider_dativo.targets.base import Target


def embedded_catalog(root: Path) -> dict[str, str]:
    """The default catalog: SQLite and a local warehouse under ``<root>/.dativo``."""
    home = root / ".dativo"
    home.mkdir(parents=True, exist_ok=True)
    return {
        "type": "sql",
        "uri": f"sqlite:///{home / 'catalog.db'}",
        "warehouse": (home / "warehouse").as_uri(),
    }


def iceberg_catalog_properties(root: Path, connection: Mapping[str, Any]) -> tuple[str, dict]:
    """Catalog name and pyiceberg properties from a resolved target connection.

    ``catalog`` holds pyiceberg's own properties (type, uri, warehouse, s3.endpoint, ...); an
    ``s3`` block with bucket and prefix sets the warehouse when the catalog names none.
    """
    catalog = dict(connection.get("catalog") or {})
    name = str(catalog.pop("name", "dativo"))
    props = {str(k): str(v) for k, v in catalog.items()}
    if not props.get("type"):
        props = {**embedded_catalog(root), **props}
    s3 = connection.get("s3") or {}
    if "warehouse" not in props and s3.get("bucket"):
        prefix = str(s3.get("prefix", "")).strip("/")
        props["warehouse"] = f"s3://{s3['bucket']}/{prefix}".rstrip("/")
    return name, props


def _iceberg(job: JobSpec, connection: Mapping[str, Any]) -> Target:
    from airflow_provider_dativo.contracts import arrow_schema
    from airflow_provider_dativo.targets.iceberg import IcebergSettings, IcebergTarget

    name, props = iceberg_catalog_properties(job.root, connection)
    namespace = str(connection.get("namespace") or job.tenant_id)
    if namespace != job.tenant_id and not namespace.startswith(f"{job.tenant_id}."):
        # tenants are isolated: a job writes only under its own namespace
        raise ConfigError(
            [
                ConfigIssue(
                    job.file,
                    f"namespace '{namespace}' is outside tenant '{job.tenant_id}'",
                    None,
                    "target.connection.namespace",
                )
            ]
        )
    return IcebergTarget(
        IcebergSettings(
            catalog_name=name, catalog_properties=props, namespace=namespace, table=job.table
        ),
        arrow_schema(job.contract),
        partitioning=job.contract.partitioning,
        table_properties=job.contract.governance_properties(),
    )


TARGETS: dict[str, Callable[[JobSpec, Mapping[str, Any]], Target]] = {"iceberg": _iceberg}


def open_target(job: JobSpec, connection: Mapping[str, Any]) -> Target:
    factory = TARGETS.get(job.target.type)
    if factory is None:
        raise TargetError(
            f"target '{job.target.type}' is not available in this version of "
            f"dativo (available: {', '.join(sorted(TARGETS))})"
        )
    return factory(job, connection)
