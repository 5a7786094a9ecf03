"""Adding a real third-party connector, as a user does: ``dativo new connector --pip/--image``,
``dativo spec``, ``dativo asset draft`` and ``dativo connectors install``, against connector
packages installed for real from a local wheel folder (tests/connector_packages/)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import BIN, REPO
from tests.connector_packages import build_all, offline_env


@pytest.fixture(scope="session")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_all(tmp_path_factory.mktemp("wheels"))


@pytest.fixture
def env(wheels: Path, tmp_path: Path) -> dict[str, str]:
    out = {"PATH": f"{BIN}:/usr/bin:/bin", "COLUMNS": "80", "HOME": str(tmp_path),
           "DATIVO_CONNECTORS_HOME": str(tmp_path / "connectors-home"), **offline_env(wheels)}
    if "PYTHONPATH" in os.environ:  # the checkout under test, not the installed one
        out["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return out


def dativo(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "dativo"), "--root", str(root), *args],
                          capture_output=True, text=True, timeout=300, env=env)


def generated_test_passes(root: Path, env: dict[str, str], name: str) -> str:
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-p", "no:xdist", f"tests/connectors/test_{name}.py"], cwd=root,
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_airbyte_package_scaffold_from_its_spec_and_discover(config_root: Path,
                                                            env: dict[str, str]) -> None:
    made = dativo(config_root, env, "new", "connector", "acme_items", "--engine", "airbyte",
                  "--pip", "dativo-test-source==1.2.0", "--set", "base_url=http://api.test",
                  "--set", "api_key=live-key", "--set", "count=4")
    assert made.returncode == 0, made.stdout + made.stderr
    assert "note" not in made.stdout, made.stdout
    recipe = yaml.safe_load((config_root / "connectors/acme_items.yaml").read_text())
    engine = recipe["default_engine"]
    assert engine == {"type": "airbyte", "command": "source-dativo-test",
                      "pip": "dativo-test-source==1.2.0", "options": {"launcher": "local"}}
    # the spec's required keys, as placeholders; the secret one also masked through auth
    # a --set value is the recipe's own, unless the spec calls it a secret
    assert recipe["connection"] == {"base_url": "http://api.test",
                                    "api_key": "${ACME_ITEMS_API_KEY}", "count": 4}
    assert [a["env"] for a in recipe["auth"]["required"]] == ["ACME_ITEMS_API_KEY"]
    assert recipe["objects"] == [{"name": "items", "cursor_field": "updated_at",
                                  "primary_key": "id"}]
    asset = yaml.safe_load((config_root / "assets/acme_items/v1.0/items.yaml").read_text())
    assert [(c["name"], c["type"]) for c in asset["schema"]] == [
        ("id", "long"), ("name", "string"), ("price", "double"), ("updated_at", "timestamptz")]
    registry = yaml.safe_load((config_root / "registry/connectors.yaml").read_text())
    assert registry["connectors"]["acme_items"]["modes"] == ["self_hosted"]
    job_text = (config_root / "tests/fixtures/jobs/acme_items.yaml").read_text()
    assert "live-key" not in job_text  # a secret given with --set is never written
    assert dativo(config_root, env, "validate").returncode == 0
    assert "4 passed" in generated_test_passes(config_root, env, "acme_items")
    # the sample job runs against the connector as scaffolded
    ran = dativo(config_root, env, "run", "tests/fixtures/jobs/acme_items.yaml")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "rows committed" in ran.stdout


def test_singer_package_scaffold_from_about(config_root: Path, env: dict[str, str]) -> None:
    made = dativo(config_root, env, "new", "connector", "crm_people", "--engine", "singer",
                  "--pip", "dativo-test-tap==0.4.0")
    assert made.returncode == 0, made.stdout + made.stderr
    recipe = yaml.safe_load((config_root / "connectors/crm_people.yaml").read_text())
    assert recipe["default_engine"]["command"] == "tap-dativo-test"
    assert recipe["connection"] == {"base_url": "${CRM_PEOPLE_BASE_URL}",
                                    "password": "${CRM_PEOPLE_PASSWORD}"}
    assert [a["name"] for a in recipe["auth"]["required"]] == ["password"]
    assert dativo(config_root, env, "validate").returncode == 0
    assert "4 passed" in generated_test_passes(config_root, env, "crm_people")


def test_a_tap_without_about_is_scaffolded_with_a_note(config_root: Path,
                                                      env: dict[str, str]) -> None:
    made = dativo(config_root, env, "new", "connector", "old_tap", "--engine", "singer",
                  "--pip", "dativo-test-old-tap==0.1.0")
    assert made.returncode == 0, made.stdout + made.stderr
    assert "publishes no spec" in " ".join(made.stdout.split())
    assert "connection: {}" in (config_root / "connectors/old_tap.yaml").read_text()
    assert dativo(config_root, env, "validate").returncode == 0
    assert "3 passed" in generated_test_passes(config_root, env, "old_tap")
    spec = dativo(config_root, env, "spec", "--connector", "old_tap")
    assert spec.returncode == 0 and "this tap publishes no spec" in spec.stdout


def test_an_image_scaffolds_the_docker_form(config_root: Path, env: dict[str, str]) -> None:
    image = "dativo/source-faker:7.2.1"  # built by `make docker-engine`; no pull needed
    made = dativo(config_root, {**env, "DOCKER_HOST": os.environ.get("DOCKER_HOST", "")},
                  "new", "connector", "faker_image", "--engine", "airbyte", "--image", image)
    assert made.returncode == 0, made.stdout + made.stderr
    recipe = yaml.safe_load((config_root / "connectors/faker_image.yaml").read_text())
    assert recipe["default_engine"] == {"type": "airbyte", "image": image,
                                        "options": {"launcher": "docker"}}
    registry = yaml.safe_load((config_root / "registry/connectors.yaml").read_text())
    assert registry["connectors"]["faker_image"]["modes"] == ["self_hosted", "cloud"]
    assert dativo(config_root, env, "validate").returncode == 0
    generated_test_passes(config_root, env, "faker_image")


@pytest.mark.parametrize(("args", "said"), [
    (("--pip", "dativo-test-source"), "is not pinned: give PACKAGE==VERSION"),
    (("--pip", "dativo-test-source>=1"), "is not pinned"),
    (("--image", "airbyte/source-x"), "has no tag: give IMAGE:TAG"),
])
def test_unpinned_packages_and_untagged_images_are_refused(config_root: Path,
                                                          env: dict[str, str],
                                                          args: tuple[str, ...],
                                                          said: str) -> None:
    made = dativo(config_root, env, "new", "connector", "x_conn", "--engine", "airbyte", *args)
    assert made.returncode == 1 and said in " ".join(made.stderr.split())
    assert not (config_root / "connectors/x_conn.yaml").exists()


def test_spec_prints_the_config_keys_at_80_columns(config_root: Path,
                                                  env: dict[str, str]) -> None:
    dativo(config_root, env, "new", "connector", "acme_items", "--engine", "airbyte",
           "--pip", "dativo-test-source==1.2.0")
    shown = dativo(config_root, env, "spec", "--connector", "acme_items")
    assert shown.returncode == 0, shown.stdout + shown.stderr
    lines = shown.stdout.splitlines()
    assert max(len(line) for line in lines if line[:1] in "┏┃┡│└") <= 80
    assert "…" not in shown.stdout
    api_key = next(line for line in lines if "api_key" in line)
    assert api_key.count("yes") == 2  # required and secret
    listed = json.loads(dativo(config_root, env, "spec", "--connector", "acme_items",
                               "--json").stdout)
    assert {k["key"]: (k["type"], k["required"], k["default"], k["secret"])
            for k in listed} == {"base_url": ("string", True, None, False),
                                 "api_key": ("string", True, None, True),
                                 "page_size": ("integer", False, 100, False),
                                 "count": ("integer", False, 3, False)}
    found = dativo(config_root, env, "discover", "--connector", "acme_items", "--columns",
                   "--set", "base_url=http://api.test", "--set", "api_key=k")
    assert found.returncode == 0, found.stdout + found.stderr
    table = [line for line in found.stdout.splitlines() if line[:1] in "┏┃┡│└"]
    assert max(len(line) for line in table) <= 80 and "…" not in found.stdout
    assert "updated_at: string (date-time)" in " ".join(found.stdout.replace("│", " ").split())
    native = dativo(config_root, env, "spec", "--connector", "postgres")
    assert native.returncode == 1 and "has no connector spec" in native.stderr


def test_spec_of_a_singer_job(config_root: Path, env: dict[str, str]) -> None:
    dativo(config_root, env, "new", "connector", "crm_people", "--engine", "singer",
           "--pip", "dativo-test-tap==0.4.0")
    listed = json.loads(dativo(config_root, env, "spec", "--job",
                               "tests/fixtures/jobs/crm_people.yaml", "--json").stdout)
    secret = {k["key"]: k["secret"] for k in listed}
    assert secret == {"base_url": False, "password": True, "user": False, "start_date": False}


def test_asset_draft_from_a_jobs_discover(config_root: Path, env: dict[str, str]) -> None:
    dativo(config_root, env, "new", "connector", "crm_people", "--engine", "singer",
           "--pip", "dativo-test-tap==0.4.0")
    drafted = dativo(config_root, env, "asset", "draft", "--job",
                     "tests/fixtures/jobs/crm_people.yaml", "--stream", "people")
    assert drafted.returncode == 0, drafted.stdout + drafted.stderr
    path = config_root / "assets/crm_people/v1.0/people.yaml"
    asset = yaml.safe_load(path.read_text())
    assert asset["object"] == "people" and asset["source_type"] == "crm_people"
    assert asset["schema"][0] == {"name": "id", "type": "long", "required": True,
                                  "primary_key": True}
    assert "cursor: updated_at" in path.read_text()
    assert dativo(config_root, env, "validate", str(path)).returncode == 0
    again = dativo(config_root, env, "asset", "draft", "--job",
                   "tests/fixtures/jobs/crm_people.yaml", "--stream", "people")
    assert again.returncode == 1 and "exists" in again.stderr


@pytest.mark.parametrize("installer", ["uv", "pip"])
@pytest.mark.parametrize(("pip", "said"), [
    ("dativo-test-broken==1.0.0", "connector 'broken': dativo-test-broken needs "
     "dativo-missing-dependency==99.0, which no package index offers"),
    ("dativo-test-source==9.9", "connector 'broken': no release of dativo-test-source "
     "matches 'dativo-test-source==9.9'"),
    ("dativo-test-newpython==1.0.0", "dativo-test-newpython"),
])
def test_install_says_which_requirement_cannot_be_had(config_root: Path, env: dict[str, str],
                                                     installer: str, pip: str,
                                                     said: str) -> None:
    (config_root / "connectors/broken.yaml").write_text(
        f"type: broken\nversion: 1.0.0\ndefault_engine:\n  type: airbyte\n"
        f"  command: source-dativo-broken\n  pip: {pip}\n")
    run_env = dict(env)
    if installer == "pip":  # no uv beside the interpreter or on PATH
        run_env["PATH"] = "/usr/bin:/bin"
        argv = [sys.executable, "-m", "airflow_provider_dativo.cli"]
    else:
        argv = [str(BIN / "dativo")]
    done = subprocess.run([*argv, "--root", str(config_root), "connectors", "install",
                           "broken"], capture_output=True, text=True, timeout=300, env=run_env)
    assert done.returncode == 1
    message = " ".join(done.stderr.split())
    assert said in message, message
    if "newpython" in pip:  # refused by the resolver (uv) or by the check after pip
        assert "requires Python" in message and ">=3.99" in message, message
        assert "--python" in message
    assert "pin" in message.lower() and "Traceback" not in done.stderr
    assert "No solution found" not in message and "ERROR:" not in message  # no raw output
    assert not (Path(env["DATIVO_CONNECTORS_HOME"]) / "broken").exists()


def test_list_is_readable_at_80_columns(config_root: Path, env: dict[str, str]) -> None:
    listed = dativo(config_root, env, "list")
    assert listed.returncode == 0, listed.stderr
    assert "…" not in listed.stdout
    table = [line for line in listed.stdout.splitlines() if line[:1] in "┏┃┡│└"]
    assert table and max(len(line) for line in table) <= 80
    assert "acme" in listed.stdout and "orders" in listed.stdout
    assert "not shown at 80 columns: " in " ".join(listed.stdout.split())
    wide = dativo(config_root, env, "list", "--wide")
    assert "dativo__acme__orders " in wide.stdout
    jobs = json.loads(dativo(config_root, env, "list", "--json").stdout)
    assert {"dag_id": "dativo__acme__orders"}.items() <= next(
        j for j in jobs if j.get("job") == "orders").items()


def test_the_scaffold_reference_files_stay_in_the_repository() -> None:
    # the connector programs the tests install are plain modules of this repository
    assert (REPO / "tests/connector_packages/airbyte_source.py").is_file()
