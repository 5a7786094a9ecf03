"""Target registry: connector type → the module that lands data, behind ``base.Target``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_provider_dativo.config import paths
from airflow_provider_dativo.errors import ConfigError, ConfigIssue, TargetError
from airflow_provider_dativo.targets.storage import Storage

if TYPE_CHECKING:
    import pyarrow as pa

    from airflow_provider_dativo.config.specs import JobSpec
    from airflow_provider_dativo.targets.base import Target
    from airflow_provider_dativo.targets.staging import PartitionFieldLike


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


def writer_of(job: JobSpec) -> str:
    """Who commits to a target, as its commits and state are keyed: the job's DAG id, and the
    stream of a multi-stream job. Jobs sharing a table keep their state apart by it."""
    return job.dag_id if job.stream is None else f"{job.dag_id}/{job.stream}"


def staging_storage(job: JobSpec, connection: Mapping[str, Any], root: str) -> Storage | None:
    """How the run's manifest and quarantine files reach an object-storage staging ``root``:
    with the target's own storage settings (the Iceberg catalog's, or a file target's
    ``storage``), so an ``s3://`` staging root uses the same endpoint and keys. None for a
    local root."""
    if "://" not in root or root.startswith("file://"):
        return None
    if job.target.type == "iceberg":
        _, props = iceberg_catalog_properties(job.root, connection)
    else:
        props = {str(k): str(v) for k, v in (connection.get("storage") or {}).items()}
    return Storage(props)


@dataclass(frozen=True)
class TableShape:
    """What one table of a job looks like: the job's own table, or its quarantine table."""

    table: str
    schema: pa.Schema
    partitioning: tuple[PartitionFieldLike, ...] = ()
    properties: Mapping[str, str] = field(default_factory=dict)
    write_mode: str = "append"
    primary_key: tuple[str, ...] = ()

    @classmethod
    def of_job(cls, job: JobSpec) -> TableShape:
        from airflow_provider_dativo.contracts import arrow_schema

        return cls(job.table, arrow_schema(job.contract), tuple(job.contract.partitioning),
                   job.governance.properties(), job.write_mode,
                   tuple(job.contract.primary_key))

    @classmethod
    def quarantine_of(cls, job: JobSpec) -> TableShape:
        from airflow_provider_dativo.targets.quarantine import QUARANTINE_SCHEMA
        from airflow_provider_dativo.targets.staging import PartitionSpecField

        return cls(f"{job.table}_quarantine", QUARANTINE_SCHEMA,
                   (PartitionSpecField("quarantined_at", "day"),),
                   {**job.governance.table_properties(), "dativo.quarantine-of": job.table})


def _iceberg(job: JobSpec, connection: Mapping[str, Any], shape: TableShape | None = None
             ) -> Target:
    from airflow_provider_dativo.targets.iceberg import IcebergSettings, IcebergTarget

    name, props = iceberg_catalog_properties(job.root, connection)
    namespace = tenant_namespace(job, connection)
    if shape is None:
        check_job_write_mode(job)
        shape = TableShape.of_job(job)
    return IcebergTarget(
        IcebergSettings(
            catalog_name=name, catalog_properties=props, namespace=namespace, table=shape.table
        ),
        shape.schema,
        partitioning=shape.partitioning,
        table_properties=shape.properties,
        write_mode=shape.write_mode,
        primary_key=shape.primary_key,
        writer=writer_of(job),
    )


def check_job_write_mode(job: JobSpec) -> None:
    """Refuse a write mode the job's contract cannot support, naming the job file and field."""
    from airflow_provider_dativo.targets.iceberg_modes import check_write_mode

    try:
        check_write_mode(job.write_mode, job.contract.primary_key)
    except TargetError as exc:
        raise ConfigError([ConfigIssue(job.file, str(exc), None, "target.write_mode")]) from exc


def tenant_namespace(job: JobSpec, connection: Mapping[str, Any]) -> str:
    """The namespace (Iceberg) or folder (files) a job writes under: its tenant, or below it."""
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
    return namespace


