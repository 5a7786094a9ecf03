"""An Airbyte source packaged as a wheel for the tests (console script ``source-dativo-test``):
spec, check, discover and read over the protocol, as a connector from PyPI does."""

import json
import sys

SPEC = {"documentationUrl": "https://example.com/docs", "connectionSpecification": {
    "type": "object", "required": ["base_url", "api_key"], "properties": {
        "base_url": {"type": "string", "description": "Where the API answers."},
        "api_key": {"type": "string", "airbyte_secret": True,
                    "description": "A key from the API's settings page."},
        "page_size": {"type": "integer", "default": 100, "description": "Rows per page."},
        "count": {"type": "integer", "default": 3, "description": "Items the API holds."}}}}
STREAM = {"name": "items", "supported_sync_modes": ["full_refresh", "incremental"],
          "source_defined_cursor": True, "default_cursor_field": ["updated_at"],
          "source_defined_primary_key": [["id"]],
          "json_schema": {"type": "object", "properties": {
              "id": {"type": "integer"}, "name": {"type": ["null", "string"]},
              "price": {"type": "number"},
              "updated_at": {"type": "string", "format": "date-time"}}}}


def emit(message):
    print(json.dumps(message, separators=(",", ":")), flush=True)


def main():
    command, rest = sys.argv[1], sys.argv[2:]
    args = dict(zip(rest[::2], rest[1::2], strict=False))
    if command == "spec":
        emit({"type": "SPEC", "spec": SPEC})
        return 0
    with open(args["--config"]) as handle:
        config = json.load(handle)
    if command == "check":
        ok = bool(config.get("api_key")) and str(config.get("base_url", "")).startswith("http")
        emit({"type": "CONNECTION_STATUS", "connectionStatus": {
            "status": "SUCCEEDED" if ok else "FAILED",
            "message": "" if ok else "base_url and api_key are required"}})
    elif command == "discover":
        emit({"type": "CATALOG", "catalog": {"streams": [STREAM]}})
    elif command == "read":
        for i in range(1, int(config.get("count", 3)) + 1):
            emit({"type": "RECORD", "record": {"stream": "items", "emitted_at": 0, "data": {
                "id": i, "name": f"item {i}", "price": i * 1.5,
                "updated_at": f"2026-01-0{min(i, 9)}T00:00:00Z"}}})
        emit({"type": "STATE", "state": {"type": "STREAM", "stream": {
            "stream_descriptor": {"name": "items"}, "stream_state": {"updated_at": "x"}}}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
