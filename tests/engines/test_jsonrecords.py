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
        assert list(out.add_lines(number, [line(record)])) == []
    batch, = out.flush()
    assert isinstance(batch, pa.RecordBatch)
    # as before the bulk path: the column that broke its type travels as text for the
    # contract check to judge, row by row
    assert batch.column("id").to_pylist() == ["1", "2", "3", "four"]


def test_a_broken_line_is_rejected_with_its_number_and_the_rest_load() -> None:
    out = ProtocolBatches(SCHEMA, 100, "conn", envelope=ENVELOPE)
    broken = b'{"type":"RECORD","record":{"stream":"s","data":{"id":9'
    for number, raw in enumerate([line(RECORDS[0]), broken, line(RECORDS[1])], 7):
        list(out.add_lines(number, [raw]))
    out.checkpoint({"offset": 2})
    batch, rejected, state = out.flush()
    assert isinstance(batch, pa.RecordBatch) and batch.column("id").to_pylist() == [1, 2]
    assert isinstance(rejected, RejectedRecords) and rejected.raw == (broken.decode(),)
    assert rejected.reasons[0].startswith("conn: stdout line 8: not valid JSON")
    assert state == StateUpdate({"offset": 2})


def test_parsed_records_and_lines_keep_their_arrival_order() -> None:
    out = ProtocolBatches(SCHEMA, 2, "c", envelope=ENVELOPE)
    items = [*out.add(dict(RECORDS[0])), *out.add_lines(2, [line(RECORDS[1])]),
             *out.add_lines(3, [line(RECORDS[2])]), *out.add(dict(RECORDS[0])), *out.flush()]
    ids = [i for item in items if isinstance(item, pa.RecordBatch)
           for i in item.column("id").to_pylist()]
    assert ids == [1, 2, 3, 1]


NESTED_SCHEMA = {"properties": {
    "id": {"type": "integer"},
    "address": {"type": "object", "properties": {"city": {"type": "string"}}},
    "tags": {"type": "array", "items": {"type": "integer"}},
    "blob": {"type": "object"},
}}


def _nested_contract_fields() -> tuple:
    from airflow_provider_dativo.contracts import contract_from_mapping
    from airflow_provider_dativo.engines.base import nested_columns

    contract = contract_from_mapping({
        "apiVersion": "v3.0.2", "kind": "DataContract", "id": "n", "version": "1",
        "status": "active", "name": "n", "schema": [{"name": "n", "properties": [
            {"name": "id", "logicalType": "integer"},
            {"name": "addr", "physicalName": "address", "logicalType": "object",
             "properties": [{"name": "town", "physicalName": "city", "logicalType": "string"}]},
            {"name": "tags", "logicalType": "array", "items": {"logicalType": "integer"}},
            {"name": "blob", "logicalType": "object", "physicalType": "json"}]}]})
    return nested_columns(contract)


def test_columns_the_contract_declares_nested_arrive_as_structs_and_lists() -> None:
    records = [{"id": 1, "address": {"city": "Oslo", "zip": 1}, "tags": [1, 2], "blob": {"a": 1}},
               {"id": 2, "address": None, "tags": [], "blob": [1]}]
    out = ProtocolBatches(NESTED_SCHEMA, 100, "conn", envelope=ENVELOPE,
                          nested=_nested_contract_fields())
    bulk = [item for i, r in enumerate(records) for item in out.add_lines(i + 1, [line(r)])]
    bulk += list(out.flush())
    one = [item for r in records for item in out.add(dict(r))] + list(out.flush())
    for items in (bulk, one):
        (batch,) = items
        assert batch.schema.field("address").type == pa.struct([("city", pa.string())])
        assert batch.schema.field("tags").type == pa.list_(pa.int64())
        assert batch.schema.field("blob").type == pa.string()  # json stays text
        assert batch.column("address").to_pylist() == [{"city": "Oslo"}, None]
        assert batch.column("blob").to_pylist() == ['{"a":1}', "[1]"]


def test_a_record_nested_too_deep_is_rejected_not_raised() -> None:
    deep = b'{"a":' * 1100 + b"1" + b"}" * 1100
    message = (b'{"type":"RECORD","record":{"stream":"s","data":{"id":1,"address":' + deep
               + b'}}}')
    out = ProtocolBatches(SCHEMA, 100, "conn", envelope=ENVELOPE, stream="s")
    items = list(out.add_lines(7, [message])) + list(out.add_lines(8, [line(RECORDS[0])]))
    items += list(out.flush())
    batch, rejected = items
    assert batch.column("id").to_pylist() == [1]
    assert isinstance(rejected, RejectedRecords)
    assert rejected.reasons == ("conn: stream 's', stdout line 7: nested deeper than 200 levels",)
    items = list(out.add_text("BATCH file line 3", b'{"id":' + deep + b"}")) + list(out.flush())
    assert items[0].reasons == (  # type: ignore[union-attr]
        "conn: stream 's', BATCH file line 3: nested deeper than 200 levels",)


