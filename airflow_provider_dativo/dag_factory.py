"""The jobs folder → one Airflow DAG per job.

Parsing reads local YAML only: no network, database or secret. A job whose config is invalid
becomes a DAG whose single task fails with the errors, so it never hides the other jobs.
"""

from __future__ import annotations

import logging
from pathlib import Path

from airflow.sdk import DAG, get_parsing_context

from airflow_provider_dativo import asset_declarations
from airflow_provider_dativo.config.collisions import collision_issues, job_claim
from airflow_provider_dativo.config.loader import ConfigRoot
from airflow_provider_dativo.config.scheduling import DEFAULT_START_DATE
from airflow_provider_dativo.config.specs import JobSpec
from airflow_provider_dativo.config.streams import task_suffix
from airflow_provider_dativo.contracts.model import Contract
from airflow_provider_dativo.errors import ConfigError, ConfigIssue
from airflow_provider_dativo.operators import lineage
from airflow_provider_dativo.operators.dativo import (
    DativoConfigErrorOperator,
    DativoExtractOperator,
    DativoLoadOperator,
    DativoValidateOperator,
)
from airflow_provider_dativo.operators.partitioned import (
    DativoPartExtractOperator,
    DativoPartitionedLoadOperator,
    DativoPlanOperator,
)

log = logging.getLogger(__name__)

START_DATE = DEFAULT_START_DATE  # of the placeholder DAGs of invalid jobs


def doc_md(job: JobSpec, root: ConfigRoot) -> str:
    c = job.contract
    lines = [
        f"# {job.dag_id}" + (f": stream {job.stream}" if job.stream else ""),
        "",
        job.description or c.description or "",
        "",
        f"**{job.source.type}** ({job.source_engine}) → contract **{c.name}** v{c.version} → "
        f"**{job.target.type}** table `{job.tenant_id}.{job.table}`",
        "",
        f"- job: `{root.display(Path(job.file))}`",
        f"- asset: `{root.display(Path(job.asset_file))}`",
        f"- validation: {job.validation_mode}",
        f"- table asset: `Asset(\"{lineage.table_uri(job)}\")`, named by its URI; a downstream "
        f"DAG schedules on it, or on `table_asset(\"{job.dag_id}\""
        + (f", stream=\"{job.stream}\"" if job.stream else "") + ")` from "
        "`airflow_provider_dativo`. Each load adds an event whose extra holds `run_id`, `rows`, "
        "`committed` and `snapshot_id`. A DAG that gives this URI another name, or uses it as "
        "the name of another URI, is never triggered: `dativo validate` finds such DAG files",
    ]
    if c.owner:
        lines.append(f"- owner: {c.owner}")
    if c.classification:
        lines.append(f"- classification: {', '.join(c.classification)}")
    if c.retention_days:
        lines.append(f"- retention: {c.retention_days} days")
    lines += ["", "| column | type | required | rules |", "|---|---|---|---|"]
    for f in c.fields:
        lines.append(f"| {f.name} | {f.type} | {'yes' if f.required else ''} | "
                     f"{'; '.join(f.rule_texts())} |")
    lines += quality_doc(c)
    return "\n".join(lines)


def quality_doc(contract: Contract) -> list[str]:
    """The contract's quality rules: text rules as written, the others by name and bound."""
    rules = contract.quality
    if not rules:
        return []
    lines = ["", "**Quality rules**", ""]
    for rule in rules:
        where = f" on `{rule.column}`" if rule.column else ""
        if rule.type == "text":
            lines.append(f"- {rule.description or rule.name}{where}")
        elif rule.type == "custom":
            lines.append(f"- {rule.name}{where}: {rule.engine} rule, not run by dativo")
        else:
            extra = ", ".join(v for v in (rule.severity, rule.dimension) if v)
            lines.append(f"- {rule.name}{where}: {rule.bound_text()}"
                         + (f" ({extra})" if extra else "")
                         + (f" — {rule.description}" if rule.description else ""))
    return lines


