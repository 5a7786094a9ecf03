"""A multi-stream job: one validate task, then extract >> load per stream, in real Airflow."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_dativo import runner
from airflow_provider_dativo.config.loader import ConfigRoot
from airflow_provider_dativo.operators.dativo import (
    DativoExtractOperator,
    DativoLoadOperator,
    DativoValidateOperator,
)
from tests.conftest import airflow

pytestmark = pytest.mark.airflow

DAG_ID = "dativo__demo__files_multi"
JOB = "jobs/examples/files_multi.yaml"


def rows(config_root: Path, stream: str) -> int:
    job = ConfigRoot(config_root).load_job(JOB, stream=stream)
    table = runner.open_job_target(job).load_table()  # type: ignore[attr-defined]
    return table.scan().to_arrow().num_rows


def test_each_stream_gets_its_own_tasks_and_table(airflow_env: dict[str, str],
                                                  config_root: Path) -> None:
    code = f"""
import json
from airflow.dag_processing.dagbag import DagBag
dag = DagBag().get_dag({DAG_ID!r})
print(json.dumps({{t.task_id: {{"up": sorted(t.upstream_task_ids),
                               "outlets": [a.name for a in t.outlets],
                               "stream": getattr(t, "stream", None),
                               "xcom_from": getattr(t, "extract_task_id", None)}}
                  for t in dag.tasks}}))
"""
    out = subprocess.run([sys.executable, "-c", code], env=airflow_env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-4000:]
    tasks = json.loads(out.stdout.strip().splitlines()[-1])
    assert set(tasks) == {"validate", "extract__orders", "load__orders", "extract__events",
                          "load__events"}
    assert tasks["validate"]["up"] == []
    for stream in ("orders", "events"):
        assert tasks[f"extract__{stream}"]["up"] == ["validate"]
        assert tasks[f"extract__{stream}"]["stream"] == stream
        load = tasks[f"load__{stream}"]
        assert load["up"] == [f"extract__{stream}"]
        assert load["xcom_from"] == f"extract__{stream}"
        assert len(load["outlets"]) == 1 and load["outlets"][0].endswith(f"multi_{stream}")

    airflow(airflow_env, "dags", "test", DAG_ID)
    # every sample order lands; of the 6 sample events, 2 break the contract (warn mode)
    assert (rows(config_root, "orders"), rows(config_root, "events")) == (8, 4)
    # a second run finds no new file version in either stream: nothing is duplicated
    airflow(airflow_env, "dags", "test", DAG_ID)
    assert (rows(config_root, "orders"), rows(config_root, "events")) == (8, 4)


def test_a_stream_task_of_a_multi_stream_job_must_name_its_stream(config_root: Path) -> None:
    from airflow.sdk.exceptions import AirflowException

    for operator in (DativoExtractOperator, DativoLoadOperator):
        task = operator(task_id="t", job_file=JOB, config_root=str(config_root))
        with pytest.raises(AirflowException, match=r"has 2 streams \(orders, events\); give "
                                                   f"this {operator.__name__} stream="):
            task.load_job()
    named = DativoExtractOperator(task_id="t", job_file=JOB, config_root=str(config_root),
                                  stream="events")
    assert named.load_job().stream == "events"
    # validating is about the job's connectors, which every stream shares
    validate = DativoValidateOperator(task_id="v", job_file=JOB, config_root=str(config_root))
    assert validate.load_job().stream == "orders"
