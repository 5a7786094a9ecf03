"""Real runs to the embedded Iceberg (SQLite) catalog that must read and write nothing outside
the config root, even when a link appears after the job was validated."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from airflow_provider_dativo import runner
from airflow_provider_dativo.config.loader import ConfigRoot
from airflow_provider_dativo.config.specs import freeze
from airflow_provider_dativo.engines.native.files import FileSource, FileSourceConfig
from airflow_provider_dativo.errors import ConfigError, EngineError
from airflow_provider_dativo.targets.registry import open_quarantine_target
from tests.conftest import write

ORDERS = "jobs/acme/orders.yaml"
QUARANTINE = "target:\n  options:\n    quarantine_table: true\n"


def warn_orders(root: Path, pattern: str = "examples/data/orders/*.csv", tail: str = QUARANTINE):
    """The orders job in warn mode with a quarantine table: a row it cannot parse is kept."""
    job = root / ORDERS
    job.write_text(job.read_text().replace("mode: strict", "mode: warn")
                   .replace("examples/data/orders/*.csv", f'"{pattern}"') + tail)
    return ConfigRoot(root).load_job(job)


def row_count(target) -> int:
    if target is None or not target.catalog().table_exists(target.table_identifier):
        return 0
    return target.load_table().scan().to_arrow().num_rows


def landed(job) -> tuple[int, int]:
    """Rows in the job's table and in its quarantine table."""
    return (row_count(runner.open_job_target(job)),
            row_count(open_quarantine_target(job, job.resolved_target_connection())))


def staged_quarantine(root: Path) -> list[Path]:
    return sorted((root / ".dativo/staging").rglob("quarantine/*.parquet"))


def test_a_link_to_etc_passwd_made_after_validation_is_refused_at_read_time(
        config_root: Path) -> None:
    job = warn_orders(config_root)  # validated: no link yet
    (config_root / "examples/data/orders/zz.csv").symlink_to("/etc/passwd")
    with pytest.raises(EngineError) as info:
        runner.run_job(job, "r-link")
    assert "source.connection.path: path 'examples/data/orders/*.csv' points outside the " \
           "config root" in str(info.value)
    assert "orders/zz.csv leads to /etc/passwd" in str(info.value)
    # an error of the job, not bad rows: nothing landed, nothing quarantined
    assert landed(job) == (0, 0)
    assert staged_quarantine(config_root) == []
    # and extract alone (the validate task already passed) refuses it just the same
    with pytest.raises(EngineError, match="leads to /etc/passwd"):
        runner.extract_step(job, "r-link-2")
    assert landed(job) == (0, 0) and staged_quarantine(config_root) == []


def test_a_linked_folder_made_after_a_good_run_is_refused(config_root: Path,
                                                          tmp_path: Path) -> None:
    job = warn_orders(config_root, "examples/data/*/*.csv")
    _, result = runner.run_job(job, "r-good")
    assert result.committed and landed(job) == (8, 0)
    outside = write(tmp_path / "secret/orders/s.csv", (config_root / "examples/data/orders/"
                                                       "2026-11-26.csv").read_text()).parent
    (config_root / "examples/data/linked").symlink_to(outside)
    with pytest.raises(EngineError, match="examples/data/linked leads to"):
        runner.run_job(job, "r-linked")
    assert landed(job) == (8, 0) and staged_quarantine(config_root) == []


def test_a_dot_dot_pattern_is_refused_by_the_source_too(config_root: Path,
                                                        tmp_path: Path) -> None:
    write(tmp_path / "secret/s.csv", "order_id\n1\n")
    job = warn_orders(config_root)
    # a spec that skipped validation still cannot read outside: the source checks for itself
    bypass = dataclasses.replace(job, source_connection=freeze(
        {**job.source_connection, "path": "**/../secret/*.csv"}))
    with pytest.raises(EngineError, match=r"has a '\.\.' component"):
        runner.run_job(bypass, "r-dotdot")
    assert landed(job) == (0, 0) and staged_quarantine(config_root) == []
    source = FileSource(FileSourceConfig(root=config_root, path="**/../secret/*.csv"))
    assert not source.check().ok and "'..' component" in source.check().message


