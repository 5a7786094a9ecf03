"""toy_http: an Airbyte source for the toy HTTP API of the connector guide (stdlib only).

    python source.py spec | check --config C | discover --config C |
                     read --config C --catalog CAT [--state S]

API: ``GET {base_url}/tickets?updated_since=ISO&page=N&page_size=M`` with
``Authorization: Bearer {api_key}`` returns ``{"data": [...], "next_page": N | null}``.
One stream, ``tickets``, incremental on ``updated_at``; a STATE follows every page.
"""

import json
import sys
import urllib.error
import urllib.parse
import urllib.request

STREAM = {
    "name": "tickets",
    "json_schema": {"type": "object", "properties": {
        "id": {"type": "string"}, "subject": {"type": ["null", "string"]},
        "status": {"type": "string"}, "priority": {"type": ["null", "integer"]},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"}}},
    "supported_sync_modes": ["full_refresh", "incremental"],
    "source_defined_cursor": True,
    "default_cursor_field": ["updated_at"],
    "source_defined_primary_key": [["id"]],
}
SPEC = {"documentationUrl": "https://example.invalid/toy_http", "connectionSpecification": {
    "type": "object", "required": ["base_url", "api_key"], "properties": {
        "base_url": {"type": "string", "description": "API root, e.g. http://127.0.0.1:8765"},
        "api_key": {"type": "string", "airbyte_secret": True},
        "page_size": {"type": "integer", "default": 100, "minimum": 1}}}}


def emit(message):
    sys.stdout.write(json.dumps(message) + "\n")


def log(level, message):
    emit({"type": "LOG", "log": {"level": level, "message": message}})


def fail(message, failure_type="config_error"):
    emit({"type": "TRACE", "trace": {"type": "ERROR", "emitted_at": 0, "error": {
        "message": message, "failure_type": failure_type}}})
    sys.stdout.flush()
    sys.exit(1)


def get(config, params):
    query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
    url = f"{config['base_url'].rstrip('/')}/tickets?{query}"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {config['api_key']}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)
    except urllib.error.HTTPError as exc:
        kind = "config_error" if exc.code in (401, 403) else "transient_error"
        fail(f"toy_http API answered {exc.code} {exc.reason} for /tickets", kind)
    except (urllib.error.URLError, OSError) as exc:
        fail(f"toy_http API at {config['base_url']} is unreachable: {exc}", "transient_error")


def read(config, catalog, state):
    selected = [s for s in catalog["streams"] if s["stream"]["name"] == "tickets"]
    if not selected:
        return
    incremental = selected[0].get("sync_mode") == "incremental"
    cursor = None
    for item in state or []:
        if item.get("stream", {}).get("stream_descriptor", {}).get("name") == "tickets":
            cursor = item["stream"]["stream_state"].get("updated_at")
    since = cursor if incremental else None
    log("INFO", f"reading tickets updated after {since or 'the beginning'}")
    page = 1
    while page:
        body = get(config, {"updated_since": since, "page": page,
                            "page_size": config.get("page_size", 100)})
        for ticket in body["data"]:
            emit({"type": "RECORD", "record": {"stream": "tickets", "data": ticket,
                                               "emitted_at": 0}})
            if cursor is None or ticket["updated_at"] > cursor:
                cursor = ticket["updated_at"]
        if incremental and cursor:
            emit({"type": "STATE", "state": {"type": "STREAM", "stream": {
                "stream_descriptor": {"name": "tickets"},
                "stream_state": {"updated_at": cursor}}}})
        page = body.get("next_page")


def main(argv):
    if not argv:
        fail("usage: source.py spec|check|discover|read ...", "system_error")
    command = argv[0]
    if command == "spec":
        emit({"type": "SPEC", "spec": SPEC})
        return
    args = dict(zip(argv[1::2], argv[2::2], strict=False))
    with open(args["--config"]) as handle:
        config = json.load(handle)
    if command == "check":
        try:
            get(config, {"page": 1, "page_size": 1})
        except SystemExit:
            raise
        emit({"type": "CONNECTION_STATUS", "connectionStatus": {"status": "SUCCEEDED"}})
    elif command == "discover":
        emit({"type": "CATALOG", "catalog": {"streams": [STREAM]}})
    elif command == "read":
        with open(args["--catalog"]) as handle:
            catalog = json.load(handle)
        state = None
        if "--state" in args:
            with open(args["--state"]) as handle:
                state = json.load(handle)
        read(config, catalog, state)
    else:
        fail(f"unknown command {command}", "system_error")


if __name__ == "__main__":
    main(sys.argv[1:])