def file_table_root(job: JobSpec, connection: Mapping[str, Any], default: str,
                    table: str | None = None) -> str:
    """``<path>/<tenant folders>/<table>`` for targets made of plain files.

    ``path`` is a local folder (relative to the config root) or a URI; an ``s3`` block with
    bucket and prefix stands in for it, like the Iceberg warehouse.
    """
    path = connection.get("path")
    s3 = connection.get("s3") or {}
    if not path and s3.get("bucket"):
        path = f"s3://{s3['bucket']}/{str(s3.get('prefix', '')).strip('/')}"
    base = str(path or default).rstrip("/")
    folders = tenant_namespace(job, connection).replace(".", "/")
    if not paths.is_local(base):
        return f"{base}/{folders}/{table or job.table}"
    # local: under the config root or a data root, checked with symlinks followed (see paths)
    return str(paths.resolve_for_job(job.file, job.root, f"{base}/{folders}/{table or job.table}",
                                     "target.connection.path"))


def check_append_only(job: JobSpec) -> None:
    if job.write_mode != "append":
        raise ConfigError(
            [
                ConfigIssue(
                    job.file,
                    f"target '{job.target.type}' only appends; write mode '{job.write_mode}' "
                    "needs the iceberg target",
                    None,
                    "target.write_mode",
                )
            ]
        )


def _parquet(job: JobSpec, connection: Mapping[str, Any], shape: TableShape | None = None
             ) -> Target:
    from airflow_provider_dativo.targets.parquet import ParquetSettings, ParquetTarget

    if shape is None:
        check_append_only(job)
        shape = TableShape.of_job(job)
    return ParquetTarget(
        ParquetSettings(
            root=file_table_root(job, connection, ".dativo/parquet", shape.table),
            table=f"{tenant_namespace(job, connection)}.{shape.table}",
            storage={str(k): str(v) for k, v in (connection.get("storage") or {}).items()},
        ),
        shape.schema,
        partitioning=shape.partitioning,
        file_metadata=shape.properties,
        writer=writer_of(job),
    )


def _markdown_kv(job: JobSpec, connection: Mapping[str, Any], shape: TableShape | None = None
                 ) -> Target:
    from airflow_provider_dativo.targets.markdown_kv import MarkdownKVSettings, MarkdownKVTarget

    check_append_only(job)
    shape = shape or TableShape.of_job(job)
    options = job.target_options.get("markdown_kv") or {}
    try:
        settings = MarkdownKVSettings.from_options(
            root=file_table_root(job, connection, ".dativo/markdown_kv", shape.table),
            table=f"{tenant_namespace(job, connection)}.{shape.table}",
            columns=shape.schema.names,
            options=options,
            default_front_matter=shape.primary_key,
            default_section=job.contract.name,
            storage={str(k): str(v) for k, v in (connection.get("storage") or {}).items()},
        )
    except TargetError as exc:
        raise ConfigError(
            [ConfigIssue(job.file, str(exc), None, "target.options.markdown_kv")]
        ) from exc
    return MarkdownKVTarget(settings, shape.schema, file_metadata=shape.properties,
                            writer=writer_of(job))


QUARANTINE_TABLE_TARGETS = ("iceberg", "parquet")

TargetFactory = Callable[..., "Target"]  # (job, resolved connection, shape=None) -> Target

TARGETS: dict[str, TargetFactory] = {
    "iceberg": _iceberg,
    "parquet": _parquet,
    "markdown_kv": _markdown_kv,
}


def open_target(job: JobSpec, connection: Mapping[str, Any]) -> Target:
    factory = TARGETS.get(job.target.type)
    if factory is None:
        raise TargetError(
            f"target '{job.target.type}' is not available in this version of "
            f"dativo (available: {', '.join(sorted(TARGETS))})"
        )
    return factory(job, connection)


def open_quarantine_target(job: JobSpec, connection: Mapping[str, Any]) -> Target | None:
    """The job's quarantine table, when ``target.options.quarantine_table`` asks for one."""
    if not job.target_options.get("quarantine_table"):
        return None
    factory = TARGETS.get(job.target.type)
    if factory is None or job.target.type not in QUARANTINE_TABLE_TARGETS:
        raise ConfigError([ConfigIssue(
            job.file, f"target '{job.target.type}' cannot keep a quarantine table (available "
            f"for: {', '.join(QUARANTINE_TABLE_TARGETS)}); remove quarantine_table",
            None, "target.options.quarantine_table")])
    return factory(job, connection, shape=TableShape.quarantine_of(job))
