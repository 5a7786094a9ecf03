"""custom_plugin: the example plugin end to end, loading by module:Class and by entry point,
registry/mode rules, and errors that name the plugin."""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow as pa
import pytest

from airflow_provider_dativo import runner
from airflow_provider_dativo.config.loader import ConfigRoot
from airflow_provider_dativo.engines import StateUpdate
from airflow_provider_dativo.engines.plugin import PluginSource, load_class
from airflow_provider_dativo.errors import ConfigError, ContractViolation, EngineError
from tests.conftest import write

JOB = "jobs/examples/inventory.yaml"


def test_example_plugin_job_lands_in_iceberg_once_per_file_version(config_root: Path) -> None:
    job = ConfigRoot(config_root).load_job(config_root / JOB)
    assert job.source_engine == "custom_plugin"
    manifest, result = runner.run_job(job, "run-1")
    assert result.committed and manifest["rows"] == 3
    rows = {r["sku"]: r for r in runner.open_job_target(job).load_table().scan().to_arrow()
            .to_pylist()}
    assert rows["A-102"]["name"] == "Notebook ✎" and rows["A-101"]["stock"] == 3
    assert str(rows["A-100"]["price"]) == "19.90"
    assert list(manifest["state"]["source"]["files"]) == [
        "examples/data/inventory/warehouse_a.kv"]
    assert runner.run_job(job, "run-2")[0]["rows_read"] == 0  # nothing new
    write(config_root / "examples/data/inventory/warehouse_b.kv",
          "sku: B-1\nname: bad sku\nstock: -1\n")
    with pytest.raises(ContractViolation, match="pattern:sku=1"):
        runner.run_job(job, "run-3")  # the contract checks plugin rows like any other


def test_cloud_mode_refuses_a_plugin_the_registry_keeps_self_hosted(config_root: Path) -> None:
    text = (config_root / JOB).read_text()
    write(config_root / JOB, "mode: cloud\n" + text)
    with pytest.raises(ConfigError, match="'inventory' is not allowed in cloud mode"):
        ConfigRoot(config_root).load_job(config_root / JOB)
    registry = (config_root / "registry/connectors.yaml").read_text()
    write(config_root / "registry/connectors.yaml", registry.replace(
        "    modes: [self_hosted]\n    incremental: true\n    status: experimental",
        "    modes: [self_hosted, cloud]\n    incremental: true\n    status: experimental"))
    assert ConfigRoot(config_root).load_job(config_root / JOB).mode == "cloud"


def test_entry_point_loading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # an installed distribution that declares the reader as an entry point
    dist = tmp_path / "site"
    write(dist / "dativo_inventory-1.0.dist-info/METADATA",
          "Metadata-Version: 2.1\nName: dativo-inventory\nVersion: 1.0\n")
    write(dist / "dativo_inventory-1.0.dist-info/entry_points.txt",
          "[dativo.plugins]\ninventory = examples.plugins.kv_records:KeyValueReader\n")
    monkeypatch.syspath_prepend(str(dist))
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2]))
    reader_cls = load_class("inventory")
    assert reader_cls.__name__ == "KeyValueReader"
    write(tmp_path / "in/x.kv", "sku: A-1\nname: x\n\nsku: A-2\nname: y\n")
    source = PluginSource("inventory", reader_cls({"path": "in/*.kv",
                                                   "config_root": str(tmp_path)}))
    assert source.check().ok and [s.name for s in source.discover()] == ["items"]
    items = list(source.read("items", None))
    assert isinstance(items[0], pa.RecordBatch) and isinstance(items[-1], StateUpdate)


class Misbehaves:
    def __init__(self, config: dict) -> None:
        self.config = config

    def check(self) -> bool:
        raise RuntimeError("cannot reach the thing")

    def discover(self) -> list[str]:
        return ["s"]

    def read(self, stream: str, state: dict | None):
        yield pa.table({"a": [1]})
        yield [1, 2, 3]


def test_plugin_errors_name_the_plugin_and_the_fix(config_root: Path) -> None:
    with pytest.raises(EngineError, match="neither 'module:Class' nor an entry point"):
        load_class("no_such_plugin")
    with pytest.raises(EngineError, match="module 'nowhere' not found"):
        load_class("nowhere:Reader")
    with pytest.raises(EngineError, match="has no 'Nope'"):
        load_class("examples.plugins.kv_records:Nope", config_root)
    assert load_class("examples.plugins.kv_records:KeyValueReader", config_root)
    assert "examples" not in sys.modules or config_root.as_posix() not in sys.path
    source = PluginSource("tests:Misbehaves", Misbehaves({}))
    with pytest.raises(EngineError, match=r"plugin 'tests:Misbehaves' check\(\) failed: "
                                          "RuntimeError: cannot reach the thing"):
        source.check()
    items = source.read("s", None)
    assert isinstance(next(items), pa.RecordBatch)
    with pytest.raises(EngineError, match="yielded a list; yield pyarrow RecordBatch"):
        next(items)
    with pytest.raises(EngineError, match="lacks check, discover, read"):
        PluginSource("x:Y", object())
    text = (config_root / JOB).read_text().replace("    path: examples/data/inventory/*.kv\n",
                                                    "    other: 1\n")
    job = ConfigRoot(config_root).load_job(write(config_root / JOB, text))
    with pytest.raises(EngineError, match=r"could not start: ValueError: source\.connection\.path"):
        runner.validate_step(job)


LATE_ROWS = """\
import pyarrow as pa
from airflow_provider_dativo.engines.base import RecordsDone
from examples.plugins.kv_records import KeyValueReader


class LateRows(KeyValueReader):
    \"\"\"The example reader, saying when its last rows are out (then, with ``again``, breaking
    its word).\"\"\"

    def __init__(self, config):
        super().__init__(config)
        self.again = config.get("again", False)

    def read(self, stream, state):
        items = list(super().read(stream, state))
        rows = [i for i in items if isinstance(i, pa.RecordBatch)]
        yield from rows
        yield RecordsDone()
        if self.again:
            yield rows[0]
        yield from (i for i in items if not isinstance(i, pa.RecordBatch))
"""


@pytest.mark.parametrize("again", [False, True])
def test_a_plugin_may_say_its_last_rows_are_out(config_root: Path, again: bool) -> None:
    write(config_root / "late_rows.py", LATE_ROWS)
    text = (config_root / JOB).read_text().replace(
        "examples.plugins.kv_records:KeyValueReader", "late_rows:LateRows")
    job = ConfigRoot(config_root).load_job(write(config_root / JOB,
                                                 text + f"    again: {str(again).lower()}\n"))
    if again:
        with pytest.raises(EngineError, match="sent rows after it said it had sent its last"):
            runner.run_job(job, "late")
        assert runner.open_job_target(job).read_state() is None
        return
    manifest, result = runner.run_job(job, "late")
    # the files were finished at RecordsDone; the checkpoint after it is still committed
    assert result.committed and manifest["rows"] == 3 and len(manifest["files"]) == 1
    assert list(manifest["state"]["source"]["files"]) == [
        "examples/data/inventory/warehouse_a.kv"]
