"""Thin Airflow operators over the runner steps: validate, extract, load.

Each task loads the job from its YAML at run time (cheap and cached), so a task never depends on
objects pickled at parse time, and works the same on any executor.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException

from airflow_provider_dativo.config import airflow_refs
from airflow_provider_dativo.config.loader import ConfigRoot
from airflow_provider_dativo.config.specs import JobSpec
from airflow_provider_dativo.operators import lineage
from airflow_provider_dativo.operators.cli_test import failing_at_once
from airflow_provider_dativo.operators.secrets import AirflowResolver, mask_job_secrets

if TYPE_CHECKING:
    from airflow_provider_dativo.run_manifest import RunManifest

# The runner (pyarrow, pyiceberg, engines) is imported inside execute: DAG files import this
# module, and parsing should not pay for what only a running task needs.


class DativoJobOperator(BaseOperator):
    """Base of the dativo operators: which job, under which config root."""

    template_fields: Sequence[str] = ("job_file", "config_root", "stream")
    ui_color = "#e8f4fd"

    def __init__(self, *, job_file: str, config_root: str, stream: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job_file = job_file
        self.config_root = config_root
        self.stream = stream  # one stream of a multi-stream job; None for a single-stream job

    # whether the task works on one stream: then a multi-stream job must say which
    per_stream = False

    def load_job(self) -> JobSpec:
        root = ConfigRoot(self.config_root)
        if self.per_stream and self.stream is None:
            streams = root.load_streams(self.job_file)
            if len(streams) > 1:
                raise AirflowException(
                    f"{self.job_file} has {len(streams)} streams "
                    f"({', '.join(str(s.stream) for s in streams)}); give this "
                    f"{type(self).__name__} stream= one of them (generated DAGs have an "
                    "extract and a load task per stream)")
        job = root.load_job(self.job_file, stream=self.stream)
        mask_job_secrets(job)
        return job

    def on_kill(self) -> None:
        """Stop connector processes and containers this task started."""
        from airflow_provider_dativo.engines.launchers import stop_running

        stopped = stop_running()
        if stopped:
            self.log.info("stopped %d connector process(es)", stopped)

    @contextlib.contextmanager
    def resolving(self, job: JobSpec) -> Iterator[None]:
        """Airflow connection and Variable references resolve inside this block only, and the
        job's connectors run where its hook says (a docker_conn_id's engine)."""
        from airflow_provider_dativo.hooks.connectors import hook_for

        with failing_at_once(), airflow_refs.using(AirflowResolver()), \
                hook_for(job, self.job_file, self.config_root).session():
            yield

    # OpenLineage: which of the job's datasets this task reads and writes
    lineage_inputs = False
    lineage_outputs = False

    # what this attempt's load landed, for the output dataset's facets (``landed``)
    _landed: dict[str, Any] | None = None

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        return lineage.openlineage(self.load_job(), inputs=self.lineage_inputs,
                                   outputs=self.lineage_outputs, landed=self._landed)

    def landed(self, job: JobSpec, manifest: Any, result: Any) -> None:
        """Keep what a load committed for its lineage: the quality results, and rows, bytes,
        files and null counts when it committed (a no-op retry wrote nothing). Called inside
        ``resolving``: the null counts read the staged files' footers through the target."""
        metrics = None
        if result.committed and _lineage_enabled():
            from airflow_provider_dativo.operators.lineage_facets import run_metrics

            metrics = run_metrics(job, manifest, result.rows)
        self._landed = {"quality": list(result.quality), "metrics": metrics}

    def publish(self, context: Any, job: JobSpec, run_id: str, result: Any) -> None:
        """The table's asset event, with what landed as its extra, through the outlet alias.

        Emitted on a no-op retry too (``committed`` false): an attempt that committed and then
        failed never had its event recorded, and its downstream DAGs still wait for it.
        """
        alias = lineage.table_alias(job)
        if not any(getattr(o, "name", None) == alias.name for o in self.outlets):
            return  # a hand-built operator without the alias: nothing to publish through
        extra = lineage.event_extra(job, run_id, result)
        context["outlet_events"][alias].add(lineage.table_asset(job), extra=extra)
        self.log.info("asset event for %s: %s", lineage.table_uri(job), extra)


