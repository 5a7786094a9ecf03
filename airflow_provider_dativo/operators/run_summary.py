"""A job DAG's latest run as Airflow recorded it: each task's state and duration, and what the
extract staged and the load landed (their XCom). ``make demo`` prints it after ``airflow dags
test``, whose own output at a quiet log level says nothing about the tasks.

    python -m airflow_provider_dativo.operators.run_summary DAG_ID [RUN_ID]
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast


@dataclass(frozen=True)
class TaskLine:
    task_id: str
    state: str
    seconds: float | None
    detail: str  # rows staged or landed, from the task's XCom


def latest_run(dag_id: str, run_id: str | None = None) -> tuple[str, str, list[TaskLine]]:
    """The run (the newest when ``run_id`` is None): its id, its state and its tasks."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        query = select(DagRun).where(DagRun.dag_id == dag_id)
        if run_id is not None:
            query = query.where(DagRun.run_id == run_id)
        run = session.scalars(query.order_by(DagRun.id.desc()).limit(1)).first()
        if run is None:
            raise LookupError(f"DAG {dag_id} has no run{'' if run_id is None else ' ' + run_id}")
        tis = session.scalars(select(TaskInstance).where(
            TaskInstance.dag_id == dag_id, TaskInstance.run_id == run.run_id)).all()
        # get_many's Select is typed as rows of one-tuples; scalars() yields the models
        xcoms = cast("Sequence[XComModel]", session.scalars(
            XComModel.get_many(run_id=run.run_id, dag_ids=dag_id, key="return_value")).all())
        values = {x.task_id: XComModel.deserialize_value(x) for x in xcoms}
        order = {t: i for i, t in enumerate(("validate", "plan", "extract", "load"))}
        lines = [TaskLine(ti.task_id, str(ti.state or "none"), ti.duration,
                          _detail(values.get(ti.task_id)))
                 for ti in sorted(tis, key=lambda t: (order.get(t.task_id.split("_")[0], 9),
                                                      t.task_id, t.map_index))]
        return run.run_id, str(run.state), lines


def _detail(value: Any) -> str:
    if not isinstance(value, dict):
        return ""
    if "committed" in value:  # a load's CommitResult
        if not value["committed"]:
            return f"already committed to {value.get('table')}: nothing landed"
        return f"{value.get('rows', 0):,} rows landed in {value.get('table')}"
    if value.get("already_committed"):
        return "run already committed: nothing to extract"
    if "rows" in value:  # an extract's manifest
        return f"{value['rows']:,} rows staged, {value.get('rejected', 0):,} rejected"
    return ""


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or len(args) > 2:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    try:
        run_id, state, lines = latest_run(args[0], args[1] if len(args) > 1 else None)
    except LookupError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"run {run_id} of {args[0]}: {state}")
    width = max((len(line.task_id) for line in lines), default=4)
    for line in lines:
        took = "-" if line.seconds is None else f"{line.seconds:.1f} s"
        print(f"  {line.task_id:<{width}}  {line.state:<15} {took:>8}  {line.detail}".rstrip())
    return 0 if state == "success" else 1


if __name__ == "__main__":
    raise SystemExit(main())
