"""Paths may not lead outside the config root: refused by ``dativo validate`` with file, line
and field, for source globs (``..``, linked folders and files), file targets and staging."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from airflow_provider_dativo import runner
from airflow_provider_dativo.config import paths
from airflow_provider_dativo.config.loader import ConfigRoot
from tests.conftest import BIN, write

ORDERS = "jobs/acme/orders.yaml"
HEADER = "order_id,customer_email,status,amount,currency,ordered_at\n"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder beside the config root holding a file no job may read."""
    write(tmp_path / "secret/s.csv", HEADER + "9,x@example.com,paid,1.00,EUR,"
          "2026-11-27T07:00:00Z\n")
    return tmp_path / "secret"


def orders_job(root: Path, path: str, tail: str = "") -> Path:
    job = root / ORDERS
    job.write_text(job.read_text().replace("examples/data/orders/*.csv", f'"{path}"') + tail)
    return job


def validate(root: Path, job: Path) -> list[str]:
    return [str(i) for i in ConfigRoot(root).validate([job]).all_issues()]


def test_validate_refuses_dot_dot_in_a_pattern(config_root: Path, outside: Path) -> None:
    # lexically inside (root/**/../secret is root/secret), but '**' may match no folder
    job = orders_job(config_root, "**/../secret/*.csv")
    issues = validate(config_root, job)
    assert len(issues) == 1
    assert issues[0].startswith(f"{job}:13: source.connection.path: path '**/../secret/*.csv' "
                                "has a '..' component")


def test_validate_refuses_a_wildcard_matching_a_linked_folder(config_root: Path,
                                                               outside: Path) -> None:
    (config_root / "examples/data/linked").symlink_to(outside)
    job = orders_job(config_root, "examples/data/*/*.csv")
    issues = validate(config_root, job)
    assert len(issues) == 1
    assert f"{job}:13: source.connection.path: path 'examples/data/*/*.csv' points outside " \
           f"the config root {config_root}" in issues[0]
    assert f"examples/data/linked leads to {outside}" in issues[0]
    assert "remove the link" in issues[0]


def test_validate_refuses_a_linked_folder_under_double_star(config_root: Path,
                                                           outside: Path) -> None:
    (config_root / "examples/data/orders/archive").symlink_to(outside)
    issues = validate(config_root, orders_job(config_root, "examples/data/**/*.csv"))
    assert len(issues) == 1 and "orders/archive leads to" in issues[0]


def test_validate_refuses_a_committed_link_to_a_file_outside(config_root: Path) -> None:
    (config_root / "examples/data/orders/zz.csv").symlink_to("/etc/passwd")
    job = orders_job(config_root, "examples/data/orders/*.csv")
    issues = validate(config_root, job)
    assert len(issues) == 1
    assert issues[0].startswith(f"{job}:13: source.connection.path: ")
    assert "orders/zz.csv leads to /etc/passwd" in issues[0]
    # and named directly, without a wildcard
    job.write_text(job.read_text().replace("orders/*.csv", "orders/zz.csv"))
    assert "orders/zz.csv' points outside" in validate(config_root, job)[0]


def test_links_that_stay_inside_are_followed_and_a_loop_ends(config_root: Path) -> None:
    data = config_root / "examples/data"
    (data / "orders/latest.csv").symlink_to(data / "orders/2026-11-26.csv")
    (data / "orders/loop").symlink_to(data)  # '**' must not walk this forever
    found = paths.glob_files(config_root, "examples/data/orders/**/*.csv")
    names = {m.path.name for m in found}
    assert names == {"2026-11-25.csv", "2026-11-26.csv", "latest.csv"}
    latest = next(m for m in found if m.path.name == "latest.csv")
    assert latest.real == data / "orders/2026-11-26.csv"  # the checked file is the one opened
    assert validate(config_root, orders_job(config_root, "examples/data/orders/*.csv")) == []


