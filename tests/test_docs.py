"""The docs' examples are real: they validate and do what the docs say."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dativo.config.loader import ConfigRoot
from airflow_provider_dativo.contracts import arrow_schema, to_odcs, validate_official
from tests.conftest import REPO, write


def yaml_blocks(doc: Path) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", doc.read_text(), flags=re.S)


def test_the_minimal_asset_validates_and_exports(config_root: Path) -> None:
    (block,) = yaml_blocks(REPO / "docs/MINIMAL_ASSET_EXAMPLE.md")
    path = write(config_root / "assets/crm/v1.0/contacts.yaml", block)
    report = ConfigRoot(config_root).validate([path])
    assert report.all_issues() == [] and report.files["asset"] == ["assets/crm/v1.0/contacts.yaml"]
    contract = ConfigRoot(config_root).asset(path)
    assert contract.owner == "crm-team@example.com"
    assert contract.governance_properties()["dativo.owner"] == "crm-team@example.com"
    assert arrow_schema(contract).names == ["contact_id", "email", "lifecycle", "updated_at",
                                           "ingest_date"]
    doc = to_odcs(contract)
    assert validate_official(doc) == []
    assert doc["status"] == "active" and doc["id"]


def test_the_readme_job_is_the_shipped_job() -> None:
    readme_job = next(b for b in yaml_blocks(REPO / "README.md") if "tenant_id: acme" in b)
    shipped = (REPO / "jobs/acme/orders.yaml").read_text()
    for line in readme_job.splitlines():
        assert line.split("#")[0].rstrip() in shipped


def test_the_readme_streams_are_the_shipped_example() -> None:
    readme_streams = next(b for b in yaml_blocks(REPO / "README.md") if b.startswith("streams:"))
    shipped = (REPO / "jobs/examples/files_multi.yaml").read_text()
    assert readme_streams.strip() in shipped


def test_the_config_reference_is_generated_from_the_current_schemas() -> None:
    from airflow_provider_dativo.config.reference import render

    current = (REPO / "docs/CONFIG_REFERENCE.md").read_text()
    assert current == render(), ("docs/CONFIG_REFERENCE.md is stale: run `make docs` "
                                 "(python -m airflow_provider_dativo.config.reference)")
    for field in ("`tenant_id`", "`default_engine.type`", "`schema[].enum`",
                  "`connectors.<name>.modes`"):
        assert field in current


def test_the_connector_wrapper_runs_on_the_connectors_environment(config_root: Path,
                                                                  tmp_path: Path) -> None:
    """The guide's wrapper, for real: on a connector environment's Python, around a real
    Airbyte-protocol program installed there as ``source-faker``."""
    import json
    import os
    import subprocess
    import sys

    from airflow_provider_dativo import runner
    from tests.conftest import BIN

    guide = (REPO / "docs/CONNECTOR_DEVELOPMENT.md").read_text()
    section = guide.split("## Wrapping a connector", 1)[1].split("\n## ", 1)[0]
    (recipe,) = re.findall(r"```yaml\n(.*?)```", section, flags=re.S)
    (script,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    write(config_root / "connectors/faker.yaml", recipe)
    write(config_root / "connectors/wrappers/faker_without_address.py", script)
    # the environment `dativo connectors install faker` would make, with a connector of the
    # test's own in place of source-faker (the suite runs offline)
    home = tmp_path / "connectors"
    venv = home / "faker"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    connector = venv / "bin" / "source-faker"
    connector.write_text(f"#!{venv / 'bin' / 'python'}\n"
                         + (REPO / "tests/engines/airbyte_script.py").read_text())
    connector.chmod(0o755)
    env = {"PATH": str(BIN), "COLUMNS": "200", "DATIVO_CONNECTORS_HOME": str(home),
           **({"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {})}

    done = subprocess.run([str(BIN / "dativo"), "--root", str(config_root), "discover",
                           "--connector", "faker", "--json", "--columns"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    (users,) = json.loads(done.stdout)
    assert "age" in users["columns"] and "address" not in users["columns"]

    job = "jobs/examples/faker_users.yaml"
    done = subprocess.run([str(BIN / "dativo"), "--root", str(config_root), "run", job],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    target: Any = runner.open_job_target(ConfigRoot(config_root).load_job(job))
    rows = target.load_table().scan().to_arrow()
    assert rows.num_rows > 0 and rows.column("age").null_count == 0
    assert rows.column("address").null_count == rows.num_rows  # the wrapper dropped it


def walk_throughs() -> dict[str, list[str]]:
    """The commands of each walk-through of the connector guide, by its title."""
    guide = (REPO / "docs/CONNECTOR_DEVELOPMENT.md").read_text()
    section = guide.split("## Walk-throughs", 1)[1].split("\n## ", 1)[0]
    found = {}
    for part in section.split("\n### ")[1:]:
        title = part.splitlines()[0]
        (block,) = re.findall(r"```bash\n(.*?)```", part, flags=re.S)
        found[title] = [line for line in block.splitlines() if line.strip()]
    return found


@pytest.mark.parametrize("title", sorted(walk_throughs()))
def test_each_connector_walk_through_runs_as_written(title: str, config_root: Path,
                                                     tmp_path: Path) -> None:
    """Every command of the walk-through, in a copy of the config repository, as a user types
    it (the packages come from PyPI, the image from `make docker-engine`)."""
    import os
    import subprocess

    from tests.conftest import BIN

    env = {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}", "COLUMNS": "80",
           "DATIVO_HOME": str(config_root),
           "DATIVO_CONNECTORS_HOME": str(tmp_path / "connectors-home")}
    for command in walk_throughs()[title]:
        done = subprocess.run(command, shell=True, cwd=config_root, env=env, text=True,
                              capture_output=True, timeout=900)
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
        assert "Traceback" not in done.stderr, command
        if command.startswith("dativo new connector"):
            assert "note" not in done.stdout, done.stdout  # it did all it says it does
