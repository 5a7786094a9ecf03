"""Multi-stream jobs: the either/or rule, per-stream specs, unknown streams, the cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_dativo.config.loader import ConfigRoot
from airflow_provider_dativo.errors import ConfigError
from tests.conftest import write

HEAD = """\
tenant_id: demo
source_connector: file
source_connector_path: connectors/file.yaml
target_connector: iceberg
target_connector_path: connectors/iceberg.yaml
"""
ORDERS = """\
  - object: orders
    asset: orders
    asset_path: assets/file/v1.0/orders.yaml
"""
EVENTS = """\
  - object: events
    asset: web_events
    asset_path: assets/file/v1.0/events.yaml
    connection:
      path: examples/data/events/*.jsonl
      format: jsonl
"""


def issues_of(root: Path, job: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        ConfigRoot(root).load_streams(root / job)
    return [str(i) for i in info.value.issues]


def test_each_stream_is_its_own_spec(config_root: Path) -> None:
    root = ConfigRoot(config_root)
    orders, events = root.load_streams("jobs/examples/files_multi.yaml")
    assert (orders.stream, orders.source_object, orders.table) == ("orders", "orders",
                                                                   "multi_orders")
    assert (events.stream, events.source_object, events.table) == ("events", "events",
                                                                   "multi_events")
    assert orders.dag_id == events.dag_id == "dativo__demo__files_multi"
    assert orders.contract.name == "orders" and events.contract.name == "web_events"
    # the stream's connection is merged over the job's (and the recipe's defaults)
    assert dict(orders.source_connection) == {"format": "csv",
                                              "path": "examples/data/orders/*.csv"}
    assert dict(events.source_connection) == {"format": "jsonl",
                                              "path": "examples/data/events/*.jsonl"}
    assert root.load_job("jobs/examples/files_multi.yaml", stream="events") is events
    assert root.load_job("jobs/acme/orders.yaml").stream is None
    assert root.load_streams("jobs/acme/orders.yaml") == (root.load_job("jobs/acme/orders.yaml"),)


def test_an_unknown_stream_is_a_clear_error(config_root: Path) -> None:
    root = ConfigRoot(config_root)
    with pytest.raises(ConfigError, match=r"unknown stream 'refunds'; the job's streams are: "
                       r"orders, events"):
        root.load_job("jobs/examples/files_multi.yaml", stream="refunds")
    # without a stream name: the first stream, for tools that need only the connectors
    assert root.load_job("jobs/examples/files_multi.yaml").stream == "orders"
    with pytest.raises(ConfigError, match="unknown stream 'orders'; the job's streams are: "
                       "none: a single-stream job"):
        root.load_job("jobs/acme/orders.yaml", stream="orders")


def test_a_job_names_its_asset_one_way(config_root: Path) -> None:
    write(config_root / "jobs/demo/neither.yaml", HEAD)
    assert issues_of(config_root, "jobs/demo/neither.yaml") == [
        f"{config_root}/jobs/demo/neither.yaml:1: 'asset' is required: add asset and asset_path "
        "(one stream), or a streams list (one item per source stream)"]
    write(config_root / "jobs/demo/both.yaml", HEAD + "asset: orders\nasset_path: "
          "assets/file/v1.0/orders.yaml\nsource:\n  object: orders\nstreams:\n" + ORDERS)
    found = issues_of(config_root, "jobs/demo/both.yaml")
    assert [f.split("both.yaml")[1] for f in found] == [
        ":6: asset: 'asset' and 'streams' are alternatives: move the asset into a streams "
        "item, or remove streams",
        ":7: asset_path: 'asset_path' and 'streams' are alternatives: move the asset into a "
        "streams item, or remove streams",
        ":9: source.object: with streams, set 'object' on each streams item instead of "
        "source.object"]
    write(config_root / "jobs/demo/dup.yaml", HEAD + "streams:\n" + ORDERS + ORDERS)
    found = issues_of(config_root, "jobs/demo/dup.yaml")
    assert [f.split("dup.yaml")[1] for f in found] == [
        ":10: streams[1].object: stream 'orders' is already used by streams[0]; each stream "
        "needs its own stream",
        ":10: streams[1].table: target table 'orders' is already used by streams[0]; each "
        "stream needs its own target table"]


def test_every_streams_asset_errors_are_reported(config_root: Path) -> None:
    write(config_root / "jobs/demo/bad.yaml", HEAD + "streams:\n" + ORDERS.replace(
        "asset: orders", "asset: order") + EVENTS.replace("events.yaml", "missing.yaml")
          + "  - object: x\n")
    found = issues_of(config_root, "jobs/demo/bad.yaml")
    text = "\n".join(found)
    assert "bad.yaml:16: streams[2]: 'asset' is required" in text
    assert "bad.yaml:16: streams[2]: 'asset_path' is required" in text
    write(config_root / "jobs/demo/bad.yaml", HEAD + "streams:\n" + ORDERS.replace(
        "asset: orders", "asset: order") + EVENTS.replace("events.yaml", "missing.yaml"))
    found = issues_of(config_root, "jobs/demo/bad.yaml")
    assert [f.split("bad.yaml")[1] for f in found] == [
        ":8: streams[0].asset: asset 'order' does not match the contract name 'orders' in "
        "assets/file/v1.0/orders.yaml",
        ":12: streams[1].asset_path: file 'assets/file/v1.0/missing.yaml' does not exist"]
    report = ConfigRoot(config_root).validate([config_root / "jobs/demo"])
    assert len(report.issues["job"]) == 2


def test_a_changed_stream_asset_is_seen(config_root: Path) -> None:
    root = ConfigRoot(config_root)
    first = root.load_streams("jobs/examples/files_multi.yaml")
    assert root.load_streams("jobs/examples/files_multi.yaml") is first
    asset = config_root / "assets/file/v1.0/events.yaml"  # the second stream's asset
    asset.write_text(asset.read_text().replace('version: "1.0"', 'version: "1.1"'))
    changed = root.load_streams("jobs/examples/files_multi.yaml")
    assert changed is not first
    assert changed[1].contract.version == "1.1"
