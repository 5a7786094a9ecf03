"""A connector read starts its process before the Arrow side of a run is imported.

pyarrow and pyiceberg take a few tenths of a second to import; `dativo run` loads its job and
spawns the connector first, so that time overlaps the connector's own start-up. Checked in a
fresh interpreter, as the test process has long imported everything.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO
from tests.engines.test_airbyte_protocol import JOB, make_job

LOAD = """
import sys
from pathlib import Path
from airflow_provider_dativo import cli, runner
from airflow_provider_dativo.config.loader import ConfigRoot
from airflow_provider_dativo.engines import airbyte, open_source, singer
root = ConfigRoot(Path(sys.argv[1]))
jobs = [root.load_job(root.root / job) for job in sys.argv[2:]]
print(sorted(m for m in ("pyarrow", "pyiceberg") if m in sys.modules))
"""

READ = LOAD + """
import json
arrow_at_spawn = []
sys.addaudithook(lambda event, _: event == "subprocess.Popen" and arrow_at_spawn.append(
    "airflow_provider_dativo.engines.jsonrecords" in sys.modules))
job = jobs[0]
items = list(open_source(job, job.resolved_source_connection()).read("users", None))
print(json.dumps([arrow_at_spawn, sum(getattr(i, "num_rows", 0) for i in items)]))
"""


def python(script: str, *args: str) -> list[str]:
    return subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True,
                          check=True, cwd=REPO).stdout.splitlines()


def test_loading_jobs_and_the_run_path_import_no_arrow() -> None:
    assert python(LOAD, str(REPO), "jobs/examples/faker_users.yaml",
                  "jobs/examples/jsonl_people.yaml") == ["[]"]


def test_a_read_spawns_its_connector_before_it_imports_the_arrow_side(config_root: Path) -> None:
    make_job(config_root, "ok")
    loaded, read = python(READ, str(config_root), JOB)
    assert loaded == "[]"
    # the connector starts for its spec and discover (filling the connector cache), then reads
    at_spawn, rows = json.loads(read)
    assert len(at_spawn) >= 1 and not any(at_spawn) and rows > 0
