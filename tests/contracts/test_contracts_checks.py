"""check_batch: conform any Arrow input to the contract and split valid from rejected rows."""

from __future__ import annotations

import datetime
import io
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.json as pjson
import pytest
import yaml

from airflow_provider_dativo.contracts import (
    Contract,
    FieldSpec,
    arrow_schema,
    check_batch,
    contract_from_mapping,
)
from airflow_provider_dativo.contracts.checks import rejected_schema

LOAD_DATE = datetime.date(2024, 5, 1)
UTC = datetime.UTC


def contract_of(text: str) -> Contract:
    doc: dict[str, Any] = {"apiVersion": "v3.0.2", "kind": "DataContract", "name": "t"}
    doc.update(version="1", **yaml.safe_load(text))
    return contract_from_mapping(doc)


RULES = contract_of(
    r"""
schema:
  - {name: id, type: integer, required: true, unique: true}
  - {name: status, type: string, enum: [open, closed, pending]}
  - {name: email, type: string, pattern: "[a-z]+@[a-z]+\\.com", max_length: 15}
  - {name: code, type: string, min_length: 2}
  - {name: amount, type: decimal, precision: 6, scale: 2, minimum: 0, maximum: 1000}
  - {name: active, type: boolean}
  - {name: created, type: timestamptz}
  - {name: day, type: date}
target: {partitioning: [ingest_date]}
"""
)

CSV = """\
id,status,email,code,amount,active,created,day,extra
1,open,a@b.com,ab,10.50,true,2024-01-02T03:04:05Z,2024-01-02,x
,bogus,a@b.com,ab,1,false,2024-01-02T03:04:05Z,2024-01-02,x
x,open,A@b.com,ab,1,false,2024-01-02T03:04:05Z,2024-01-02,x
4,open,abcdefghij@b.com,a,-1,false,2024-01-02T03:04:05Z,2024-01-02,x
5,open,a@b.com,ab,1000.001,maybe,2024-02-30T00:00:00Z,2024-13-01,x
6,open,a@b.com,ab,2000,false,2024-01-02T03:04:05Z,2024-01-02,x
7,open,a@b.com,ab,1,false,2024-01-02T03:04:05Z,2024-01-02,x
7,open,a@b.com,ab,1,false,2024-01-02T03:04:05Z,2024-01-02,x
 9 ,,a@b.com,ab,,,2024-01-02 05:04:05+02:00,,x
"""


def read_csv_as_strings(text: str) -> pa.Table:
    names = text.splitlines()[0].split(",")
    options = pcsv.ConvertOptions(
        column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=True
    )
    return pcsv.read_csv(io.BytesIO(text.encode()), convert_options=options)


def test_csv_strings_are_conformed_and_every_rule_rejects_exactly_its_rows():
    result = check_batch(read_csv_as_strings(CSV), RULES, ingest_date=LOAD_DATE)

    assert result.valid.schema.equals(arrow_schema(RULES), check_metadata=True)
    created = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert result.valid.to_pylist() == [
        {
            "id": 1,
            "status": "open",
            "email": "a@b.com",
            "code": "ab",
            "amount": Decimal("10.50"),
            "active": True,
            "created": created,
            "day": datetime.date(2024, 1, 2),
            "ingest_date": LOAD_DATE,
        },
        {
            "id": 9,
            "status": None,  # empty cells are read as nulls
            "email": "a@b.com",
            "code": "ab",
            "amount": None,
            "active": None,
            "created": created,
            "day": None,
            "ingest_date": LOAD_DATE,
        },
    ]

    assert result.rejected is not None
    rejected = result.rejected.to_pylist()
    assert [(r["id"], r["_dativo_reason"], r["_dativo_rules"]) for r in rejected] == [
        (
            None,
            "id: required value missing; status: not in [open, closed, pending]",
            "required:id,enum:status",
        ),
        (
            "x",
            "id: not a valid integer; email: does not match pattern [a-z]+@[a-z]+\\.com",
            "type:id,pattern:email",
        ),
        (
            "4",
            "email: longer than 15 characters; code: shorter than 2 characters; "
            "amount: below minimum 0",
            "max_length:email,min_length:code,minimum:amount",
        ),
        (
            "5",
            "amount: not a valid decimal(6,2); active: not a valid boolean; "
            "created: not a valid timestamptz; day: not a valid date",
            "type:amount,type:active,type:created,type:day",
        ),
        ("6", "amount: above maximum 1000", "maximum:amount"),
        ("7", "id: duplicate value in batch", "unique:id"),
        ("7", "id: duplicate value in batch", "unique:id"),
    ]
    # The raw text survives, so a rejected row can be fixed and replayed.
    assert rejected[3] | {"_dativo_reason": "", "_dativo_rules": ""} == {
        "id": "5",
        "status": "open",
        "email": "a@b.com",
        "code": "ab",
        "amount": "1000.001",
        "active": "maybe",
        "created": "2024-02-30T00:00:00Z",
        "day": "2024-13-01",
        "ingest_date": "2024-05-01",
        "_dativo_reason": "",
        "_dativo_rules": "",
    }
    assert result.rejected.schema == rejected_schema(RULES)
    assert dict(result.rule_counts) == {
        "required:id": 1,
        "type:id": 1,
        "unique:id": 2,
        "enum:status": 1,
        "pattern:email": 1,
        "max_length:email": 1,
        "min_length:code": 1,
        "type:amount": 1,
        "minimum:amount": 1,
        "maximum:amount": 1,
        "type:active": 1,
        "type:created": 1,
        "type:day": 1,
    }
    assert result.unknown_columns == ("extra",)


