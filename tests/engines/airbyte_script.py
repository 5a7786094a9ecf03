"""A small Airbyte-protocol connector whose output a test picks through ``config.scenario``.

It is a real process speaking the protocol over stdout, so the tests exercise the launcher,
the parser and the runner exactly as with a connector from PyPI.
"""

import glob
import json
import os
import sys
import time

STREAM = {"name": "users", "supported_sync_modes": ["full_refresh", "incremental"],
          "source_defined_cursor": True, "default_cursor_field": ["updated_at"],
          "source_defined_primary_key": [["id"]],
          "json_schema": {"type": "object", "properties": {
              "id": {"type": "integer"}, "created_at": {"type": "string", "format": "date-time"},
              "updated_at": {"type": "string", "format": "date-time"},
              "age": {"type": "integer"}, "address": {"type": "object"}}}}
# scenario "nested": the stream declares an object, an array of objects and an array of integers
NESTED_PROPERTIES = {
    "address": {"type": ["null", "object"], "properties": {
        "city": {"type": "string"},
        "geo": {"type": "object", "properties": {"lat": {"type": "number"},
                                                 "lon": {"type": "number"}}}}},
    "orders": {"type": "array", "items": {"type": "object", "properties": {
        "sku": {"type": "string"}, "qty": {"type": "integer"}}}},
    "scores": {"type": "array", "items": {"type": "integer"}},
}
NESTED = [
    {"address": {"city": "Oslo", "geo": {"lat": 59.9, "lon": 10.7}},
     "orders": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 2}], "scores": [1, 2, 3]},
    {"address": {"city": "Bergen", "geo": None}, "orders": [], "scores": []},
    {"address": None, "orders": [{"sku": "c", "qty": 7}], "scores": [2147483648]},
]
SPEC = {"connectionSpecification": {"type": "object", "properties": {
    "scenario": {"type": "string"},
    "credentials": {"type": "object", "properties": {
        "token": {"type": "string", "airbyte_secret": True}}}}}}


SPACED = False  # config "spelling: spaced" writes JSON with spaces, as json.dumps does


def emit(message):
    # compact, keys in the Airbyte CDK's order: the spelling the reader parses in bulk
    print(json.dumps(message, separators=(", ", ": ") if SPACED else (",", ":")), flush=True)


def record(i, stream="users", nested=False):
    data = {"id": i, "created_at": "2024-01-01T00:00:00Z", "updated_at": f"2024-01-0{i}T00:00:00Z",
            "age": 30 + i, "address": {"city": "Oslo"}}
    if nested:
        data.update(NESTED[(i - 1) % len(NESTED)])
    emit({"type": "RECORD", "record": {"stream": stream, "data": data, "emitted_at": 0}})


def deep_record(i, levels):
    # written by hand: json.dumps itself refuses values nested about a thousand deep
    sep = (", ", ": ") if SPACED else (",", ":")
    value = '{"a"' + sep[1]
    address = value * levels + "1" + "}" * levels
    data = {"id": i, "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-05T00:00:00Z"}
    text = json.dumps({"type": "RECORD", "record": {"stream": "users", "data": data}},
                      separators=sep)
    print(text[:-3] + sep[0] + '"address"' + sep[1] + address + "}}}", flush=True)


def state(offset):
    emit({"type": "STATE", "state": {"type": "STREAM", "stream": {
        "stream_descriptor": {"name": "users"}, "stream_state": {"offset": offset}}}})


