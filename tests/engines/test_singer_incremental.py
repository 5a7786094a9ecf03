"""Singer INCREMENTAL end to end: a tap that behaves as pipelinewise-tap-postgres does
(``singer_pg_tap.py``) on the real PostgreSQL, two runs into Iceberg on the embedded SQLite
catalog, the tap's STATE committed and handed back, and ``dativo discover`` on it."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dativo import cli, runner
from airflow_provider_dativo.config.loader import ConfigRoot
from airflow_provider_dativo.engines.singer.source import (
    Replication,
    replication,
    select,
    stream_info,
)
from airflow_provider_dativo.errors import EngineError
from tests.conftest import write
from tests.services import Database

TAP = Path(__file__).with_name("singer_pg_tap.py")
JOB = "jobs/acme/pgtap_items.yaml"
STREAM = "public-items"
UTC = dt.UTC


def day(n: int, hours: int = 0) -> dt.datetime:
    return dt.datetime(2026, 1, 1, tzinfo=UTC) + dt.timedelta(days=n - 1, hours=hours)


def setup(root: Path, db: Database, *, key_in: str = "job", cursor: str = "updated_at",
          advertise_keys: bool = True) -> runner.JobSpec:
    """Recipe, registry entry, asset and job for the tap; the key named by the job's
    ``source.incremental`` (``key_in="job"``) or by the recipe's ``options.replication_key``."""
    options = f"  options:\n    replication_key: {cursor}\n" if key_in == "recipe" else ""
    write(root / "connectors/pgtap.yaml", f"""\
type: pgtap
version: 1.0.0
default_engine:
  type: singer
  command: [{sys.executable}, {TAP}]
{options}connection:
  host: 127.0.0.1
  user: postgres
""")
    registry = root / "registry/connectors.yaml"
    registry.write_text(registry.read_text().replace("connectors:\n", """connectors:
  pgtap:
    roles: [source]
    engines: [singer]
    default_engine: singer
    modes: [self_hosted]
    incremental: true
""", 1))
    write(root / "assets/pgtap/v1.0/items.yaml", """\
$schema: schemas/odcs/dativo-odcs-3.0.2-extended.schema.json
apiVersion: v3.0.2
kind: DataContract
name: pgtap_items
version: "1.0"
source_type: pgtap
object: items
schema:
  - {name: id, type: long, required: true, primary_key: true}
  - {name: name, type: string, required: true}
  - {name: updated_at, type: timestamptz, required: true}
target:
  file_format: iceberg
""")
    incremental = f"  incremental:\n    cursor_field: {cursor}\n" if key_in == "job" else ""
    write(root / JOB, f"""\
tenant_id: acme
source_connector: pgtap
source_connector_path: connectors/pgtap.yaml
asset: pgtap_items
asset_path: assets/pgtap/v1.0/items.yaml
target_connector: iceberg
target_connector_path: connectors/iceberg.yaml
source:
  object: {STREAM}
  connection:
    port: {db.port}
    dbname: {db.name}
    lookback_seconds: 86400
    advertise_keys: {str(advertise_keys).lower()}
{incremental}target:
  table: pgtap_items
  # the tap re-sends the row at its bookmark, and rows in its lookback: they replace themselves
  write_mode: upsert
""")
    return ConfigRoot(root).load_job(JOB)


def seed(db: Database) -> None:
    db.execute("CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, "
               "updated_at timestamptz NOT NULL)")
    for i, name in enumerate("abcde", 1):
        db.execute("INSERT INTO items VALUES (%s, %s, %s)", params=[i, name, day(i)])


def landed(job: runner.JobSpec) -> list[tuple[int, str, dt.datetime]]:
    table = runner.open_job_target(job).load_table().scan().to_arrow()  # type: ignore[attr-defined]
    return sorted((r["id"], r["name"], r["updated_at"]) for r in table.to_pylist())


def bookmark(job: runner.JobSpec) -> dict[str, Any]:
    state = runner.open_job_target(job).read_state()
    return state["source"]["singer"]["bookmarks"][STREAM]


@pytest.mark.parametrize("key_in", ["job", "recipe"])
def test_two_runs_land_every_row_the_tap_sends(config_root: Path, pg_database: Database,
                                               capsys: pytest.CaptureFixture[str],
                                               key_in: str) -> None:
    seed(pg_database)
    job = setup(config_root, pg_database, key_in=key_in)
    assert cli.main(["--root", str(config_root), "run", JOB, "--run-id", "first"]) == 0
    assert landed(job) == [(i, n, day(i)) for i, n in enumerate("abcde", 1)]
    assert bookmark(job) == {"last_replication_method": "INCREMENTAL",
                             "replication_key": "updated_at",
                             "replication_key_value": day(5).isoformat()}

    pg_database.execute(
        "UPDATE items SET name = 'b2', updated_at = %s WHERE id = 2", params=[day(6)])
    pg_database.execute("INSERT INTO items VALUES (6, 'f', %s)", params=[day(7)])
    # moved before the bookmark and out of the tap's lookback: the tap never sends it again
    pg_database.execute(
        "UPDATE items SET name = 'c-old', updated_at = %s WHERE id = 3", params=[day(1)])
    # a late row, older than the bookmark but inside the tap's lookback: the tap sends it
    pg_database.execute("INSERT INTO items VALUES (7, 'g', %s)", params=[day(5, -12)])
    capsys.readouterr()
    assert cli.main(["--root", str(config_root), "run", JOB, "--run-id", "second"]) == 0

    # row 3 keeps its first version: the second read started at the bookmark handed back
    assert landed(job) == [(1, "a", day(1)), (2, "b2", day(6)), (3, "c", day(3)),
                           (4, "d", day(4)), (5, "e", day(5)), (6, "f", day(7)),
                           (7, "g", day(5, -12))]
    assert bookmark(job)["replication_key_value"] == day(7).isoformat()