TYPED = contract_of(
    """
schema:
  - {name: id, type: string, required: true}
  - {name: qty, type: integer, minimum: 0}
  - {name: price, type: double}
  - {name: ratio, type: float}
  - {name: amount, type: decimal, precision: 8, scale: 2}
  - {name: flag, type: boolean}
  - {name: seen, type: timestamp}
  - {name: payload, type: json}
  - {name: tags, type: json}
  - {name: kind, type: integer, enum: [1, 2]}
"""
)

JSON_LINES = b"""\
{"id": 1, "qty": 3, "price": 2, "ratio": 0.5, "amount": 1.25, "flag": true, "seen": "2024-01-02T03:04:05", "payload": {"a": 1, "b": {"c": "x\\"y"}}, "tags": ["a", "b"], "kind": 1}
{"id": 2, "qty": 2.5, "price": 1e300, "ratio": 1e300, "amount": 0.125, "flag": false, "seen": null, "payload": null, "tags": [], "kind": 3}
{"id": 3, "qty": -1, "price": null, "ratio": null, "amount": 123456.78, "flag": null, "seen": "2024-01-02T05:04:05+02:00", "payload": {"a": null, "b": null}, "tags": null, "kind": 2}
{"id": null, "qty": 7, "price": 1.5, "ratio": 2, "amount": 3, "flag": true, "seen": "2024-01-03", "payload": {"a": 2, "b": {"c": "z"}}, "tags": ["c"], "kind": null}
"""  # noqa: E501


def test_json_lines_with_inferred_types():
    table = pjson.read_json(io.BytesIO(JSON_LINES))
    assert table.schema.field("qty").type == pa.float64()  # what the reader infers
    result = check_batch(table, TYPED, ingest_date=LOAD_DATE)

    assert result.valid.schema.equals(arrow_schema(TYPED), check_metadata=True)
    assert result.valid.to_pylist() == [
        {
            "id": "1",
            "qty": 3,
            "price": 2.0,
            "ratio": 0.5,
            "amount": Decimal("1.25"),
            "flag": True,
            "seen": datetime.datetime(2024, 1, 2, 3, 4, 5),
            "payload": '{"a":1,"b":{"c":"x\\"y"}}',
            "tags": '["a","b"]',
            "kind": 1,
        }
    ]
    assert result.rejected is not None
    assert [
        (r["id"], r["qty"], r["ratio"], r["amount"], r["payload"], r["_dativo_rules"])
        for r in result.rejected.to_pylist()
    ] == [
        ("2", "2.5", "1e+300", "0.125", None, "type:qty,type:ratio,type:amount,enum:kind"),
        ("3", "-1", None, "123456.78", '{"a":null,"b":null}', "minimum:qty"),
        (None, "7", "2", "3", '{"a":2,"b":{"c":"z"}}', "required:id"),
    ]
    assert result.rejected.column("_dativo_reason")[0].as_py() == (
        "qty: not a valid integer; ratio: not a valid float; "
        "amount: not a valid decimal(8,2); kind: not in [1, 2]"
    )
    assert dict(result.rule_counts) == {
        "type:qty": 1,
        "type:ratio": 1,
        "type:amount": 1,
        "enum:kind": 1,
        "minimum:qty": 1,
        "required:id": 1,
    }
    assert result.unknown_columns == ()