def test_a_data_root_admits_an_absolute_pattern(config_root: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    write(data / "orders.csv", (config_root / "examples/data/orders/2026-11-26.csv").read_text())
    monkeypatch.setenv("DATIVO_DATA_ROOT", str(data))
    job = warn_orders(config_root, f"{data}/*.csv")
    _, result = runner.run_job(job, "r-data")
    assert result.committed and result.rows == landed(job)[0] > 0
    state = runner.open_job_target(job).read_state()
    # state names the file by its absolute path, as there is no config-root path for it
    assert state is not None and list(state["source"]["files"]) == [str(data / "orders.csv")]


def parquet_orders(root: Path, tail: str = ""):
    job = root / ORDERS
    job.write_text(job.read_text().replace("target_connector: iceberg", "target_connector: "
                                           "parquet").replace("connectors/iceberg.yaml",
                                                              "connectors/parquet.yaml") + tail)
    return ConfigRoot(root).load_job(job)


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


@pytest.mark.parametrize("where", ["../x", "absolute"])
def test_a_parquet_target_outside_writes_nothing(config_root: Path, tmp_path: Path,
                                                 where: str) -> None:
    outside = tmp_path / "x"
    job = parquet_orders(config_root)  # validated with the recipe's own path
    path = str(outside) if where == "absolute" else "../x"
    bypass = dataclasses.replace(job, target_connection=freeze(
        {**job.target_connection, "path": path}))
    with pytest.raises(ConfigError) as info:
        runner.run_job(bypass, "pq-out")
    issue = info.value.issues[0]
    assert issue.path == "target.connection.path" and issue.file == job.file
    assert ("'..' component" if where == "../x" else "points outside") in issue.message
    assert files_under(outside) == []


def test_a_parquet_folder_linked_outside_after_validation_writes_nothing(
        config_root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    job = parquet_orders(config_root)
    (config_root / ".dativo").mkdir(exist_ok=True)
    (config_root / ".dativo/parquet").symlink_to(outside)
    with pytest.raises(ConfigError, match="through a symlink"):
        runner.run_job(job, "pq-link")
    assert files_under(outside) == []
    os.unlink(config_root / ".dativo/parquet")
    _, result = runner.run_job(job, "pq-in")  # the same job writes where it should
    assert result.committed and files_under(config_root / ".dativo/parquet/acme/orders")


def test_the_markdown_kv_source_refuses_a_link_outside(tmp_path: Path) -> None:
    from airflow_provider_dativo.engines.native.markdown_kv import MarkdownKVSource

    write(tmp_path / "secret/doc.md", "# doc\nid:: 1\n")
    root = tmp_path / "config"
    write(root / "docs/a.md", "# doc\nid:: 2\n")
    (root / "docs/b.md").symlink_to(tmp_path / "secret/doc.md")
    source = MarkdownKVSource(FileSourceConfig(root=root, path="docs/*.md"), ["id"])
    with pytest.raises(EngineError, match=r"docs/b\.md leads to"):
        list(source.read("docs", None))
    os.unlink(root / "docs/b.md")
    assert [b.to_pylist() for b in source.read("docs", None) if hasattr(b, "to_pylist")] == \
        [[{"id": "2"}]]


def test_a_staging_folder_linked_outside_after_validation_gets_nothing(
        config_root: Path, tmp_path: Path) -> None:
    write(config_root / "examples/data/orders/bad.csv", "order_id\n1,2\n")  # one unparsed line
    job = warn_orders(config_root)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (config_root / ".dativo").mkdir(exist_ok=True)
    (config_root / ".dativo/staging").symlink_to(outside)
    with pytest.raises(ConfigError) as info:
        runner.run_job(job, "st-link")
    assert info.value.issues[0].path == "staging.root"
    assert "through a symlink" in info.value.issues[0].message
    assert files_under(outside) == [] and landed(job) == (0, 0)
