"""The core (config, contracts, engines, targets, runner) imports without Airflow: the CLI and a
job run outside a scheduler need none of it, and importing it costs seconds per process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CORE = ("config", "contracts", "engines", "targets")

# Every module of the core packages, found by walking them (a new module is covered without
# naming it here), imported one by one; the first that brings in Airflow is named.
PROBE = """
import importlib, json, pkgutil, sys

import airflow_provider_dativo

def airflow_modules():
    return sorted(m for m in sys.modules if m == "airflow" or m.startswith("airflow."))

names = ["airflow_provider_dativo.runner"]
for sub in sys.argv[1:]:
    package = importlib.import_module("airflow_provider_dativo." + sub)
    names += [m.name for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")]
culprit = None
for name in names:
    importlib.import_module(name)
    if culprit is None and airflow_modules():
        culprit = name
print(json.dumps({"package": airflow_provider_dativo.__file__, "imported": names,
                  "culprit": culprit, "airflow": airflow_modules()[:10]}))
"""


def test_core_modules_import_without_airflow(tmp_path: Path) -> None:
    # a fresh interpreter: this test process has Airflow loaded by other tests and plugins
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)}
    result = subprocess.run([sys.executable, "-c", PROBE, *CORE], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(found["package"]).resolve().is_relative_to(REPO)
    imported = set(found["imported"])
    # the walk reached the modules a run goes through, not only the package roots
    for module in ("runner", "config.loader", "contracts.checks", "engines.native.files",
                   "engines.airbyte.source", "targets.iceberg", "targets.quarantine"):
        assert f"airflow_provider_dativo.{module}" in imported
    assert found["culprit"] is None and found["airflow"] == [], (
        f"{found['culprit']} imports Airflow ({', '.join(found['airflow'])}); nothing below "
        "operators may: import it inside the function that needs it")
