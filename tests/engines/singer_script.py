"""A small Singer tap whose output a test picks through ``config.scenario``: a real process
speaking the protocol, with a BATCH message pointing at a gzipped JSON Lines file."""

import gzip
import json
import os
import sys

SCHEMA = {"type": "object", "properties": {"id": {"type": "integer"},
                                           "name": {"type": ["null", "string"]},
                                           "tags": {"type": ["null", "array"]}}}
CATALOG = {"streams": [{"tap_stream_id": "people", "stream": "people", "schema": SCHEMA,
                        "key_properties": ["id"], "replication_key": "id",
                        "metadata": [{"breadcrumb": [], "metadata": {"inclusion": "available"}}]},
                       {"tap_stream_id": "pets", "stream": "pets", "schema": SCHEMA,
                        "metadata": []}]}


def emit(message):
    # compact, as the Singer SDK writes: the spelling the reader parses in bulk
    print(json.dumps(message, separators=(",", ":")), flush=True)


def main(argv):
    args = dict(zip(argv[::2], argv[1::2], strict=False))
    calls = os.environ.get("SINGER_SCRIPT_CALLS")
    if calls:  # lets a test count how often the tap ran, and how
        with open(calls, "a") as fh:
            fh.write(("discover" if "--discover" in argv else "sync") + "\n")
    if "--discover" in argv:
        print(json.dumps(CATALOG, indent=2))
        return 0
    with open(args["--config"]) as handle:
        config = json.load(handle)
    with open(args["--catalog"]) as handle:
        catalog = json.load(handle)
    selected = [s["tap_stream_id"] for s in catalog["streams"]
                if s["metadata"][0]["metadata"].get("selected")]
    print(f"selected {selected}", file=sys.stderr)
    start = 0
    if "--state" in args:
        with open(args["--state"]) as handle:
            saved = json.load(handle)  # an empty object: no bookmarks yet
        start = saved.get("bookmarks", {}).get("people", {}).get("id", 0)
        if calls:
            with open(calls, "a") as fh:
                fh.write("state-read\n")
    emit({"type": "SCHEMA", "stream": "people", "schema": SCHEMA, "key_properties": ["id"]})
    emit({"type": "RECORD", "stream": "people", "record": {"id": start + 1, "name": "a",
                                                            "tags": ["x"]}})
    path = os.path.join(config["folder"], f"batch-{start}.jsonl.gz")
    with gzip.open(path, "wt") as handle:
        for i in (start + 2, start + 3):
            handle.write(json.dumps({"id": i, "name": f"n{i}"}) + "\n")
    emit({"type": "BATCH", "stream": "people", "encoding": {"format": "jsonl",
                                                             "compression": "gzip"},
          "manifest": [f"file://{path}"]})
    if config.get("scenario") == "other_stream":
        emit({"type": "RECORD", "stream": "pets", "record": {"id": 1}})
    emit({"type": "ACTIVATE_VERSION", "stream": "people", "version": 1})
    emit({"type": "STATE", "value": {"bookmarks": {"people": {"id": start + 3}}}})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