def test_the_tap_refuses_incremental_without_a_replication_key(
        tmp_path: Path, pg_database: Database) -> None:
    """The test tap fails where pipelinewise-tap-postgres fails: the catalog shape dativo
    wrote before (a selected stream, no replication metadata) and INCREMENTAL without a key."""
    seed(pg_database)
    config = write(tmp_path / "config.json", json.dumps(
        {"host": "127.0.0.1", "port": pg_database.port, "user": "postgres",
         "dbname": pg_database.name}))
    found = json.loads(subprocess.run([sys.executable, str(TAP), "--config", str(config),
                                       "--discover"], capture_output=True, check=True).stdout)

    def sync(catalog: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        path = write(tmp_path / "catalog.json", json.dumps(catalog))
        return subprocess.run([sys.executable, str(TAP), "--config", str(config), "--catalog",
                               str(path)], capture_output=True, text=True)

    only_selected = select(found, STREAM)
    for meta in only_selected["streams"][0]["metadata"][:1]:
        meta["metadata"].pop("replication-method")
    assert sync(only_selected).returncode != 0
    no_key = select(found, STREAM, Replication("INCREMENTAL"))
    failed = sync(no_key)
    assert failed.returncode != 0 and "No replication-key metadata" in failed.stderr
    assert sync(select(found, STREAM, Replication("INCREMENTAL", "updated_at"))).returncode == 0


def test_the_catalog_carries_the_replication_metadata(config_root: Path,
                                                      pg_database: Database) -> None:
    seed(pg_database)
    job = setup(config_root, pg_database)
    source = runner.open_source(job, job.resolved_source_connection())
    entry = next(e for e in source.catalog()["streams"] if e["tap_stream_id"] == STREAM)
    how = replication(entry, "updated_at", origin="x", connector="pgtap")
    configured = select({"streams": [entry]}, STREAM, how)["streams"][0]
    root = configured["metadata"][0]
    assert root["breadcrumb"] == []
    assert root["metadata"]["selected"] is True
    assert root["metadata"]["replication-method"] == "INCREMENTAL"
    assert root["metadata"]["replication-key"] == "updated_at"
    assert root["metadata"]["table-key-properties"] == ["id"]  # kept from the discover
    assert (configured["replication_method"], configured["replication_key"]) == (
        "INCREMENTAL", "updated_at")
    full = select({"streams": [entry]}, STREAM)["streams"][0]
    assert full["metadata"][0]["metadata"]["replication-method"] == "FULL_TABLE"
    assert "replication-key" not in full["metadata"][0]["metadata"]


def test_a_key_the_tap_does_not_offer_fails_naming_the_job_field(
        config_root: Path, pg_database: Database) -> None:
    seed(pg_database)
    job = setup(config_root, pg_database, cursor="name")
    with pytest.raises(EngineError, match=r"pgtap_items.yaml: source.incremental.cursor_field "
                       r"is 'name', .*valid-replication-keys: id, updated_at"):
        runner.run_job(job)


@pytest.mark.parametrize(("advertise_keys", "cursors"), [(True, ["id", "updated_at"]),
                                                         (False, [])])
def test_discover_reports_the_stream_incremental(
        config_root: Path, pg_database: Database, capsys: pytest.CaptureFixture[str],
        advertise_keys: bool, cursors: list[str]) -> None:
    """With valid-replication-keys the stream lists them; without (as the real tap discovers
    a table) it is still incremental on any column the job names."""
    seed(pg_database)
    setup(config_root, pg_database, advertise_keys=advertise_keys)
    capsys.readouterr()
    assert cli.main(["--root", str(config_root), "discover", "--job", JOB, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == [{"name": STREAM, "cursor_fields": cursors, "primary_key": ["id"],
                    "supports_incremental": True}]
    assert cli.main(["--root", str(config_root), "discover", "--job", JOB]) == 0
    table = capsys.readouterr().out
    assert STREAM in table and " yes " in table


def stream(root: dict[str, Any], **entry: Any) -> dict[str, Any]:
    return {"tap_stream_id": "s", "schema": {"properties": {"a": {}, "b": {}}},
            "metadata": [{"breadcrumb": [], "metadata": root}], **entry}


def test_forced_replication_methods_decide() -> None:
    full = stream({"forced-replication-method": "FULL_TABLE", "valid-replication-keys": ["a"]})
    assert not stream_info(full).supports_incremental
    with pytest.raises(EngineError, match=r"forces FULL_TABLE .*; remove job\.yaml: f"):
        replication(full, "a", origin="job.yaml: f", connector="t")
    assert replication(full, None, origin="o", connector="t") == Replication("FULL_TABLE")
    forced = stream({"forced-replication-method": "INCREMENTAL", "valid-replication-keys": ["b"]})
    assert stream_info(forced).supports_incremental
    # a tap that insists on INCREMENTAL keeps its one key when the job names none
    assert replication(forced, None, origin="o", connector="t") == Replication("INCREMENTAL", "b")
    plain = stream({})
    assert not stream_info(plain).supports_incremental  # nothing says it can, but it is asked
    assert replication(plain, "a", origin="o", connector="t") == Replication("INCREMENTAL", "a")
    with pytest.raises(EngineError, match="not a field of stream 's'"):
        replication(stream({"database-name": "d"}), "zz", origin="o", connector="t")
