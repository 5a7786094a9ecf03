"""Partitioned runs: a PostgreSQL table and a large CSV split into parts, landed in one commit."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_dativo import partitions, runner
from airflow_provider_dativo.config.loader import ConfigRoot
from airflow_provider_dativo.engines.native.byte_ranges import LineRange, split_offsets
from airflow_provider_dativo.errors import ConfigError, EngineError, TargetError
from tests.conftest import write
from tests.services import Database

BIN = Path(sys.executable).parent

ASSET = """\
apiVersion: v3.0.2
kind: DataContract
id: 6b1f0c2e-1d9a-4f43-9a57-3f0f6c1d2e01
status: active
name: {name}
version: "1.0"
source_type: {source}
object: events
schema:
  - name: id
    type: long
    required: true
  - name: grp
    type: long
  - name: name
    type: string
  - name: at
    type: timestamp
"""

PG_JOB = """\
tenant_id: acme
source_connector: postgres
source_connector_path: connectors/postgres.yaml
asset: pg_events
asset_path: assets/postgres/v1.0/events.yaml
target_connector: iceberg
target_connector_path: connectors/iceberg.yaml
source:
  object: events
  connection:
    database: {database}
  partitions:
{partitions}
"""

CSV_JOB = """\
tenant_id: acme
source_connector: file
source_connector_path: connectors/file.yaml
asset: csv_events
asset_path: assets/file/v1.0/csv_events.yaml
target_connector: iceberg
target_connector_path: connectors/iceberg.yaml
source:
  connection:
    path: examples/data/big/*.csv
  partitions:
    count: {count}
"""


def pg_job(root: Path, db: Database, partitions_yaml: str, name: str = "pg_events"):
    """A job (and a table) of its own per ``name``; on MariaDB for a MySQL ``db``."""
    source = "postgres" if db.kind == "postgres" else "mysql"
    write(root / f"assets/{source}/v1.0/{name}.yaml", ASSET.format(name=name, source=source))
    text = PG_JOB.format(database=db.name, partitions=partitions_yaml)
    text = text.replace("asset: pg_events\nasset_path: assets/postgres/v1.0/events.yaml",
                        f"asset: {name}\nasset_path: assets/{source}/v1.0/{name}.yaml")
    text = text.replace("connectors/postgres.yaml", f"connectors/{source}.yaml").replace(
        "source_connector: postgres", f"source_connector: {source}")
    path = write(root / f"jobs/acme/{name}.yaml", text)
    return ConfigRoot(root).load_job(path)


def csv_job(root: Path, count: int, name: str = "csv_events"):
    write(root / "assets/file/v1.0/csv_events.yaml", ASSET.format(name="csv_events",
                                                                 source="file"))
    path = write(root / f"jobs/acme/{name}.yaml", CSV_JOB.format(count=count))
    return ConfigRoot(root).load_job(path)


def seed_pg(db: Database, rows: int = 1000) -> list[tuple]:
    """ids 1..rows; grp is id % 10, NULL for every 7th id."""
    if db.kind == "mysql":
        db.execute("CREATE TABLE events (id bigint PRIMARY KEY, grp bigint, name text, "
                   "at datetime NOT NULL)",
                   "INSERT INTO events SELECT seq, IF(seq % 7 = 0, NULL, seq % 10), "
                   "CONCAT('n', seq), TIMESTAMP '2026-01-01 00:00:00' + INTERVAL seq HOUR "
                   f"FROM seq_1_to_{rows}")
    else:
        db.execute("CREATE TABLE events (id bigint PRIMARY KEY, grp bigint, name text, "
                   "at timestamp NOT NULL)",
                   "INSERT INTO events SELECT g, CASE WHEN g % 7 = 0 THEN NULL ELSE g % 10 END, "
                   "'n' || g, timestamp '2026-01-01' + g * interval '1 hour' "
                   f"FROM generate_series(1, {rows}) g")
    start = dt.datetime(2026, 1, 1)
    return sorted((g, None if g % 7 == 0 else g % 10, f"n{g}", start + dt.timedelta(hours=g))
                  for g in range(1, rows + 1))


def landed(job) -> list[tuple]:
    table = runner.open_job_target(job).load_table()
    return sorted((r["id"], r["grp"], r["name"], r["at"])
                  for r in table.scan().to_arrow().to_pylist())


def snapshots(job) -> int:
    return len(runner.open_job_target(job).load_table().metadata.snapshots)


def big_csv(root: Path, rows: int) -> list[tuple]:
    start = dt.datetime(2026, 1, 1)
    lines = ["id,grp,name,at"]
    expected = []
    for i in range(1, rows + 1):
        at = start + dt.timedelta(seconds=i)
        grp = None if i % 7 == 0 else i % 10
        # names of varying length, so the byte cuts fall anywhere in a line
        name = f"n{i}" + "x" * (i % 13)
        lines.append(f"{i},{'' if grp is None else grp},{name},{at.isoformat()}")
        expected.append((i, grp, name, at))
    write(root / "examples/data/big/events.csv", "\n".join(lines) + "\n")
    return expected


# -- byte ranges -----------------------------------------------------------------------------
def test_line_ranges_tile_a_file_with_every_line_once(tmp_path: Path) -> None:
    lines = [b"header"] + [b"x" * (i % 5) + str(i).encode() for i in range(200)]
    data = b"\n".join(lines) + b"\n"
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    for parts in (1, 2, 3, 7, 50, len(data)):
        got: list[bytes] = []
        for offset, end in split_offsets(len(data), parts):
            with LineRange(open(path, "rb"), offset, end, len(data), header=True) as fh:
                text = fh.read()
            chunk = text.split(b"\n")[:-1] if text else []
            if offset > 0:
                assert chunk[0] == b"header"  # every part parses like a file of its own
                chunk = chunk[1:]
            got += chunk
        assert got == lines, parts


# -- validation ------------------------------------------------------------------------------
def test_sources_that_cannot_split_refuse_partitions(config_root: Path) -> None:
    path = config_root / "jobs/examples/toy_http_tickets.yaml"
    text = path.read_text()
    source_at = text.index("source:\n") + len("source:\n")
    path.write_text(text[:source_at] + "  partitions:\n    count: 2\n" + text[source_at:])
    result = subprocess.run([str(BIN / "dativo"), "--root", str(config_root), "validate"],
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert "toy_http_tickets.yaml" in result.stdout + result.stderr
    assert "cannot split its read into parts" in result.stdout + result.stderr


def test_database_partitions_need_a_column_and_contiguous_ranges(config_root: Path,
                                                                 pg_database: Database) -> None:
    with pytest.raises(ConfigError, match=r"needs source\.partitions\.column"):
        pg_job(config_root, pg_database, "    count: 2")
    with pytest.raises(ConfigError, match="sorted and contiguous"):
        pg_job(config_root, pg_database, "    column: id\n    ranges: [[0, 10], [20, 30]]")
    with pytest.raises(ConfigError, match="file source splits by count only"):
        write(config_root / "jobs/acme/csv_bad.yaml",
              CSV_JOB.format(count=2) + "    column: id\n")
        write(config_root / "assets/file/v1.0/csv_events.yaml",
              ASSET.format(name="csv_events", source="file"))
        ConfigRoot(config_root).load_job(config_root / "jobs/acme/csv_bad.yaml")


# -- PostgreSQL ------------------------------------------------------------------------------
def test_postgres_count_parts_land_every_row_once_in_one_snapshot(
        config_root: Path, pg_database: Database) -> None:
    expected = seed_pg(pg_database)
    job = pg_job(config_root, pg_database, "    column: grp\n    count: 3")
    parts = partitions.plan_step(job)
    # 0..9 in three ranges, open at the outer edges, and the NULLs on their own
    assert [(p["lo"], p["hi"], p["null"]) for p in parts] == [
        (None, 3, False), (3, 6, False), (6, None, False), (None, None, True)]
    manifest, result = partitions.run_parts(job, "run-pg", parallel=1)
    assert result.committed and result.rows == len(expected)
    assert manifest["parts"] == 4
    assert landed(job) == expected  # rows on the bounds 3 and 6 and NULL groups: each once
    assert snapshots(job) == 1


def test_mysql_count_and_interval_parts_land_every_row_once(
        config_root: Path, mysql_database: Database) -> None:
    expected = seed_pg(mysql_database, rows=500)
    job = pg_job(config_root, mysql_database, "    column: grp\n    count: 2")
    parts = partitions.plan_step(job)
    assert [(p["lo"], p["hi"], p["null"]) for p in parts] == [
        (None, 4, False), (4, None, False), (None, None, True)]
    _, result = partitions.run_parts(job, "my-1", parallel=2)
    assert result.rows == len(expected) and landed(job) == expected and snapshots(job) == 1
    daily = pg_job(config_root, mysql_database, "    column: at\n    interval: 7d",
                   name="my_weekly")
    # 500 hours from Thursday 2026-01-01 (epoch weeks start on Thursdays): three weeks
    assert [p["lo"] for p in partitions.plan_step(daily)] == [None, "2026-01-08T00:00:00",
                                                             "2026-01-15T00:00:00"]
    partitions.run_parts(daily, "my-2")
    assert landed(daily) == expected


def test_postgres_explicit_ranges_and_intervals_keep_rows_outside_them(
        config_root: Path, pg_database: Database) -> None:
    expected = seed_pg(pg_database, rows=300)
    job = pg_job(config_root, pg_database, "    column: id\n    ranges: [[100, 150], [150, 200]]")
    assert [(p["lo"], p["hi"]) for p in partitions.plan_step(job)] == [(None, 150), (150, None)]
    partitions.run_parts(job, "run-ranges")
    assert landed(job) == expected

    daily = pg_job(config_root, pg_database, "    column: at\n    interval: 1d", name="pg_daily")
    parts = partitions.plan_step(daily)
    assert len(parts) == 13  # 300 hours from 2026-01-01 01:00: thirteen calendar days
    assert parts[1]["lo"] == "2026-01-02T00:00:00"
    partitions.run_parts(daily, "run-daily")
    assert landed(daily) == expected


def test_parts_take_the_incremental_bound_and_the_cursor_is_their_max(
        config_root: Path, pg_database: Database) -> None:
    seed_pg(pg_database, rows=100)
    job = pg_job(config_root, pg_database, "    column: grp\n    count: 2")
    path = Path(job.file)
    text = path.read_text().replace("  partitions:", "  incremental:\n    cursor_field: id\n"
                                    "  partitions:")
    path.write_text(text)
    job = ConfigRoot(config_root).load_job(path)
    manifest, _ = partitions.run_parts(job, "inc-1")
    assert manifest["state"]["cursor"] == 100 and manifest["rows"] == 100
    pg_database.execute("INSERT INTO events VALUES (101, 1, 'n101', '2026-02-01'), "
                        "(102, NULL, 'n102', '2026-02-01'), (103, 9, 'n103', '2026-02-01')")
    manifest, _ = partitions.run_parts(job, "inc-2")
    assert manifest["rows"] == 3 and manifest["state"]["cursor"] == 103
    assert len(landed(job)) == 103


def test_parallel_run_in_processes_and_a_failing_part_commits_nothing(
        config_root: Path, pg_database: Database) -> None:
    expected = seed_pg(pg_database, rows=2000)
    job = pg_job(config_root, pg_database, "    column: id\n    count: 4")
    result = subprocess.run([str(BIN / "dativo"), "--root", str(config_root), "run",
                             "jobs/acme/pg_events.yaml", "--parallel", "2", "--run-id", "par-1"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 part(s)" in result.stdout
    assert landed(job) == expected and snapshots(job) == 1

    # a part whose read fails: the others' files stay uncommitted, the table is unchanged
    pg_database.execute("CREATE VIEW broken AS SELECT id, grp, name, at, "
                        "CASE WHEN id > 1500 THEN 1 / (id - id) ELSE 0 END AS boom FROM events")
    broken = pg_job(config_root, pg_database, "    column: id\n    count: 4")
    broken_path = Path(broken.file)
    broken_path.write_text(broken_path.read_text().replace("object: events", "object: broken"))
    broken = ConfigRoot(config_root).load_job(broken_path)
    with pytest.raises(EngineError, match="nothing of the run was committed") as info:
        partitions.run_parts(broken, "par-2", parallel=2)
    assert "part 3 of 4" in str(info.value) and "division by zero" in str(info.value)
    assert snapshots(job) == 1 and landed(job) == expected


def test_a_retried_part_replaces_its_own_files_and_a_missing_part_stops_the_load(
        config_root: Path, pg_database: Database) -> None:
    expected = seed_pg(pg_database, rows=500)
    job = pg_job(config_root, pg_database, "    column: id\n    count: 3")
    path = Path(job.file)  # the orphan cleanup takes uncommitted files at once
    path.write_text(path.read_text() + "target:\n  options:\n    orphan_retention_hours: 0\n")
    job = ConfigRoot(config_root).load_job(path)
    parts = partitions.plan_step(job)
    first = runner.extract_step(job, "retry-1", part=parts[0])
    runner.extract_step(job, "retry-1", part=parts[1])
    with pytest.raises(TargetError, match=r"part 2 of 3 .* has no manifest"):
        partitions.gather(job, "retry-1", parts)
    assert snapshots(job) == 0
    again = runner.extract_step(job, "retry-1", part=parts[0])  # the first part, retried
    assert {f["path"] for f in again["files"]}.isdisjoint(f["path"] for f in first["files"])
    assert all(".part-00000" in f["path"] for f in again["files"])
    runner.extract_step(job, "retry-1", part=parts[2])
    manifest = partitions.gather(job, "retry-1", parts)
    assert {f["path"] for f in manifest["files"]}.isdisjoint(f["path"] for f in first["files"])
    result = runner.load_step(job, manifest)
    assert result.committed and landed(job) == expected
    # the first attempt's files were never committed: the cleanup after the load took them
    assert not any(Path(f["path"].removeprefix("file://")).exists() for f in first["files"])
    assert all(Path(f["path"].removeprefix("file://")).exists() for f in manifest["files"])
    # the load retried: nothing twice
    again_manifest = partitions.gather(job, "retry-1", parts)
    assert not runner.load_step(job, again_manifest).committed
    assert landed(job) == expected and snapshots(job) == 1


# -- files -----------------------------------------------------------------------------------
def test_one_large_csv_splits_into_line_aligned_ranges(config_root: Path) -> None:
    expected = big_csv(config_root, 20_000)
    job = csv_job(config_root, 4)
    parts = partitions.plan_step(job)
    assert len(parts) == 4 and all(p["files"][0]["span"] for p in parts)
    manifest, result = partitions.run_parts(job, "csv-1", parallel=2)
    assert result.rows == len(expected) and manifest["parts"] == 4
    assert landed(job) == expected and snapshots(job) == 1
    # the file's version is committed whole: the next run reads nothing again
    assert partitions.plan_step(job) == [{"index": 0, "of": 1, "files": []}]
    manifest, _ = partitions.run_parts(job, "csv-2")
    assert manifest["rows"] == 0 and len(landed(job)) == len(expected)


def test_many_files_spread_over_parts_by_size(config_root: Path) -> None:
    for i, size in enumerate((50, 400, 30, 200, 10)):
        rows = "\n".join(f"{i * 1000 + j},{j % 3},n,2026-01-01T00:00:00" for j in range(size))
        write(config_root / f"examples/data/big/f{i}.csv", "id,grp,name,at\n" + rows + "\n")
    job = csv_job(config_root, 2)
    parts = partitions.plan_step(job)
    shares = [sorted(f["key"].rsplit("/", 1)[1] for f in p["files"]) for p in parts]
    assert shares == [["f1.csv"], ["f0.csv", "f2.csv", "f3.csv", "f4.csv"]]
    manifest, _ = partitions.run_parts(job, "files-1")
    assert manifest["rows"] == 690 and len(manifest["state"]["source"]["files"]) == 5
    assert len(landed(job)) == 690


def test_a_file_changed_after_the_plan_fails_its_part(config_root: Path) -> None:
    big_csv(config_root, 1000)
    job = csv_job(config_root, 2)
    parts = partitions.plan_step(job)
    with open(config_root / "examples/data/big/events.csv", "a") as fh:
        fh.write("1001,1,late,2026-01-01T00:00:00\n")
    with pytest.raises(EngineError, match="changed or went away since this run was planned"):
        runner.extract_step(job, "changed", part=parts[1])


def test_a_config_error_raised_in_a_worker_process_arrives_whole(config_root: Path) -> None:
    big_csv(config_root, 10)
    job = csv_job(config_root, 2)
    # the job file changes once this process loaded it: the plan's worker reads the new one
    path = config_root / "jobs/acme/csv_events.yaml"
    path.write_text(path.read_text().replace("  partitions:\n    count: 2\n", ""))
    with pytest.raises(ConfigError) as info:
        partitions.run_parts(job, "cfg-1", parallel=2)
    (issue,) = info.value.issues
    assert issue.path == "source.partitions" and issue.file == job.file
    assert f"job {job.dag_id} has no source.partitions" in issue.message
    assert str(info.value) == str(issue)
