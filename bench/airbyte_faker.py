"""Benchmark: Airbyte's source-faker alone beside the same read through `dativo run` into Iceberg.

1. `source-faker read` of the users stream with stdout to /dev/null: the connector's own time.
2. `dativo run` of jobs/examples/faker_users.yaml with the same count: check, discover, read,
   contract check, Parquet, Iceberg commit.
Prints both wall times and their ratio, plus dativo's extract time from the run manifest.
Asserts nothing.

    python bench/airbyte_faker.py --users 100000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(REPO))

from airflow_provider_dativo.config.loader import ConfigRoot  # noqa: E402
from airflow_provider_dativo.engines.connector_venvs import install  # noqa: E402

CONFIG = {"seed": 7, "records_per_slice": 1000, "always_updated": False, "parallelism": 2}


def timed(argv: list[str], env: dict[str, str],
          stdout: int | None = None) -> tuple[float, float]:
    """Wall seconds, and CPU seconds of the command and all its children (steadier on a busy
    machine)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=stdout)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    args = parser.parse_args()

    home = Path(os.environ.get("DATIVO_CONNECTORS_HOME")
                or Path(tempfile.gettempdir()) / "dativo-test-connectors")
    env = {**os.environ, "DATIVO_CONNECTORS_HOME": str(home)}
    os.environ["DATIVO_CONNECTORS_HOME"] = str(home)
    recipe = ConfigRoot(REPO).recipe(REPO / "connectors" / "faker.yaml")
    venv = install(REPO, "faker", recipe.default_engine)
    faker = str(venv / "bin" / "source-faker")

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        config = {**CONFIG, "count": args.users}
        (work / "config.json").write_text(json.dumps(config))
        catalog = subprocess.run([faker, "discover", "--config", str(work / "config.json")],
                                 capture_output=True, check=True).stdout
        streams = next(json.loads(line) for line in catalog.splitlines()
                       if line.startswith(b'{"type":"CATALOG"'))["catalog"]["streams"]
        users = next(s for s in streams if s["name"] == "users")
        (work / "catalog.json").write_text(json.dumps({"streams": [{
            "stream": users, "sync_mode": "incremental", "cursor_field": ["updated_at"],
            "destination_sync_mode": "append"}]}))
        alone = timed([faker, "read", "--config", str(work / "config.json"), "--catalog",
                       str(work / "catalog.json")], env, stdout=subprocess.DEVNULL)

        root = work / "config"
        for rel in ("connectors", "assets", "jobs", "registry"):
            shutil.copytree(REPO / rel, root / rel)
        job = root / "jobs/examples/faker_users.yaml"
        job.write_text(job.read_text().replace(
            "    count: 1000\n", "".join(f"    {k}: {json.dumps(v)}\n"
                                        for k, v in config.items())))
        through = timed([str(BIN / "dativo"), "--root", str(root), "run",
                         "jobs/examples/faker_users.yaml"], env, stdout=subprocess.DEVNULL)
        manifest = json.loads(next(root.glob(".dativo/staging/*/*/*/manifest.json")).read_text())

    print(f"users                       {args.users:,}")
    print(f"source-faker read alone     {alone[0]:7.2f} s wall  {alone[1]:7.2f} s CPU")
    print(f"dativo run -> Iceberg       {through[0]:7.2f} s wall  {through[1]:7.2f} s CPU  "
          f"({manifest['rows']:,} rows committed)")
    print(f"  of which extract          {manifest['seconds']:7.2f} s wall  (discover + read + "
          "contract check + Parquet)")
    print(f"ratio                       {through[0] / alone[0]:7.2f}x wall  "
          f"{through[1] / alone[1]:.2f}x CPU")


if __name__ == "__main__":
    main()
