"""What a job reads and writes, named the same way for Airflow Assets and OpenLineage.

Names come from the job as written (never from resolved secrets), so they are stable across
runs, known at parse time, and the same on every worker.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from airflow_provider_dativo.config.specs import JobSpec

DEFAULT_CATALOG = "dativo"


def catalog_key(job: JobSpec) -> str:
    """The catalog a job's table lives in: its Airflow connection id, its name, or the default."""
    catalog = job.target_connection.get("catalog") or {}
    for key in ("conn_id", "name"):
        value = catalog.get(key) if isinstance(catalog, Mapping) else None
        if isinstance(value, str) and value and "${" not in value:
            return value
    return DEFAULT_CATALOG


def table_name(job: JobSpec) -> str:
    namespace = job.target_connection.get("namespace") or job.tenant_id
    return f"{namespace}.{job.table}"


def table_uri(job: JobSpec) -> str:
    """``x-iceberg://<catalog>/<namespace>/<table>``: the name and URI of the job's table Asset.

    The ``x-`` prefix is Airflow's mark of a custom scheme: such URIs are used as written,
    while any other scheme makes Airflow load every provider's URI normalizers at parse time
    (see bench/parse_dags.py).
    """
    namespace, _, table = table_name(job).rpartition(".")
    return f"x-{job.target.type}://{catalog_key(job)}/{namespace.replace('.', '/')}/{table}"


def table_asset(job: JobSpec | str | Path, stream: str | None = None, *,
                root: str | Path | None = None) -> Any:
    """The Airflow Asset of a job's table: ``Asset(uri)``, named by its URI.

    ``job`` is a loaded spec, a DAG id (``dativo__acme__orders``) or a job file; a DAG id or
    file is looked up under ``root`` (default: ``$DATIVO_HOME``). A multi-stream job needs
    ``stream``.

    Airflow keeps one active asset per name and one per URI, and ``Asset(uri)`` takes its
    name from its URI, so naming the table's Asset by its URI makes every ordinary
    declaration of it (``Asset(uri)``, ``Asset(name=uri, uri=uri)``, ``Asset.ref(name=uri)``,
    ``Asset.ref(uri=uri)``) the same asset. Group and extra stay Airflow's defaults: Airflow
    takes them from whichever DAG it parsed last, so any value of ours would flip with a
    downstream's plain ``Asset(uri)``; what a load wrote travels in the event's extra instead.
    """
    from airflow.sdk import Asset

    spec = job if isinstance(job, JobSpec) else _find_job(job, stream, root)
    uri = table_uri(spec)
    return Asset(name=uri, uri=uri)


def table_alias(job: JobSpec) -> Any:
    """The load task's outlet: an alias the task publishes the table's Asset through.

    Airflow checks a task's declared outlet Assets before it runs and fails the task when one
    is inactive, which a downstream DAG's clashing declaration can cause; an alias is not
    checked, and an event added through it reaches the asset's consumers all the same.
    """
    from airflow.sdk import AssetAlias

    return AssetAlias(name=f"dativo:{table_uri(job)}")


def event_extra(job: JobSpec, run_id: str, result: Any) -> dict[str, Any]:
    """The extra of the asset event a load emits: what landed, for ``triggering_asset_events``."""
    return {"run_id": run_id, "dag_id": job.dag_id, "stream": job.stream,
            "table": table_name(job), "target": job.target.type,
            "committed": bool(result.committed), "rows": int(result.rows),
            "snapshot_id": result.snapshot_id, "contract": job.contract.name,
            "contract_version": str(job.contract.version)}


def _find_job(job: str | Path, stream: str | None, root: str | Path | None) -> JobSpec:
    """The spec of a DAG id or job file, as ``table_asset`` is given it."""
    from airflow_provider_dativo.config.collisions import job_claim
    from airflow_provider_dativo.config.loader import ConfigRoot
    from airflow_provider_dativo.errors import ConfigError, ConfigIssue

    config = ConfigRoot(root)
    text = str(job)
    if text.endswith((".yaml", ".yml")):
        path = config.job_path(text)
    else:
        found = [p for p in config.job_files() if job_claim(config, p).dag_id == text]
        if not found:
            raise ConfigError([ConfigIssue(str(config.root / "jobs"), (
                f"no job has DAG id {text!r}; `dativo list` shows the DAG ids (or pass the "
                "job file, or root= the config repository)"))])
        path = found[0]
    streams = config.load_streams(path)
    if stream is None and len(streams) > 1:
        raise ConfigError([ConfigIssue(streams[0].file, (
            f"{streams[0].dag_id} has {len(streams)} streams "
            f"({', '.join(str(s.stream) for s in streams)}); pass stream= one of them"),
            None, "streams")])
    return config.load_job(path, stream=stream)


def source_dataset(job: JobSpec) -> tuple[str, str]:
    """OpenLineage (namespace, name) of what the job reads, without resolving any secret."""
    conn = job.source_connection
    path = conn.get("path")
    if isinstance(path, str) and path and "${" not in path:
        if "://" in path:
            scheme, rest = path.split("://", 1)
            bucket, _, key = rest.partition("/")
            return f"{scheme}://{bucket}", key
        full = path if path.startswith("/") else str(job.root / path)
        return "file", full
    return f"{job.source.type}://{job.source_engine}", job.source_object or job.contract.name


def openlineage(job: JobSpec, *, inputs: bool, outputs: bool,
                landed: Mapping[str, Any] | None = None) -> Any:
    """An ``OperatorLineage`` for the task; imported lazily so OpenLineage stays optional.

    The output dataset carries the table's facets (``lineage_facets``); ``landed`` is what the
    load returned (``rows``, ``quality``, ``metrics``), for its statistics and quality facets.
    """
    from airflow.providers.openlineage.extractors import OperatorLineage
    from openlineage.client.event_v2 import InputDataset, OutputDataset

    from airflow_provider_dativo.operators.lineage_facets import dataset_facets, output_facets

    source = source_dataset(job)
    ins = [InputDataset(namespace=source[0], name=source[1])] if inputs else []
    outs = []
    if outputs:
        landed = landed or {}
        outs = [OutputDataset(
            namespace=f"{job.target.type}://{catalog_key(job)}", name=table_name(job),
            facets=dataset_facets(job, source, landed.get("quality") or (),
                                  landed.get("metrics")),
            outputFacets=output_facets(landed.get("metrics")))]
    return OperatorLineage(inputs=ins, outputs=outs)
