"""A Singer tap packaged as a wheel for the tests (console script ``tap-dativo-test``): it
answers ``--about --format json`` as Singer SDK taps do, unless ``ABOUT`` is off (a tap of the
older kind, whose argument parser refuses the flag)."""

import json
import sys

ABOUT = True
SETTINGS = {"type": "object", "required": ["base_url", "password"], "properties": {
    "base_url": {"type": "string", "description": "The service's address."},
    "password": {"type": "string", "secret": True, "writeOnly": True,
                 "description": "The reader's password."},
    "user": {"type": "string", "default": "reader"},
    "start_date": {"type": "string", "format": "date-time"}}}
SCHEMA = {"type": "object", "properties": {"id": {"type": "integer"},
                                           "name": {"type": ["null", "string"]},
                                           "updated_at": {"type": "string",
                                                          "format": "date-time"}}}
CATALOG = {"streams": [{"tap_stream_id": "people", "stream": "people", "schema": SCHEMA,
                        "key_properties": ["id"], "replication_key": "updated_at",
                        "metadata": [{"breadcrumb": [], "metadata": {
                            "inclusion": "available",
                            "valid-replication-keys": ["updated_at"]}}]}]}


def emit(message):
    print(json.dumps(message, separators=(",", ":")), flush=True)


def main():
    argv = sys.argv[1:]
    if "--about" in argv:
        if not ABOUT:
            print("usage: tap [-h] -c CONFIG [-s STATE] [-p PROPERTIES] [--catalog CATALOG] "
                  "[-d]\ntap: error: unrecognized arguments: --about", file=sys.stderr)
            return 2
        print(json.dumps({"name": "tap-dativo-test", "settings": SETTINGS}, indent=2))
        return 0
    args = dict(zip(argv[::2], argv[1::2], strict=False))
    if "--discover" in argv:
        print(json.dumps(CATALOG, indent=2))
        return 0
    emit({"type": "SCHEMA", "stream": "people", "schema": SCHEMA, "key_properties": ["id"]})
    with open(args["--config"]) as handle:
        count = int(json.load(handle).get("count", 3))
    for i in range(1, count + 1):
        emit({"type": "RECORD", "stream": "people", "record": {
            "id": i, "name": f"person {i}", "updated_at": f"2026-02-0{min(i, 9)}T00:00:00Z"}})
    emit({"type": "STATE", "value": {"bookmarks": {"people": {"updated_at": "x"}}}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
