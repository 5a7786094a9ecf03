"""The connector guide's toy HTTP API, as a local mock server (stdlib only).

    python examples/toy_http/server.py --port 8765 --api-key demo-key --tickets 120

``GET /tickets?updated_since=ISO&page=N&page_size=M`` with ``Authorization: Bearer KEY``
answers ``{"data": [...], "next_page": N | null}``, tickets ordered by ``updated_at``.
``POST /tickets/touch?count=N`` updates the N oldest tickets (for incremental demos).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

STATUSES = ("open", "pending", "closed")
EPOCH = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class Tickets:
    def __init__(self, count: int) -> None:
        self.lock = threading.Lock()
        self.clock = EPOCH + dt.timedelta(hours=count)
        self.rows = [{"id": f"T-{i:05d}", "subject": f"ticket {i}",
                      "status": STATUSES[i % 3], "priority": i % 5,
                      "created_at": iso(EPOCH + dt.timedelta(hours=i)),
                      "updated_at": iso(EPOCH + dt.timedelta(hours=i))}
                     for i in range(1, count + 1)]

    def page(self, since: str | None, page: int, size: int) -> dict:
        with self.lock:
            rows = sorted((r for r in self.rows if since is None or r["updated_at"] > since),
                          key=lambda r: (r["updated_at"], r["id"]))
        start = (page - 1) * size
        return {"data": rows[start:start + size],
                "next_page": page + 1 if start + size < len(rows) else None}

    def touch(self, count: int) -> None:
        with self.lock:
            for row in sorted(self.rows, key=lambda r: r["updated_at"])[:count]:
                self.clock += dt.timedelta(minutes=1)
                row["updated_at"] = iso(self.clock)
                row["status"] = "closed"


def handler(tickets: Tickets, api_key: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _reply(self, code: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authorised(self) -> bool:
            if self.headers.get("Authorization") == f"Bearer {api_key}":
                return True
            self._reply(401, {"error": "invalid api key"})
            return False

        def do_GET(self) -> None:
            url = urlparse(self.path)
            if url.path != "/tickets":
                self._reply(404, {"error": "not found"})
                return
            if self._authorised():
                q = {k: v[0] for k, v in parse_qs(url.query).items()}
                self._reply(200, tickets.page(q.get("updated_since"), int(q.get("page", 1)),
                                              int(q.get("page_size", 100))))

        def do_POST(self) -> None:
            url = urlparse(self.path)
            if url.path == "/tickets/touch" and self._authorised():
                tickets.touch(int(parse_qs(url.query).get("count", ["1"])[0]))
                self._reply(200, {"ok": True})

        def log_message(self, format: str, *args: object) -> None:
            pass  # quiet: the connector's own log tells what happened

    return Handler


def serve(port: int, api_key: str, count: int) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", port), handler(Tickets(count), api_key))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--api-key", default="demo-key")
    parser.add_argument("--tickets", type=int, default=120)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port),
                                 handler(Tickets(args.tickets), args.api_key))
    print(f"toy HTTP API on http://127.0.0.1:{args.port} (api key {args.api_key!r})", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
