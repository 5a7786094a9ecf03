"""The Singer protocol on a real tap process (``singer_script.py``): stream selection, SCHEMA,
RECORD, BATCH files, STATE round trip, and a record for an unselected stream."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pyarrow as pa
import pytest

from airflow_provider_dativo.engines.base import PendingState, RunStopped, StateUpdate
from airflow_provider_dativo.engines.launchers.local import LocalLauncher
from airflow_provider_dativo.engines.singer import SingerSource
from airflow_provider_dativo.errors import EngineError

SCRIPT = Path(__file__).with_name("singer_script.py")


def tap(tmp_path: Path, scenario: str = "ok", cache_dir: Path | None = None) -> SingerSource:
    return SingerSource(LocalLauncher([sys.executable, str(SCRIPT)]),
                        {"folder": str(tmp_path), "scenario": scenario}, connector="widgets",
                        cache_dir=cache_dir)


def test_reads_reuse_a_discover_and_a_check_always_asks_the_tap(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = tmp_path / "calls.txt"
    monkeypatch.setenv("SINGER_SCRIPT_CALLS", str(calls))
    source = tap(tmp_path, cache_dir=tmp_path / "cache")
    list(source.read("people", None))
    list(source.read("people", None))
    assert calls.read_text().split() == ["discover", "sync", "sync"]
    assert source.check().ok  # a check proves the connection: never from the cache
    assert calls.read_text().split().count("discover") == 2


def test_discover_reads_the_catalog_document(tmp_path: Path) -> None:
    streams = {s.name: s for s in tap(tmp_path).discover()}
    assert set(streams) == {"people", "pets"}
    assert streams["people"].primary_key == ("id",)
    assert streams["people"].cursor_fields == ("id",)


def test_records_batches_and_state_round_trip(tmp_path: Path,
                                              caplog: pytest.LogCaptureFixture) -> None:
    source = tap(tmp_path)
    with caplog.at_level("INFO"):
        items = list(source.read("people", None))
    assert "selected ['people']" in caplog.text  # only the job's stream was selected
    rows = pa.Table.from_batches([i for i in items if isinstance(i, pa.RecordBatch)])
    assert rows.column("id").to_pylist() == [1, 2, 3]
    assert rows.column("tags").to_pylist() == ['["x"]', None, None]  # arrays as JSON text
    assert isinstance(items[-1], StateUpdate)
    state = dict(items[-1].state)
    assert state == {"singer": {"bookmarks": {"people": {"id": 3}}}}
    items = list(source.read("people", state))
    ids = [v for i in items if isinstance(i, pa.RecordBatch) for v in i.column("id").to_pylist()]
    assert ids == [4, 5, 6]


def ids_read(source: SingerSource, state: PendingState) -> list[int]:
    return [v for item in source.read("people", state) if isinstance(item, pa.RecordBatch)
            for v in item.column("id").to_pylist()]


def test_a_tap_starts_before_its_state_is_known(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    calls = tmp_path / "calls.txt"
    monkeypatch.setenv("SINGER_SCRIPT_CALLS", str(calls))
    source = tap(tmp_path)
    first = PendingState()
    first.set(None)  # a first run: the tap is handed an empty state
    assert ids_read(source, first) == [1, 2, 3]
    later = PendingState()
    # the tap is already running when the target answers with the committed state
    threading.Timer(0.3, later.set, [{"singer": {"bookmarks": {"people": {"id": 3}}}}]).start()
    assert ids_read(source, later) == [4, 5, 6]
    assert calls.read_text().split().count("state-read") == 2
    # a run that ends before its state is known (already committed) stops the tap unread
    stopped = PendingState()
    stopped.cancel()
    with pytest.raises(RunStopped):
        ids_read(source, stopped)
    assert calls.read_text().split().count("state-read") == 2


def test_a_record_for_an_unselected_stream_fails(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="stream 'pets', which the catalog does not select"):
        list(tap(tmp_path, "other_stream").read("people", None))


def test_an_unknown_stream_names_the_offered_ones(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match=r"no stream 'owls' \(it offers: people, pets\)"):
        list(tap(tmp_path).read("owls", None))
