"""Connector records into Arrow: message lines parsed in bulk must give what parsing them one
by one gives, and a line the bulk parser refuses must lose nothing."""

from __future__ import annotations

import orjson
import pyarrow as pa

from airflow_provider_dativo.engines.base import RejectedRecords, StateUpdate
from airflow_provider_dativo.engines.jsonrecords import ProtocolBatches, RecordBuffer

SCHEMA = {"properties": {
    "id": {"type": "integer"},
    "name": {"type": ["null", "string"]},
    "score": {"type": "number"},
    "active": {"type": "boolean"},
    "address": {"type": "object"},
    "tags": {"type": "array"},
    "note": {"type": "string"},
}}
ENVELOPE = ("record", "data")
RECORDS = [
    {"id": 1, "name": "Ann", "score": 1.5, "active": True, "address": {"city": "Oslo"},
     "tags": ["a", "b"], "note": "x"},
    {"id": 2, "score": 2, "active": False, "address": None, "tags": [], "extra": 9},
    {"id": 3, "name": None, "score": -0.25, "address": {"city": "Bergen", "zip": 5003}},
]


def line(data: dict) -> bytes:
    return orjson.dumps({"type": "RECORD", "record": {"stream": "s", "data": data,
                                                      "emitted_at": 0}})


def parsed_one_by_one(records: list[dict], keep: tuple[str, ...] = ()) -> pa.RecordBatch:
    buffer = RecordBuffer(SCHEMA, 100, keep)
    for record in records:
        buffer.add(dict(record))
    batch = buffer.flush()
    assert batch is not None
    return batch


def test_lines_in_bulk_equal_records_parsed_one_by_one() -> None:
    bulk = RecordBuffer(SCHEMA, 100).from_lines([line(r) for r in RECORDS], ENVELOPE)
    assert bulk is not None  # the bulk parser took them
    assert bulk.equals(parsed_one_by_one(RECORDS))
    assert bulk.column("address").to_pylist() == ['{"city":"Oslo"}', None,
                                                  '{"city":"Bergen","zip":5003}']
    assert bulk.column("score").to_pylist() == [1.5, 2.0, -0.25]


def test_only_the_contract_fields_are_converted() -> None:
    keep = ("id", "address")
    bulk = RecordBuffer(SCHEMA, 100, keep).from_lines([line(r) for r in RECORDS], ENVELOPE)
    assert bulk is not None and bulk.schema.names == ["id", "address"]
    assert bulk.equals(parsed_one_by_one(RECORDS, keep))


def test_a_value_of_the_wrong_type_falls_back_and_keeps_every_row() -> None:
    records = [*RECORDS, {"id": "four", "score": 4}]
    assert RecordBuffer(SCHEMA, 100).from_lines([line(r) for r in records], ENVELOPE) is None
    out = ProtocolBatches(SCHEMA, 100, "c", envelope=ENVELOPE)
    for number, record in enumerate(records, 1):
        assert list(out.add_line(number, line(record))) == []
    batch, = out.flush()
    assert isinstance(batch, pa.RecordBatch)
    # as before the bulk path: the column that broke its type travels as text for the
    # contract check to judge, row by row
    assert batch.column("id").to_pylist() == ["1", "2", "3", "four"]


def test_a_broken_line_is_rejected_with_its_number_and_the_rest_load() -> None:
    out = ProtocolBatches(SCHEMA, 100, "conn", envelope=ENVELOPE)
    broken = b'{"type":"RECORD","record":{"stream":"s","data":{"id":9'
    for number, raw in enumerate([line(RECORDS[0]), broken, line(RECORDS[1])], 7):
        list(out.add_line(number, raw))
    out.checkpoint({"offset": 2})
    batch, rejected, state = out.flush()
    assert isinstance(batch, pa.RecordBatch) and batch.column("id").to_pylist() == [1, 2]
    assert isinstance(rejected, RejectedRecords) and rejected.raw == (broken.decode(),)
    assert rejected.reasons[0].startswith("conn: stdout line 8: not valid JSON")
    assert state == StateUpdate({"offset": 2})


def test_parsed_records_and_lines_keep_their_arrival_order() -> None:
    out = ProtocolBatches(SCHEMA, 2, "c", envelope=ENVELOPE)
    items = [*out.add(dict(RECORDS[0])), *out.add_line(2, line(RECORDS[1])),
             *out.add_line(3, line(RECORDS[2])), *out.add(dict(RECORDS[0])), *out.flush()]
    ids = [i for item in items if isinstance(item, pa.RecordBatch)
           for i in item.column("id").to_pylist()]
    assert ids == [1, 2, 3, 1]