def _ids(items: list) -> list[list[int]]:
    return [item.column("id").to_pylist() for item in items if isinstance(item, pa.RecordBatch)]


def test_many_lines_at_once_are_cut_into_batches_of_at_most_their_size_in_order() -> None:
    records = [{"id": n, "score": n} for n in range(1, 8)]
    out = ProtocolBatches(SCHEMA, 3, "conn", envelope=ENVELOPE)
    items = [*out.add_lines(1, [line(r) for r in records[:2]]),
             *out.add_lines(3, [line(r) for r in records[2:]]), *out.flush()]
    assert _ids(items) == [[1, 2, 3], [4, 5, 6], [7]]


def test_a_broken_line_among_many_is_rejected_with_its_own_line_number() -> None:
    broken = b'{"type":"RECORD","record":{"stream":"s","data":{"id":9'
    deep = (b'{"type":"RECORD","record":{"stream":"s","data":{"id":8,"address":'
            + b"[" * 300 + b"]" * 300 + b"}}}")
    lines = [line(RECORDS[0]), broken, line(RECORDS[1]), deep, line(RECORDS[2])]
    out = ProtocolBatches(SCHEMA, 100, "conn", envelope=ENVELOPE)
    items = [*out.add_lines(40, lines), *out.flush()]
    assert _ids(items) == [[1, 2, 3]]
    (rejected,) = [item for item in items if isinstance(item, RejectedRecords)]
    assert rejected.raw == (deep.decode(), broken.decode())  # the deep one before any parser
    assert rejected.reasons[0] == "conn: stdout line 43: nested deeper than 200 levels"
    assert rejected.reasons[1].startswith("conn: stdout line 41: not valid JSON")


def _json_contract() -> object:
    from airflow_provider_dativo.contracts import contract_from_mapping

    return contract_from_mapping({
        "apiVersion": "v3.0.2", "kind": "DataContract", "id": "j", "version": "1",
        "status": "active", "name": "j", "schema": [{"name": "j", "properties": [
            {"name": "id", "logicalType": "integer"},
            {"name": "address", "logicalType": "object", "physicalType": "json"}]}]})


def test_json_text_written_here_is_marked_and_passes_the_contract_check_unchanged() -> None:
    from airflow_provider_dativo.contracts import check_batch
    from airflow_provider_dativo.contracts._json_check import holds_documents

    bulk = RecordBuffer(SCHEMA, 100, ("id", "address")).from_lines(
        [line(r) for r in RECORDS], ENVELOPE)
    assert bulk is not None and holds_documents(bulk.schema.field("address"))
    result = check_batch(bulk, _json_contract())  # type: ignore[arg-type]
    assert result.rejected is None
    assert result.valid.column("address").to_pylist() == [
        '{"city":"Oslo"}', None, '{"city":"Bergen","zip":5003}']


def test_a_string_in_a_json_column_is_still_checked_as_json() -> None:
    from airflow_provider_dativo.contracts import check_batch
    from airflow_provider_dativo.contracts._json_check import holds_documents

    records = [RECORDS[0], {"id": 5, "address": "not json"}, {"id": 6, "address": "[1, 2]"}]
    bulk = RecordBuffer(SCHEMA, 100, ("id", "address")).from_lines(
        [line(r) for r in records], ENVELOPE)
    assert bulk is not None and not holds_documents(bulk.schema.field("address"))
    result = check_batch(bulk, _json_contract())  # type: ignore[arg-type]
    assert result.valid.column("id").to_pylist() == [1, 6]
    assert result.rejected is not None and result.rejected.num_rows == 1


def test_the_json_mark_is_judged_per_batch_and_strings_in_a_later_batch_are_still_checked() -> None:
    from airflow_provider_dativo.contracts import check_batch
    from airflow_provider_dativo.contracts._json_check import holds_documents

    # batch one: objects and a NULL (serialized here: marked); batch two: a text that is JSON,
    # one that is not, and an array (a string among them: not marked, every text checked)
    records = [{"id": 1, "address": {"a": 1}}, {"id": 2, "address": None},
               {"id": 3, "address": '{"b": 2}'}, {"id": 4, "address": "nope"},
               {"id": 5, "address": [1, {"c": None}]}]
    out = ProtocolBatches(SCHEMA, 2, "conn", envelope=ENVELOPE, keep=("id", "address"))
    items = [*out.add_lines(1, [line(r) for r in records]), *out.flush()]
    batches = [item for item in items if isinstance(item, pa.RecordBatch)]
    assert [b.num_rows for b in batches] == [2, 2, 1]
    assert [holds_documents(b.schema.field("address")) for b in batches] == [True, False, True]
    results = [check_batch(b, _json_contract()) for b in batches]  # type: ignore[arg-type]
    assert [r.valid.column("id").to_pylist() for r in results] == [[1, 2], [3], [5]]
    assert [r.valid.column("address").to_pylist() for r in results] == [
        ['{"a":1}', None], ['{"b": 2}'], ['[1,{"c":null}]']]
    assert results[1].rejected is not None
    assert results[1].rejected.column("address").to_pylist() == ["nope"]  # kept as it came