def run(values: pa.Array, spec: FieldSpec) -> tuple[list[Any], list[tuple[Any, str]]]:
    """Valid values, and (raw text, rules) of rejected rows, for a one-column contract."""
    result = check_batch(pa.table({spec.name: values}), Contract("c", "1", (spec,)))
    rejected = result.rejected.to_pylist() if result.rejected is not None else []
    return result.valid.column(0).to_pylist(), [
        (r[spec.name], r["_dativo_rules"]) for r in rejected
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-02T03:04:05Z", datetime.datetime(2024, 1, 2, 3, 4, 5)),
        ("2024-01-02T03:04:05+02:00", datetime.datetime(2024, 1, 2, 1, 4, 5)),
        ("2024-01-02 03:04:05-0530", datetime.datetime(2024, 1, 2, 8, 34, 5)),
        ("2024-01-02T03:04:05.123456789+01", datetime.datetime(2024, 1, 2, 2, 4, 5, 123456)),
        ("2024-01-02t03:04:05,5z", datetime.datetime(2024, 1, 2, 3, 4, 5, 500000)),
        ("2024-01-02T03:04:05", datetime.datetime(2024, 1, 2, 3, 4, 5)),  # no offset: UTC
        ("2024-01-02T03:04", datetime.datetime(2024, 1, 2, 3, 4)),
        ("2024-01-02", datetime.datetime(2024, 1, 2)),
        ("2024-02-29T12:00:00Z", datetime.datetime(2024, 2, 29, 12)),
        ("2023-02-29T12:00:00Z", None),
        ("2024-01-02T24:00:00Z", None),
        ("2024-01-02T03:04:05+02:00 junk", None),
        ("02/01/2024", None),
    ],
)
@pytest.mark.parametrize("zoned", [True, False])
def test_iso_timestamps_with_offsets(text, expected, zoned):
    spec = FieldSpec("ts", "timestamptz" if zoned else "timestamp")
    # A valid neighbour on each side: the row's outcome must not depend on the rest of the batch.
    batch = pa.table({"ts": ["2024-06-01T00:00:00Z", text, "2024-06-01 00:00:00"]})
    result = check_batch(batch, Contract("c", "1", (spec,)), ingest_date=LOAD_DATE)
    neighbour = datetime.datetime(2024, 6, 1)
    got = result.valid.column("ts").to_pylist()
    if zoned:
        expected = expected.replace(tzinfo=UTC) if expected else None
        neighbour = neighbour.replace(tzinfo=UTC)
    if expected is None:
        assert got == [neighbour, neighbour]
        assert result.rejected is not None
        assert result.rejected.to_pylist() == [
            {
                "ts": text,
                "_dativo_reason": f"ts: not a valid {spec.type}",
                "_dativo_rules": "type:ts",
            }
        ]
    else:
        assert got == [neighbour, expected, neighbour]
        assert result.rejected is None


def test_integers_from_any_input():
    spec = FieldSpec("n", "integer")
    assert run(
        pa.array(["1", " 2 ", "+3", "4.0", "", None, "0x10", "1e3", "9223372036854775808"]), spec
    ) == (
        [1, 2, 3, 4, None, None],
        [("0x10", "type:n"), ("1e3", "type:n"), ("9223372036854775808", "type:n")],
    )
    assert run(pa.array([1.0, 2.5, float("nan"), None]), spec) == (
        [1, None],
        [("2.5", "type:n"), ("nan", "type:n")],
    )
    assert run(pa.array([1, 2**63], pa.uint64()), spec) == (
        [1],
        [("9223372036854775808", "type:n")],
    )
    assert run(pa.array([True]), spec) == ([], [("true", "type:n")])