def _lineage_enabled() -> bool:
    """Whether Airflow's OpenLineage provider is installed and on, so facets are worth making."""
    try:
        from airflow.providers.openlineage import conf
    except ImportError:
        return False
    return not conf.is_disabled()


class DativoValidateOperator(DativoJobOperator):
    """Config and contract load, secrets resolve, the source answers its check and the target
    is reachable (catalog answers, namespace exists or is created)."""

    def execute(self, context: Any) -> dict[str, Any]:
        job = self.load_job()
        self.log.info("config of %s is valid (contract %s v%s)", job.dag_id, job.contract.name,
                      job.contract.version)
        from airflow_provider_dativo import runner

        with self.resolving(job):
            result = runner.validate_step(job)
        self.log.info("source check passed: %s", result["source_check"])
        self.log.info("target check passed: %s", result["target_check"])
        return result


class DativoExtractOperator(DativoJobOperator):
    """Reads the source into staged Parquet; returns the small run manifest (XCom)."""

    ui_color = "#fdf3e8"
    lineage_inputs = True
    per_stream = True

    def execute(self, context: Any) -> dict[str, Any]:
        job = self.load_job()
        logical = logical_date(context)
        from airflow_provider_dativo import run_manifest, runner

        with self.resolving(job):
            manifest = runner.extract_run(job, context["run_id"],
                                          ingest_date=logical.date() if logical else None)
            if logical is not None:
                # for a load that finds no XCom: `airflow tasks test` keeps none between tasks
                run_manifest.write_dated(job, logical.isoformat(), manifest)
        return manifest.to_dict()


class DativoLoadOperator(DativoJobOperator):
    """Commits the staged files and the new state to the target, once per run id."""

    ui_color = "#e9f7ec"
    lineage_outputs = True
    per_stream = True

    def __init__(self, *, extract_task_id: str = "extract", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.extract_task_id = extract_task_id

    def execute(self, context: Any) -> dict[str, Any]:
        job = self.load_job()
        from airflow_provider_dativo import runner

        with self.resolving(job):
            manifest = self.manifest(context, job)
            result = runner.load_step(job, manifest)
            self.landed(job, manifest.to_dict(), result)
        self.publish(context, job, manifest.run_id, result)
        return dataclasses.asdict(result)

    def manifest(self, context: Any, job: JobSpec) -> RunManifest:
        """The extract's manifest: from XCom, else from staging, where extract keeps it under
        its run id and its logical date (``airflow tasks test`` keeps no XCom between tasks)."""
        from airflow_provider_dativo import run_manifest

        pulled = context["ti"].xcom_pull(task_ids=self.extract_task_id)
        if pulled:
            return run_manifest.RunManifest.from_dict(pulled)
        logical = logical_date(context)
        found = run_manifest.find(job, context["run_id"],
                                  None if logical is None else logical.isoformat())
        if found is not None:
            self.log.info("no manifest in XCom from task '%s'; read the one extract kept in "
                          "staging for run %s", self.extract_task_id, found.run_id)
            return found
        date = "" if logical is None else f" {logical.isoformat()}"
        raise AirflowException(
            f"no manifest from task '{self.extract_task_id}' for run {context['run_id']!r}"
            f"{' (logical date' + date + ')' if date else ''}, neither in XCom nor in staging: "
            f"run extract for that date first (airflow tasks test {self.dag_id} "
            f"{self.extract_task_id}{date or ' DATE'}), then this load")


def logical_date(context: Any) -> Any:
    """The run's logical date (its data interval's start for a run without one), or None."""
    return context.get("logical_date") or context.get("data_interval_start")


class DativoConfigErrorOperator(BaseOperator):
    """Stands in for a job whose config is invalid: it fails with the validation errors."""

    ui_color = "#fde8e8"

    def __init__(self, *, errors: str, job_file: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.errors = errors
        self.job_file = job_file

    def execute(self, context: Any) -> None:
        raise AirflowException(
            f"invalid dativo job {self.job_file}:\n{self.errors}\n"
            "Fix the file (run `dativo validate` to see every error); the DAG is rebuilt on the "
            "next parse.")