def build_job_dag(job: JobSpec | tuple[JobSpec, ...], root: ConfigRoot) -> DAG:
    """validate, then extract >> load per stream (``extract__<stream>`` when several); a
    stream with ``source.partitions`` gets plan >> extract (mapped over the parts) >> load."""
    streams = job if isinstance(job, tuple) else (job,)
    job = streams[0]
    job_file = str(Path(job.file))
    tags = ["dativo", f"tenant:{job.tenant_id}", f"source:{job.source.type}",
            f"target:{job.target.type}", *job.tags]
    run = job.scheduling  # every default lives in config/scheduling.py
    default_args: dict[str, object] = {
        "owner": job.owner or "dativo", "retries": run.retries, "retry_delay": run.retry_delay,
        "execution_timeout": run.execution_timeout, "pool_slots": run.pool_slots}
    if run.pool:
        default_args["pool"] = run.pool
    with DAG(
        dag_id=job.dag_id,
        description=(job.description or f"{job.source.type} → {job.target.type}")[:200],
        schedule=job.schedule,
        start_date=run.start_date,
        catchup=run.catchup,
        max_active_runs=run.max_active_runs,
        dagrun_timeout=run.dagrun_timeout,
        tags=sorted(set(tags)),
        doc_md="\n\n".join(doc_md(spec, root) for spec in streams),
        default_args=default_args,
    ) as dag:
        common = {"job_file": job_file, "config_root": str(root.root)}

        def queue(task_id: str) -> dict[str, str]:
            name = run.queue_for(task_id)
            return {"queue": name} if name else {}

        # the source is checked once, with the first stream's settings
        validate = DativoValidateOperator(task_id="validate", retries=0, stream=streams[0].stream,
                                          **common, **queue("validate"))
        for spec in streams:
            suffix = "" if spec.stream is None else f"__{task_suffix(spec.stream)}"
            load: DativoLoadOperator | DativoPartitionedLoadOperator
            if spec.partitions is not None:
                # plan >> extract mapped over the parts >> one load of them all
                plan = DativoPlanOperator(task_id=f"plan{suffix}", stream=spec.stream, **common,
                                          **queue("extract"))
                cap = ({} if spec.partitions.parallelism is None
                       else {"max_active_tis_per_dagrun": spec.partitions.parallelism})
                parts = DativoPartExtractOperator.partial(
                    task_id=f"extract{suffix}", stream=spec.stream, **common, **cap,
                    **queue("extract")).expand(part=plan.output)
                load = DativoPartitionedLoadOperator(
                    task_id=f"load{suffix}", plan_task_id=plan.task_id, stream=spec.stream,
                    outlets=[lineage.table_alias(spec)], **common, **queue("load"))
                validate >> plan >> parts >> load
                continue
            extract = DativoExtractOperator(task_id=f"extract{suffix}", stream=spec.stream,
                                            **common, **queue("extract"))
            # the table's Asset, published through an alias (lineage.table_alias says why):
            # downstream DAGs scheduled on it run after each load
            load = DativoLoadOperator(task_id=f"load{suffix}", extract_task_id=extract.task_id,
                                      stream=spec.stream, outlets=[lineage.table_alias(spec)],
                                      **common, **queue("load"))
            validate >> extract >> load
    return dag


def build_error_dag(dag_id: str, paths: list[Path], error: ConfigError, root: ConfigRoot
                    ) -> DAG:
    """The placeholder of invalid jobs: one task that fails with the errors. Several files
    share one placeholder when they claim the same DAG id, since two DAGs cannot."""
    with DAG(
        dag_id=dag_id,
        description="invalid dativo job: see the failing task",
        schedule=None,
        start_date=START_DATE,
        catchup=False,
        tags=["dativo", "invalid-config"],
        doc_md=f"# {dag_id}: invalid config\n\n```\n{error}\n```",
    ) as dag:
        DativoConfigErrorOperator(task_id="invalid_config", errors=str(error),
                                  job_file=", ".join(root.display(p) for p in paths), retries=0)
    return dag


def add_clashes(dags: dict[str, DAG], specs: dict[str, tuple[JobSpec, ...]],
                config: ConfigRoot, folder: Path) -> None:
    """Name in each DAG's doc the DAG files whose Asset declarations clash with its tables."""
    tables = {lineage.table_uri(spec): config.display(Path(spec.file))
              for streams in specs.values() for spec in streams}
    found = asset_declarations.clashes(folder, tables)
    for dag_id, streams in specs.items():
        issues = [i for spec in streams for i in found.get(lineage.table_uri(spec), [])]
        if issues:
            dags[dag_id].doc_md = (dags[dag_id].doc_md or "") + "\n\n## Asset clashes\n\n" + \
                "\n".join(f"- {issue}" for issue in issues)


def build_dags(root: str | Path | None = None) -> dict[str, DAG]:
    """One DAG per job under ``<root>/jobs/<tenant>/``; only the running DAG when Airflow asks.

    Every job file is read (not resolved) each time, so a DAG id or table two jobs claim is
    refused the same way whichever DAG is built.
    """
    config = ConfigRoot(root)
    wanted = get_parsing_context().dag_id
    claims = [job_claim(config, path) for path in config.job_files()]
    collisions = collision_issues(claims, config.display)
    files: dict[str, list[Path]] = {}
    for claim in claims:
        files.setdefault(claim.dag_id, []).append(claim.file)
    dags: dict[str, DAG] = {}
    specs: dict[str, tuple[JobSpec, ...]] = {}
    for dag_id, paths in files.items():
        if wanted and dag_id != wanted:
            continue  # a task runs: building the other DAGs would only cost time
        issues: list[ConfigIssue] = []
        streams: tuple[JobSpec, ...] = ()
        for path in paths:
            issues += collisions.get(path, [])
            try:
                streams = config.load_streams(path)
            except ConfigError as exc:
                issues += exc.issues
        if issues:
            error = ConfigError(issues)
            log.error("dativo job %s is invalid:\n%s",
                      ", ".join(config.display(p) for p in paths), error)
            dags[dag_id] = build_error_dag(dag_id, paths, error, config)
        else:
            dags[dag_id] = build_job_dag(streams, config)
            specs[dag_id] = streams
    if not wanted:  # a running task has no use for its doc: skip reading the DAG folder
        from airflow.sdk.configuration import conf

        folder = Path(conf.get("core", "dags_folder"))
        if folder.is_dir():
            add_clashes(dags, specs, config, folder)
    return dags