def test_floats_decimals_and_booleans():
    assert run(pa.array(["1.5", ".5", "-2e3", "1e999", "abc"]), FieldSpec("f", "double")) == (
        [1.5, 0.5, -2000.0],
        [("1e999", "type:f"), ("abc", "type:f")],
    )
    assert run(pa.array([2**60, 1]), FieldSpec("f", "float")) == ([float(2**60), 1.0], [])
    amount = FieldSpec("a", "decimal", precision=5, scale=2)
    assert run(pa.array(["1.230", "-0.5", "999.99", "1000", "1.234", "."]), amount) == (
        [Decimal("1.23"), Decimal("-0.50"), Decimal("999.99")],
        [("1000", "type:a"), ("1.234", "type:a"), (".", "type:a")],
    )
    assert run(pa.array([0.1, 0.125, 1e10]), amount) == (
        [Decimal("0.10")],
        [("0.125", "type:a"), ("1e+10", "type:a")],
    )
    flag = FieldSpec("b", "boolean")
    assert run(pa.array(["TRUE", "no", "Y", "0", "maybe"]), flag) == (
        [True, False, True, False],
        [("maybe", "type:b")],
    )
    assert run(pa.array([0, 1, 2]), flag) == ([False, True], [("2", "type:b")])


def test_dates_and_temporal_inputs():
    day = FieldSpec("d", "date")
    assert run(pa.array(["2024-02-29", "2023-02-29", "2024-1-2", " 2024-01-02 "]), day) == (
        [datetime.date(2024, 2, 29), datetime.date(2024, 1, 2)],
        [("2023-02-29", "type:d"), ("2024-1-2", "type:d")],
    )
    midnight, later = datetime.datetime(2024, 1, 2), datetime.datetime(2024, 1, 2, 0, 0, 1)
    assert run(pa.array([midnight, later], pa.timestamp("s")), day) == (
        [datetime.date(2024, 1, 2)],
        [("2024-01-02 00:00:01", "type:d")],
    )
    european = FieldSpec("d", "date", format="%d/%m/%Y")
    assert run(pa.array(["02/01/2024", "2024-01-02"]), european) == (
        [datetime.date(2024, 1, 2)],
        [("2024-01-02", "type:d")],
    )
    stamp = FieldSpec("t", "timestamptz")
    paris = pa.array(
        [datetime.datetime(2024, 1, 2, 1, tzinfo=UTC)], pa.timestamp("ns", "Europe/Paris")
    )
    assert run(paris, stamp)[0] == [datetime.datetime(2024, 1, 2, 1, tzinfo=UTC)]
    assert run(pa.array([datetime.date(2024, 1, 2)]), stamp)[0] == [
        datetime.datetime(2024, 1, 2, tzinfo=UTC)
    ]
    naive = FieldSpec("t", "timestamp")
    assert run(paris, naive)[0] == [datetime.datetime(2024, 1, 2, 1)]
    zoned_format = FieldSpec("t", "timestamp", format="%d.%m.%Y %H:%M%z")
    assert run(pa.array(["02.01.2024 03:00+0200", "bad"]), zoned_format) == (
        [datetime.datetime(2024, 1, 2, 1)],
        [("bad", "type:t")],
    )


def test_json_text_of_nested_and_scalar_values():
    doc = FieldSpec("j", "json")
    nested = pa.array(
        [{"a": [1, None], "b": {"c": 'q"\n'}}, None, {"a": [], "b": None}],
        pa.struct([("a", pa.list_(pa.int64())), ("b", pa.struct([("c", pa.string())]))]),
    )
    assert run(nested, doc)[0] == [
        '{"a":[1,null],"b":{"c":"q\\"\\n"}}',
        None,
        '{"a":[],"b":null}',
    ]
    mapping = pa.array([[("k", 1.5)], [("x", float("nan"))]], pa.map_(pa.string(), pa.float64()))
    assert run(mapping, doc)[0] == ['{"k":1.5}', '{"x":null}']
    assert run(pa.array([1, None]), doc)[0] == ["1", None]
    # Text (a CSV cell) is taken as JSON already; blank text is a missing value.
    assert run(pa.array(['{"a": 1}', " "]), doc)[0] == ['{"a": 1}', None]


def test_strings_from_other_types_and_bad_bytes():
    text = FieldSpec("s", "string")
    assert run(pa.array([12, None]), text)[0] == ["12", None]
    assert run(pa.array([True, False]), text)[0] == ["true", "false"]
    assert run(pa.array([b"ok", b"\xff\xfe", b"fine"]), text) == (
        ["ok", "fine"],
        [(None, "type:s")],  # undecodable bytes cannot be shown as text
    )
    assert run(pa.array([{"a": 1}]), text) == ([], [('{"a":1}', "type:s")])
    assert run(pa.array(["a", "b", "a"]).dictionary_encode(), text)[0] == ["a", "b", "a"]


