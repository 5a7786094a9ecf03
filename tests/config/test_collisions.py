"""Two jobs with one DAG id, or writing one table, are refused, each naming the other."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from airflow_provider_dativo.config.loader import ConfigRoot
from tests.conftest import BIN, write

FAKER = "jobs/examples/faker_users.yaml"


def copy_job(root: Path, rel: str, to: str, *edits: tuple[str, str]) -> Path:
    text = (root / rel).read_text()
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    return write(root / to, text)


def job_errors(root: Path, paths: list[Path] | None = None) -> list[str]:
    report = ConfigRoot(root).validate(paths)
    return [str(i).replace(f"{root}/", "") for i in report.all_issues()]


def parquet_job(root: Path, name: str, table: str, path: str | None = None) -> Path:
    connection = f"  connection:\n    path: {path}\n" if path else ""
    return copy_job(root, FAKER, f"jobs/examples/{name}.yaml",
                    ("target_connector: iceberg", "target_connector: parquet"),
                    ("connectors/iceberg.yaml", "connectors/parquet.yaml"),
                    ("target:\n", f"target:\n{connection}"),
                    ("table: faker_users", f"table: {table}"))


def test_two_files_with_one_dag_id_are_both_refused_naming_each_other(
        config_root: Path) -> None:
    copy_job(config_root, FAKER, "jobs/acme/faker_users.yaml",
             ("table: faker_users", "table: faker_users_copy"))
    result = subprocess.run([str(BIN / "dativo"), "--root", str(config_root), "validate"],
                            capture_output=True, text=True, timeout=120,
                            env={**os.environ, "COLUMNS": "400"})
    assert result.returncode == 1
    errors = sorted(line.replace(f"{config_root}/", "") for line in result.stdout.splitlines()
                    if line.startswith("error"))
    message = ("DAG id dativo__demo__faker_users is also the DAG id of {}; each job needs its "
               "own: give one of them another name (it defaults to the file name) or tenant_id")
    assert errors == [
        f"error jobs/acme/faker_users.yaml:1: tenant_id: {message.format(FAKER)}",
        f"error {FAKER}:1: tenant_id: {message.format('jobs/acme/faker_users.yaml')}"]
    assert "jobs" in result.stdout and "2 invalid" in result.stdout
    # a name of its own settles it
    copy_job(config_root, "jobs/acme/faker_users.yaml", "jobs/acme/faker_users.yaml",
             ("tenant_id: demo\n", "tenant_id: demo\nname: faker_users_copy\n"))
    assert job_errors(config_root) == []


def test_two_jobs_writing_one_table_need_shared_on_both(config_root: Path) -> None:
    again = copy_job(config_root, FAKER, "jobs/examples/faker_again.yaml")
    table = "iceberg table demo.faker_users (catalog dativo)"
    assert job_errors(config_root) == [
        f"jobs/examples/faker_again.yaml:13: target.table: {table} is also written by {FAKER}; "
        f"jobs that write one table must all set target.shared: true (missing in "
        f"jobs/examples/faker_again.yaml, {FAKER}), or write different tables",
        f"{FAKER}:13: target.table: {table} is also written by jobs/examples/faker_again.yaml; "
        f"jobs that write one table must all set target.shared: true (missing in "
        f"jobs/examples/faker_again.yaml, {FAKER}), or write different tables"]
    copy_job(config_root, FAKER, FAKER, ("target:\n", "target:\n  shared: true\n"))
    errors = job_errors(config_root)
    assert len(errors) == 2 and all(f"(missing in {again.relative_to(config_root)})" in e
                                    for e in errors)
    copy_job(config_root, "jobs/examples/faker_again.yaml", "jobs/examples/faker_again.yaml",
             ("target:\n", "target:\n  shared: true\n"))
    assert job_errors(config_root) == []


def test_a_selected_job_is_checked_against_the_others(config_root: Path) -> None:
    again = copy_job(config_root, FAKER, "jobs/examples/faker_again.yaml")
    errors = job_errors(config_root, [again])
    assert len(errors) == 1
    assert errors[0].startswith("jobs/examples/faker_again.yaml:13: target.table: iceberg table "
                                f"demo.faker_users (catalog dativo) is also written by {FAKER}")


def test_each_stream_of_a_multi_stream_job_claims_its_table(config_root: Path) -> None:
    copy_job(config_root, FAKER, "jobs/examples/events_too.yaml",
             ("table: faker_users", "table: multi_events"))
    errors = job_errors(config_root)
    assert len(errors) == 2
    assert errors[0].startswith("jobs/examples/events_too.yaml:13: target.table: iceberg table "
                                "demo.multi_events (catalog dativo) is also written by "
                                "jobs/examples/files_multi.yaml")
    assert errors[1].startswith("jobs/examples/files_multi.yaml:17: streams[1].table: iceberg "
                                "table demo.multi_events (catalog dativo) is also written by "
                                "jobs/examples/events_too.yaml")


@pytest.mark.parametrize(("catalog", "collides"), [
    ("{}", True),  # both in the embedded catalog
    ("{name: dativo}", True),
    ("{type: sql, uri: 'sqlite:///other.db'}", False),
    ("{name: analytics}", False),
])
def test_iceberg_tables_are_one_when_catalog_namespace_and_name_are(
        config_root: Path, catalog: str, collides: bool) -> None:
    copy_job(config_root, FAKER, "jobs/examples/faker_again.yaml",
             ("target:\n",
              f"target:\n  connection:\n    namespace: demo\n    catalog: {catalog}\n"))
    assert bool(job_errors(config_root)) is collides


def test_file_tables_are_one_when_their_folder_is(config_root: Path) -> None:
    parquet_job(config_root, "p1", "landed", "out/files")
    parquet_job(config_root, "p2", "landed", "./out//files/")
    errors = job_errors(config_root)
    folder = "out/files/demo/landed"  # under the config root, as job_errors shows it
    assert [e.split(": ", 2)[2].split(";")[0] for e in errors] == [
        f"the table folder {folder} is also written by jobs/examples/p2.yaml",
        f"the table folder {folder} is also written by jobs/examples/p1.yaml"]
    parquet_job(config_root, "p2", "landed", "out/elsewhere")
    parquet_job(config_root, "p3", "landed")  # the recipe's default folder
    assert job_errors(config_root) == []


def test_a_quarantine_table_is_a_table_the_job_writes(config_root: Path) -> None:
    copy_job(config_root, FAKER, FAKER,
             ("target:\n", "target:\n  options:\n    quarantine_table: true\n"))
    copy_job(config_root, FAKER, "jobs/examples/faker_bad_rows.yaml",
             ("table: faker_users", "table: faker_users_quarantine"),
             ("  options:\n    quarantine_table: true\n", ""))
    errors = job_errors(config_root)
    assert len(errors) == 2
    assert "iceberg table demo.faker_users_quarantine (catalog dativo) is also written by" \
        in errors[0]


def test_the_shipped_jobs_claim_distinct_dag_ids_and_tables() -> None:
    from tests.conftest import REPO

    assert job_errors(REPO) == []
