"""Tasks run by ``airflow dags test`` and ``airflow tasks test``: fail at once, and visibly.

Both commands run the tasks in their own process. Under ``dags test`` a failed attempt with
retries left waits out the retry delay before the next one (a minute by default), so a broken
job seems to hang; under ``tasks test`` the command exits 0 whatever the task did, since Airflow
does not look at the task's state there. So a dativo task that fails under either command fails
without retrying (``AirflowFailException``), and under ``tasks test`` the process then exits 1
once Airflow has finished its own work (the temporary DAG run it made is removed by then).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import sys
from collections.abc import Iterator

from airflow.sdk.exceptions import AirflowFailException

log = logging.getLogger(__name__)

EXIT_CODE = 1


def airflow_test_command(argv: list[str] | None = None) -> str | None:
    """``"dags"`` or ``"tasks"`` when this process is ``airflow dags test`` or ``airflow tasks
    test``; None otherwise (a scheduler's worker, a test calling the operator)."""
    argv = sys.argv if argv is None else argv
    if len(argv) < 3 or argv[2] != "test" or argv[1] not in ("dags", "tasks"):
        return None
    program = os.path.basename(argv[0])
    if program != "airflow" and not argv[0].endswith(os.path.join("airflow", "__main__.py")):
        return None
    return argv[1]


@contextlib.contextmanager
def failing_at_once() -> Iterator[None]:
    """Under ``airflow dags test`` / ``tasks test``, a failure of the block fails the task
    without a retry, and ``tasks test`` exits non-zero; elsewhere errors pass through as they
    are (the job's retries apply)."""
    try:
        yield
    except AirflowFailException:
        _exit_nonzero_under_tasks_test()
        raise
    except Exception as exc:
        command = airflow_test_command()
        if command is None:
            raise
        _exit_nonzero_under_tasks_test()
        raise AirflowFailException(
            f"{exc} (not retried under `airflow {command} test`)") from exc


_registered = False


def _exit_nonzero_under_tasks_test() -> None:
    global _registered
    if airflow_test_command() != "tasks" or _registered:
        return
    _registered = True
    # Exit handlers run last-registered first: this one runs after the command returned, and
    # its os._exit skips the handlers registered before it, so it shuts logging down and
    # flushes the streams itself.
    atexit.register(_exit_failed)


def _exit_failed() -> None:
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(EXIT_CODE)
