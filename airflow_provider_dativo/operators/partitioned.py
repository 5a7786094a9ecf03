"""Operators of a partitioned job: plan → extract (mapped over the parts) → load.

``plan`` returns the part descriptors (a small list, in XCom); the extract task is mapped over
them with Airflow's dynamic task mapping, so the executor spreads the parts over its workers; the
load gathers every part's manifest from staging and commits them together, once.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from airflow_provider_dativo.operators.dativo import (
    DativoExtractOperator,
    DativoJobOperator,
    logical_date,
)


class DativoPlanOperator(DativoJobOperator):
    """Splits the run's read into parts (one query of the partition column's min and max, or a
    listing of the files); returns the part descriptors."""

    ui_color = "#f3e8fd"
    per_stream = True

    def execute(self, context: Any) -> list[dict[str, Any]]:
        job = self.load_job()
        from airflow_provider_dativo import partitions

        with self.resolving(job):
            parts = partitions.plan_step(job)
        self.log.info("%d part(s): %s", len(parts), parts[:10])
        return parts


class DativoPartExtractOperator(DativoExtractOperator):
    """Extracts one part; its files and manifest go to the run's staging folder, and XCom
    carries only a summary (the load reads the manifests from staging)."""

    def __init__(self, *, part: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.part = part

    def execute(self, context: Any) -> dict[str, Any]:
        job = self.load_job()
        logical = logical_date(context)
        from airflow_provider_dativo import runner

        with self.resolving(job):
            manifest = runner.extract_run(job, context["run_id"], part=self.part,
                                          ingest_date=logical.date() if logical else None)
        return {"part": self.part["index"], "of": self.part["of"], "rows": manifest.rows,
                "rejected": manifest.rejected, "files": len(manifest.files)}


class DativoPartitionedLoadOperator(DativoJobOperator):
    """Gathers every part's manifest and commits all of them in one commit, once per run id."""

    ui_color = "#e9f7ec"
    lineage_outputs = True
    per_stream = True

    def __init__(self, *, plan_task_id: str = "plan", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.plan_task_id = plan_task_id

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowException

        job = self.load_job()
        parts = context["ti"].xcom_pull(task_ids=self.plan_task_id)
        if not parts:
            raise AirflowException(f"no parts from task '{self.plan_task_id}'; run it first")
        from airflow_provider_dativo import partitions, runner
        from airflow_provider_dativo.run_manifest import RunManifest

        with self.resolving(job):
            manifest = RunManifest.from_dict(partitions.gather(job, context["run_id"], parts))
            result = runner.load_step(job, manifest)
            self.landed(job, manifest.to_dict(), result)
        self.publish(context, job, manifest.run_id, result)
        return dataclasses.asdict(result)
