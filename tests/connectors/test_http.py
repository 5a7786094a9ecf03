"""The native HTTP/REST source against a real local HTTP server started by the test."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import re
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pyarrow as pa
import pytest

from airflow_provider_dativo.engines import StateUpdate
from airflow_provider_dativo.engines.native.http import HttpSource, HttpSourceConfig, retry_after
from airflow_provider_dativo.errors import EngineError
from tests.conftest import BIN, REPO, write

KEY = "k-123"
TICKETS = [{"id": f"t-{i}", "status": ["open", "closed", "pending"][i % 3],
            "updated_at": f"2026-11-{10 + i:02d}T08:00:00Z",
            "meta": {"tags": ["a"], "n": i}} for i in range(1, 13)]


class Api(BaseHTTPRequestHandler):
    """A small tickets API: every pagination style, three auth schemes, scripted failures."""

    failures: dict[str, list[tuple[int, str | None]]] = {}
    seen: list[str] = []

    def log_message(self, *args: object) -> None:  # keep test output clean
        pass

    def reply(self, code: int, body: object, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        Api.seen.append(self.path)
        script = Api.failures.get(url.path)
        if script:
            code, after = script.pop(0)
            self.reply(code, {"error": "busy"}, {"Retry-After": after} if after else None)
            return
        auth = self.headers.get("Authorization", "")
        if url.path == "/bearer" and auth != f"Bearer {KEY}":
            return self.reply(401, {"error": "no"})
        if url.path == "/basic" and auth != "Basic " + base64.b64encode(b"ana:pw").decode():
            return self.reply(401, {"error": "no"})
        if url.path in ("/tickets", "/offset", "/cursor", "/link") and \
                self.headers.get("X-API-Key") != KEY and q.get("key") != KEY:
            return self.reply(401, {"error": "no key"})
        since = dt.datetime.fromisoformat(q.get("updated_since", "2000-01-01T00:00:00Z"))
        rows = [t for t in TICKETS if dt.datetime.fromisoformat(t["updated_at"]) > since]
        if url.path == "/tickets":
            page, size = int(q.get("page", 1)), int(q.get("per_page", 5))
            return self.reply(200, {"data": rows[(page - 1) * size: page * size]})
        if url.path == "/offset":
            offset, limit = int(q["offset"]), int(q["limit"])
            return self.reply(200, {"items": rows[offset: offset + limit]})
        if url.path == "/cursor":
            start = int(q.get("cursor", 0))
            nxt = start + 4 if start + 4 < len(rows) else None
            return self.reply(200, {"data": rows[start: start + 4], "meta": {"next": nxt}})
        if url.path == "/link":
            start = int(q.get("from", 0))
            headers = ({"Link": f'</link?from={start + 5}>; rel="next"'}
                       if start + 5 < len(rows) else {})
            return self.reply(200, rows[start: start + 5], headers)
        if url.path in ("/bearer", "/basic"):
            return self.reply(200, {"data": rows[:2]})
        if url.path == "/html":
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"<p")
            return None
        return self.reply(404, {"error": "not found"})


@contextlib.contextmanager
def serve() -> Iterator[str]:
    """The tickets API on a free port of 127.0.0.1; its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def api() -> Iterator[str]:
    with serve() as base:
        yield base


def source(base: str, sleeps: list[float] | None = None, **conn: object) -> HttpSource:
    conn.setdefault("auth", {"type": "api_key", "header": "X-API-Key", "value": KEY})
    cursor = conn.pop("cursor_field", None)
    lookback = conn.pop("lookback_days", 0)
    config = HttpSourceConfig.from_connection({"base_url": base, **conn},
                                              cursor_field=cursor,  # type: ignore[arg-type]
                                              lookback_days=lookback,  # type: ignore[arg-type]
                                              batch_rows=5)
    return HttpSource(config, stream="tickets",
                      sleep=(sleeps.append if sleeps is not None else lambda s: None))


def ids(src: HttpSource, state: dict | None = None) -> tuple[list[str], list[dict]]:
    out, states = [], []
    for item in src.read("tickets", state):
        if isinstance(item, StateUpdate):
            states.append(dict(item.state))
        else:
            assert isinstance(item, pa.RecordBatch) and item.num_rows <= 5
            out += item.column("id").to_pylist()
    return out, states


ALL = [t["id"] for t in TICKETS]


def test_every_pagination_style_reads_every_record(api: str) -> None:
    assert ids(source(api, records="data", pagination={"type": "page", "size": 5}))[0] == ALL
    assert ids(source(api, path="/offset", records="items",
                      pagination={"type": "offset", "limit": 5}))[0] == ALL
    assert ids(source(api, path="/cursor", records="data",
                      pagination={"type": "cursor", "next": "meta.next"}))[0] == ALL
    assert ids(source(api, path="/link", pagination={"type": "link"}))[0] == ALL
    assert ids(source(api, path="/link", pagination={"type": "link"},
                      auth={"type": "api_key", "query_param": "key", "value": KEY}))[0] == ALL
    query_key = source(api, path="/offset", records="items", pagination={"type": "offset"},
                       auth={"type": "api_key", "query_param": "key", "value": KEY})
    assert ids(query_key)[0] == ALL
    batch = next(b for b in source(api, records="data").read("tickets", None)
                 if isinstance(b, pa.RecordBatch))
    assert json.loads(batch.column("meta")[0].as_py()) == {"n": 1, "tags": ["a"]}


