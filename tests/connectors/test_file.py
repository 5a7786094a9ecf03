"""The native file source on real files: streaming, rejects that name the line, read-once state."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from airflow_provider_dativo.engines import RejectedRecords, StateUpdate
from airflow_provider_dativo.engines.native.files import FileSource, FileSourceConfig
from tests.conftest import write


def read_all(source: FileSource, state: dict | None = None):
    batches, rejects, states = [], [], []
    for item in source.read("s", state):
        if isinstance(item, StateUpdate):
            states.append(dict(item.state))
        elif isinstance(item, RejectedRecords):
            rejects.append(item)
        else:
            batches.append(item)
    table = pa.Table.from_batches(batches) if batches else None
    return table, rejects, states


def test_csv_is_read_as_text_in_bounded_blocks(tmp_path: Path) -> None:
    rows = "\n".join(f"{i},name {i},{i * 1.5}" for i in range(20_000))
    write(tmp_path / "in/a.csv", f"id,name,score\n{rows}\n")
    source = FileSource(FileSourceConfig(root=tmp_path, path="in/*.csv", block_bytes=64 << 10))
    batches = [b for b in source.read("s", None) if isinstance(b, pa.RecordBatch)]
    assert len(batches) > 5  # streamed, not one table
    table = pa.Table.from_batches(batches)
    assert table.num_rows == 20_000
    assert table.schema == pa.schema([("id", pa.string()), ("name", pa.string()),
                                      ("score", pa.string())])
    assert table["name"][19_999].as_py() == "name 19999"


def test_csv_rows_with_wrong_column_count_are_kept_with_their_line(tmp_path: Path) -> None:
    write(tmp_path / "a.csv", "id,name\n1,ana\n2,bo,extra\n3,chen\n")
    table, rejects, _ = read_all(FileSource(FileSourceConfig(root=tmp_path, path="a.csv")))
    assert table is not None and table["id"].to_pylist() == ["1", "3"]
    assert [r for rej in rejects for r in rej.raw] == ["2,bo,extra"]
    reason = rejects[0].reasons[0]
    assert "a.csv:3" in reason and "expected 2 columns, found 3" in reason


def test_jsonl_fast_path_and_line_by_line_fallback(tmp_path: Path) -> None:
    write(tmp_path / "ok.jsonl", '{"id": 1, "v": "x"}\n{"id": 2, "v": "y"}\n')
    write(tmp_path / "bad.jsonl", '{"id": 1, "v": "x"}\n{"id": "two", "v": {"a": 1}}\n'
          '{not json}\n[1, 2]\n\n{"id": 4}\n')
    table, rejects, _ = read_all(FileSource(FileSourceConfig(root=tmp_path, path="ok.jsonl"),
                                            json_types={"id": pa.int64()}))
    assert table is not None and table["id"].type == pa.int64()
    table, rejects, _ = read_all(FileSource(FileSourceConfig(root=tmp_path, path="bad.jsonl")))
    assert table is not None
    assert table.to_pylist() == [{"id": "1", "v": "x"}, {"id": "two", "v": '{"a":1}'},
                                 {"id": "4", "v": None}]
    reasons = [r for rej in rejects for r in rej.reasons]
    assert len(reasons) == 2
    assert "bad.jsonl:3: invalid JSON" in reasons[0]
    assert "bad.jsonl:4: a JSON Lines record must be an object" in reasons[1]


def test_jsonl_blocks_split_on_line_boundaries(tmp_path: Path) -> None:
    lines = "".join(f'{{"id": {i}, "text": "{"x" * (i % 50)}"}}\n' for i in range(5_000))
    write(tmp_path / "big.jsonl", lines)
    table, rejects, _ = read_all(FileSource(FileSourceConfig(root=tmp_path, path="big.jsonl",
                                                             block_bytes=4096)))
    assert rejects == []
    assert table is not None and table["id"].to_pylist() == list(range(5_000))


def test_each_file_version_is_read_once(tmp_path: Path) -> None:
    write(tmp_path / "d/1.csv", "id\n1\n")
    write(tmp_path / "d/2.csv", "id\n2\n")
    source = FileSource(FileSourceConfig(root=tmp_path, path="d/*.csv"))
    table, _, states = read_all(source)
    assert table is not None and sorted(table["id"].to_pylist()) == ["1", "2"]
    state = states[-1]
    assert set(state["files"]) == {"d/1.csv", "d/2.csv"}
    again, _, _ = read_all(source, state)
    assert again is None
    write(tmp_path / "d/2.csv", "id\n2\n22\n")  # a new version of a file is read again
    table, _, _ = read_all(source, state)
    assert table is not None and table["id"].to_pylist() == ["2", "22"]


def test_check_and_discover(tmp_path: Path) -> None:
    missing = FileSource(FileSourceConfig(root=tmp_path, path="nothing/*.csv"))
    status = missing.check()
    assert not status.ok and "no file matches 'nothing/*.csv'" in status.message
    write(tmp_path / "x.csv", "id,name\n1,a\n")
    source = FileSource(FileSourceConfig(root=tmp_path, path="x.csv"))
    assert source.check().ok
    (stream,) = source.discover()
    assert dict(stream.columns) == {"id": "string", "name": "string"}