def test_an_absolute_pattern_is_allowed_only_inside_a_data_root(
        config_root: Path, outside: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    job = orders_job(config_root, f"{outside}/*.csv")
    issues = validate(config_root, job)
    assert len(issues) == 1 and f"points outside the config root {config_root}" in issues[0]
    assert "DATIVO_DATA_ROOT" in issues[0]
    monkeypatch.setenv("DATIVO_DATA_ROOT", f"/nonexistent{os.pathsep}{outside}")
    assert validate(config_root, job) == []
    assert [m.real for m in paths.glob_files(config_root, f"{outside}/*.csv")] == \
        [outside / "s.csv"]
    # a data root never admits config files: an asset must still be under the config root
    asset = outside / "orders.yaml"
    asset.write_text((config_root / "assets/file/v1.0/orders.yaml").read_text())
    job.write_text(job.read_text().replace("assets/file/v1.0/orders.yaml", str(asset)))
    assert f"{job}:8: asset_path: path '{asset}' points outside the config root" \
        in "\n".join(validate(config_root, job))


def test_a_pattern_outside_is_refused_before_its_folder_exists(config_root: Path,
                                                                tmp_path: Path) -> None:
    issues = validate(config_root, orders_job(config_root, f"{tmp_path}/later/*.csv"))
    assert len(issues) == 1 and f"'{tmp_path}/later/*.csv' points outside" in issues[0]


def test_a_relative_data_root_is_refused(config_root: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATIVO_DATA_ROOT", "data")
    issues = validate(config_root, orders_job(config_root, "examples/data/orders/*.csv"))
    assert "DATIVO_DATA_ROOT entry 'data' is not an absolute path" in issues[0]


PARQUET_TARGET = ("target_connector: iceberg", "target_connector: parquet",
                  "connectors/iceberg.yaml", "connectors/parquet.yaml")
MDKV_TARGET = ("target_connector: iceberg", "target_connector: markdown_kv",
               "connectors/iceberg.yaml", "connectors/markdown_kv.yaml")


@pytest.mark.parametrize("swap", [PARQUET_TARGET, MDKV_TARGET], ids=["parquet", "markdown_kv"])
@pytest.mark.parametrize("where", ["../x", "absolute", "file://absolute"])
def test_validate_refuses_a_file_target_path_outside(config_root: Path, tmp_path: Path,
                                                     swap: tuple[str, ...], where: str) -> None:
    target = where.replace("absolute", str(tmp_path / "elsewhere"))
    job = config_root / ORDERS
    text = job.read_text().replace(swap[0], swap[1]).replace(swap[2], swap[3])
    job.write_text(text + f"target:\n  connection:\n    path: {target}\n")
    issues = validate(config_root, job)
    assert len(issues) == 1
    assert issues[0].startswith(f"{job}:18: target.connection.path: path '{target}' ")
    assert ("has a '..' component" if ".." in target else "points outside") in issues[0]


def test_a_recipe_default_target_path_outside_points_into_the_recipe(config_root: Path) -> None:
    recipe = config_root / "connectors/parquet.yaml"
    recipe.write_text(recipe.read_text().replace("path: .dativo/parquet", "path: /var/tmp"))
    job = config_root / ORDERS
    job.write_text(job.read_text().replace(PARQUET_TARGET[0], PARQUET_TARGET[1])
                   .replace(PARQUET_TARGET[2], PARQUET_TARGET[3]))
    issues = validate(config_root, job)
    assert len(issues) == 1
    assert issues[0].startswith(f"{recipe}:12: connection.path: path '/var/tmp' points outside")


def test_a_staging_root_outside_is_refused_and_s3_is_left_alone(config_root: Path) -> None:
    job = orders_job(config_root, "examples/data/orders/*.csv",
                     "staging:\n  root: /var/tmp/staging\n")
    issues = validate(config_root, job)
    assert len(issues) == 1 and issues[0].startswith(f"{job}:17: staging.root: path '/var/tmp")
    job.write_text(job.read_text().replace("/var/tmp/staging", "s3://bucket/../staging"))
    assert validate(config_root, job) == []  # not a local path: the object store decides


def test_dativo_validate_prints_each_refused_path(config_root: Path, outside: Path) -> None:
    (config_root / "examples/data/orders/zz.csv").symlink_to("/etc/passwd")
    job = orders_job(config_root, "examples/data/orders/*.csv",
                     "target:\n  connection:\n    path: ../x\n")
    job.write_text(job.read_text().replace(PARQUET_TARGET[0], PARQUET_TARGET[1])
                   .replace(PARQUET_TARGET[2], PARQUET_TARGET[3]))
    out = subprocess.run([str(BIN / "dativo"), "--root", str(config_root), "validate",
                          str(job)], capture_output=True, text=True, check=False)
    assert out.returncode != 0
    text = out.stdout + out.stderr
    assert "orders.yaml:13: source.connection.path:" in text and "/etc/passwd" in text
    assert "orders.yaml:18: target.connection.path: path '../x' has a '..' component" in text


def test_an_http_sources_path_is_its_apis_not_a_local_one(config_root: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The native HTTP source's ``connection.path`` is a URL path on the API: validation
    leaves it alone, and the run reads the tickets from it."""
    from tests.connectors.test_http import KEY, serve

    monkeypatch.setenv("TOY_HTTP_API_KEY", KEY)
    rel = "jobs/examples/toy_http_tickets_native.yaml"
    with serve() as api:
        job = config_root / rel
        job.write_text(job.read_text().replace("https://mock.toy-http.dev", api).replace(
            "    records: data\n", "    records: data\n    path: /tickets\n"))
        assert validate(config_root, job) == []
        manifest, result = runner.run_job(ConfigRoot(config_root).load_job(job), "url-path")
    assert result.committed and manifest["rows"] == 12
    # a file source's path of the same text is still a local one, and refused
    issues = validate(config_root, orders_job(config_root, "/tickets"))
    assert len(issues) == 1 and "'/tickets' points outside the config root" in issues[0]


def test_the_extractors_reading_files_are_the_ones_whose_path_is_checked() -> None:
    """The loader's list of file-like native extractors follows the extractor table: each
    extractor built on the file source, and no other."""
    import importlib

    from airflow_provider_dativo.engines.native import EXTRACTORS, READS_FILES
    from airflow_provider_dativo.engines.native.files import FileSource

    def reads_files(module: str) -> bool:
        mod = importlib.import_module(f"airflow_provider_dativo.engines.native.{module}")
        return any(isinstance(obj, type) and issubclass(obj, FileSource)
                   and obj.__module__ == mod.__name__ for obj in vars(mod).values())

    assert {name for name, module in EXTRACTORS.items() if reads_files(module)} == \
        READS_FILES


def test_a_connector_images_path_is_inside_its_container(config_root: Path) -> None:
    """An Airbyte image reads ``connection.path`` in its container: validation leaves it
    alone; the same connector run on this machine reads a local file, which is checked."""
    job = config_root / "jobs/examples/faker_docker_users.yaml"
    job.write_text((config_root / "jobs/examples/faker_users.yaml").read_text().replace(
        "source_connector: faker\n", "source_connector: faker_docker\n").replace(
        "connectors/faker.yaml", "connectors/faker_docker.yaml").replace(
        "    count: 1000\n", "    count: 1000\n    path: /data/inside/the/image.csv\n").replace(
        "table: faker_users", "table: faker_image_users"))
    assert validate(config_root, job) == []
    local = config_root / "jobs/examples/faker_users.yaml"
    local.write_text(local.read_text().replace(
        "    count: 1000\n", "    count: 1000\n    path: /data/inside/the/image.csv\n"))
    issues = validate(config_root, local)
    assert len(issues) == 1 and "points outside the config root" in issues[0]