def test_auth_schemes_and_clear_errors(api: str) -> None:
    assert ids(source(api, path="/bearer", records="data",
                      auth={"type": "bearer", "token": KEY}))[0] == ALL[:2]
    assert ids(source(api, path="/basic", records="data",
                      auth={"type": "basic", "username": "ana", "password": "pw"}))[0] == ALL[:2]
    wrong = source(api, path="/bearer", records="data", auth={"type": "bearer", "token": "bad"})
    status = wrong.check()
    assert not status.ok and "401" in status.message and "credentials" in status.message
    assert "bad" not in status.message.replace("/bearer", "")
    with pytest.raises(EngineError, match="no list of records at 'nope'"):
        ids(source(api, records="nope"))
    with pytest.raises(EngineError, match="did not answer JSON"):
        ids(source(api, path="/html"))
    with pytest.raises(EngineError, match=r"auth\.type 'oauth'"):
        source(api, auth={"type": "oauth"})


def test_retries_honour_retry_after_then_give_up(api: str) -> None:
    sleeps: list[float] = []
    Api.failures["/cursor"] = [(429, "2"), (503, None), (500, None)]
    src = source(api, sleeps, path="/cursor", records="data",
                 pagination={"type": "cursor", "next": "meta.next"}, retries={"backoff_s": 0.25})
    assert ids(src)[0] == ALL
    assert sleeps == [2.0, 0.5, 1.0]  # Retry-After, then exponential backoff
    Api.failures["/cursor"] = [(503, None)] * 3
    with pytest.raises(EngineError, match=r"answered 503 .* after 3 attempt"):
        ids(source(api, [], path="/cursor", records="data", retries={"max": 2}))
    Api.failures.clear()
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0 and retry_after("3") == 3.0


def test_rate_limit_spaces_requests(api: str) -> None:
    sleeps: list[float] = []
    src = source(api, sleeps, records="data", pagination={"type": "page", "size": 5},
                 rate_limit={"requests_per_second": 2})
    assert ids(src)[0] == ALL  # three pages: the second and third wait for their turn
    assert len(sleeps) == 2 and all(0.3 < s <= 0.5 for s in sleeps)


def test_incremental_sends_the_bound_and_keeps_the_newest_cursor(api: str) -> None:
    src = source(api, records="data", pagination={"type": "page", "size": 5},
                 incremental_param="updated_since", cursor_field="updated_at", lookback_days=2)
    first, states = ids(src)
    assert first == ALL and states[-1] == {"cursor": "2026-11-22T08:00:00Z"}
    Api.seen.clear()
    again, states = ids(src, {"cursor": "2026-11-20T08:00:00Z"})
    assert again == ["t-9", "t-10", "t-11", "t-12"]  # two days of lookback before the 20th
    assert "updated_since=2026-11-18T08%3A00%3A00%2B00%3A00" in Api.seen[0]
    assert states[-1] == {"cursor": "2026-11-22T08:00:00Z"}


def key_job(config_root: Path, api: str) -> str:
    """The toy HTTP job with its API key in the query string and in a header."""
    rel = "jobs/examples/toy_http_tickets_native.yaml"
    text = (config_root / rel).read_text().replace("https://mock.toy-http.dev", api).replace(
        "auth: {type: api_key, header: X-API-Key}",
        "auth: {type: api_key, query_param: key}\n"
        "    headers: {X-API-Key: \"${TOY_HTTP_API_KEY}\"}")
    write(config_root / rel, text)
    return rel


@pytest.mark.parametrize("verbosity", ["-v", "-vv"])
def test_verbose_runs_never_print_the_api_key(config_root: Path, api: str,
                                              verbosity: str) -> None:
    """At INFO the HTTP library logs every request's URL, query string included; at DEBUG its
    transport logs too. The key is masked in all of it, and the rows still land."""
    rel = key_job(config_root, api)
    Api.seen.clear()
    env = {"COLUMNS": "200", "PATH": str(BIN), "PYTHONPATH": str(REPO),
           "TOY_HTTP_API_KEY": KEY}
    result = subprocess.run([str(BIN / "dativo"), "--root", str(config_root), verbosity,
                             "run", rel], capture_output=True, text=True, timeout=120, env=env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert f"key={KEY}" in Api.seen[0]  # the key really went in the query string
    assert "INFO httpx: HTTP Request: GET" in output and "key=***" in output
    if verbosity == "-vv":
        assert "DEBUG httpcore" in output
    assert KEY not in output
    assert re.search(r"rows committed +│ 12 ", output)