def test_enum_values_are_compared_in_the_field_type():
    day = FieldSpec("d", "date", enum=("2024-01-01",))
    assert run(pa.array(["2024-01-01", "2024-01-02"]), day) == (
        [datetime.date(2024, 1, 1)],
        [("2024-01-02", "enum:d")],
    )
    price = FieldSpec("p", "decimal", precision=4, scale=2, enum=(1.5, 2))
    assert run(pa.array(["1.50", "2", "3"]), price) == (
        [Decimal("1.50"), Decimal("2.00")],
        [("3", "enum:p")],
    )


def test_unique_ignores_nulls_and_rejects_every_copy():
    spec = FieldSpec("k", "string", unique=True)
    assert run(pa.array(["a", None, "b", None, "a", "c"]), spec) == (
        [None, "b", None, "c"],
        [("a", "unique:k"), ("a", "unique:k")],
    )


def test_missing_columns_are_null_and_system_column_is_filled():
    contract = contract_of(
        """
schema:
  - {name: id, type: string, required: true}
  - {name: note, type: string}
target: {partitioning: [ingest_date]}
"""
    )
    batch = pa.table({"note": ["x", "y"], "ingest_date": ["1999-01-01", "1999-01-01"]})
    result = check_batch(batch, contract)
    today = datetime.datetime.now(UTC).date()
    assert result.valid.num_rows == 0
    assert result.rejected is not None
    assert result.rejected.to_pylist() == [
        {
            "id": None,
            "note": note,
            "ingest_date": today.isoformat(),
            "_dativo_reason": "id: required value missing",
            "_dativo_rules": "required:id",
        }
        for note in ("x", "y")
    ]
    assert result.unknown_columns == ()

    filled = check_batch(pa.table({"id": ["a"]}), contract, ingest_date=LOAD_DATE)
    assert filled.valid.to_pylist() == [{"id": "a", "note": None, "ingest_date": LOAD_DATE}]


def test_rejected_schema_is_stable_and_absent_when_all_rows_pass():
    first = check_batch(read_csv_as_strings(CSV), RULES, ingest_date=LOAD_DATE)
    second_csv = CSV.splitlines()[0] + "\n" + "3,closed,a@b.com,zz,5,t,2024-01-02,2024-01-02,\n"
    clean = check_batch(read_csv_as_strings(second_csv), RULES, ingest_date=LOAD_DATE)
    assert clean.rejected is None
    assert clean.rule_counts == {}
    assert clean.valid.num_rows == 1
    bad_csv = CSV.splitlines()[0] + "\n" + "3,nope,a@b.com,zz,5,t,2024-01-02,2024-01-02,\n"
    other = check_batch(read_csv_as_strings(bad_csv), RULES, ingest_date=LOAD_DATE)
    assert first.rejected is not None and other.rejected is not None
    assert other.rejected.schema == first.rejected.schema == rejected_schema(RULES)
    assert rejected_schema(RULES).names[-2:] == ["_dativo_reason", "_dativo_rules"]
    assert all(f.type == pa.string() for f in rejected_schema(RULES))


def test_chunked_table_input_gives_one_batch():
    header = CSV.splitlines()[0]
    more = header + "\n100,open,a@b.com,ab,1,t,2024-01-02,2024-01-02,\n1,open,a@b.com,ab,1,t,,,\n"
    table = pa.concat_tables([read_csv_as_strings(CSV), read_csv_as_strings(more)])
    assert table.column("id").num_chunks == 2
    result = check_batch(table, RULES, ingest_date=LOAD_DATE)
    assert isinstance(result.valid, pa.RecordBatch)
    assert result.valid.column("id").to_pylist() == [9, 100]
    # Uniqueness spans the chunks: the 1 of the first chunk meets the 1 of the second.
    assert result.rule_counts["unique:id"] == 4


def test_enum_of_a_formatted_date_is_iso():
    spec = FieldSpec("d", "date", format="%d/%m/%Y", enum=("2024-01-02",))
    assert run(pa.array(["02/01/2024", "03/01/2024"]), spec) == (
        [datetime.date(2024, 1, 2)],
        [("03/01/2024", "enum:d")],
    )


def test_empty_batch():
    empty = read_csv_as_strings(CSV).slice(0, 0)
    result = check_batch(empty, RULES, ingest_date=LOAD_DATE)
    assert result.valid.num_rows == 0
    assert result.valid.schema.equals(arrow_schema(RULES), check_metadata=True)
    assert result.rejected is None
    assert result.rule_counts == {}