def main(argv):
    command = argv[0]
    calls = os.environ.get("AIRBYTE_SCRIPT_CALLS")
    if calls:  # lets a test count how often each command ran
        with open(calls, "a") as fh:
            fh.write(command + "\n")
    if command == "spec":
        emit({"type": "SPEC", "spec": SPEC})
        return 0
    with open(argv[argv.index("--config") + 1]) as handle:
        config = json.load(handle)
    scenario = config.get("scenario", "ok")
    global SPACED
    SPACED = config.get("spelling") == "spaced"
    token = (config.get("credentials") or {}).get("token", "")
    if command == "check":
        emit({"type": "LOG", "log": {"level": "INFO", "message": f"checking with {token}"}})
        ok = scenario != "bad_check"
        emit({"type": "CONNECTION_STATUS", "connectionStatus": {
            "status": "SUCCEEDED" if ok else "FAILED",
            "message": "" if ok else f"token {token} was refused"}})
        return 0
    if command == "discover":
        emit({"type": "LOG", "log": {"level": "INFO", "message": "discovering streams"}})
        stream = STREAM
        if scenario == "nested":
            schema = {**STREAM["json_schema"]}
            schema["properties"] = {**schema["properties"], **NESTED_PROPERTIES}
            stream = {**STREAM, "json_schema": schema}
        emit({"type": "CATALOG", "catalog": {"streams": [stream]}})
        return 0
    start = 0
    if "--state" in argv:
        with open(argv[argv.index("--state") + 1]) as handle:
            saved = json.load(handle)
        if saved:  # an empty list is no state, as the protocol has it
            start = saved[0]["stream"]["stream_state"]["offset"]
    if calls:
        with open(calls, "a") as fh:
            fh.write("state-read\n")
    emit({"type": "LOG", "log": {"level": "INFO", "message": f"reading from {start}"}})
    emit({"type": "TRACE", "trace": {"type": "ESTIMATE", "emitted_at": 0, "estimate": {
        "name": "users", "type": "STREAM", "row_estimate": 3}}})
    nested = scenario == "nested"
    record(start + 1, nested=nested)
    if scenario == "deep":
        # 300 levels: past dativo's limit of 200 and orjson.dumps's 254; 1100: past orjson.loads
        for i, levels in ((40, 300), (41, 1100)):
            deep_record(i, levels)
    elif scenario == "bad_json":
        print('{"type":"RECORD","record":{"stream":"users","data":{"id":9', flush=True)
    elif scenario == "unknown_stream":
        record(start + 2, stream="secrets")
    elif scenario == "missing_data":
        emit({"type": "RECORD", "record": {"stream": "users", "emitted_at": 0}})
    elif scenario == "crash":
        state(start + 1)
        print(f"Traceback: boom while reading with {token}", file=sys.stderr, flush=True)
        return 3
    elif scenario == "trace_error":
        emit({"type": "TRACE", "trace": {"type": "ERROR", "emitted_at": 0, "error": {
            "message": "API quota exhausted", "failure_type": "transient_error"}}})
        return 1
    elif scenario == "late" and start:
        # as a backfill or a newly found older file does: far older than the state's cursor
        emit({"type": "RECORD", "record": {"stream": "users", "data": {
            "id": 100, "created_at": "2023-01-01T00:00:00Z",
            "updated_at": "2023-01-02T00:00:00Z", "age": 70}, "emitted_at": 0}})
    elif scenario == "bad_value":
        emit({"type": "RECORD", "record": {"stream": "users", "data": {
            "id": 50, "created_at": "2024-01-01T00:00:00Z",
            "updated_at": "2024-01-05T00:00:00Z", "age": "old"}, "emitted_at": 0}})
    record(start + 2, nested=nested)
    record(start + 3, nested=nested)
    state(start + 3)
    # as the Airbyte CDK does: the stream is COMPLETE, then the process takes a while to end
    emit({"type": "TRACE", "trace": {"type": "STREAM_STATUS", "emitted_at": 0, "stream_status": {
        "stream_descriptor": {"name": "users"}, "status": "COMPLETE"}}})
    if scenario == "record_after_complete":
        record(start + 4)
    elif scenario == "fail_after_complete":
        print(f"Traceback: boom while ending with {token}", file=sys.stderr, flush=True)
        return 4
    elif scenario == "slow_exit":
        # ends only once a data file shows up in the folder it watches (or after 30 s): the
        # runner must write its files while the connector is still running
        watched = config["watch"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not glob.glob(f"{watched}/**/*.parquet",
                                                             recursive=True):
            time.sleep(0.02)
        if calls and glob.glob(f"{watched}/**/*.parquet", recursive=True):
            with open(calls, "a") as fh:
                fh.write("saw-data-file\n")
        state(start + 30)  # a checkpoint after the stream ended still counts
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
