"""The UI, seen: start Airflow on 127.0.0.1, check every job's DAG through the REST API, run one.

    python scripts/ui_check.py [--dag dativo__acme__orders] [--screenshot docs/images/dag_graph.png]

Starts ``airflow standalone`` (API server, scheduler, DAG processor, triggerer) in a private
Airflow home on a private copy of the config repository, then through the REST API: waits until
every job's DAG is listed with its dativo tags, unpauses and triggers one, waits for the run to
succeed, and (with --screenshot) photographs the run's graph in headless Chromium.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CONFIG_DIRS = ("connectors", "assets", "jobs", "registry", "examples/data", "dags")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run")


class Api:
    def __init__(self, base: str) -> None:
        self.base = base
        self.token = ""

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.base}{path}", data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")

    def login(self) -> None:
        # the simple auth manager with all_admins hands out a token without credentials
        self.token = self.call("GET", "/auth/token")["access_token"]


def wait(what: str, check: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except OSError as exc:  # not up yet
            last = exc
        time.sleep(1)
    raise TimeoutError(f"{what}: not done after {timeout:.0f}s (last: {last})")


def expected_dags(config_root: Path) -> dict[str, set[str]]:
    """DAG id → the tags it must carry, for every valid job."""
    from airflow_provider_dativo.config.loader import ConfigRoot

    config = ConfigRoot(config_root)
    out = {}
    for path in config.job_files():
        job = config.load_job(path)
        out[job.dag_id] = {"dativo", f"tenant:{job.tenant_id}", f"source:{job.source.type}",
                           f"target:{job.target.type}", *job.tags}
    return out


def screenshot(base: str, path: str, out: Path) -> None:
    """``base + path`` in headless Chromium, driven over the DevTools protocol: log in, choose
    the graph view (the UI keeps that choice in localStorage), then capture the page."""
    import base64

    from websockets.sync.client import connect

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        raise SystemExit("chromium not found: apt-get install -y chromium")
    out.parent.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="dativo-chromium-") as profile:
        browser = subprocess.Popen([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                                    f"--remote-debugging-port={port}", "--window-size=1500,900",
                                    "about:blank"], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        try:
            targets = wait("Chromium", lambda: json.loads(urllib.request.urlopen(
                f"http://127.0.0.1:{port}/json/list", timeout=5).read()), 30)
            page = next(t for t in targets if t["type"] == "page")
            with connect(page["webSocketDebuggerUrl"], max_size=None) as ws:
                ids = iter(range(1, 1000))

                def cdp(method: str, **params: Any) -> Any:
                    ident = next(ids)
                    ws.send(json.dumps({"id": ident, "method": method, "params": params}))
                    while True:
                        msg = json.loads(ws.recv())
                        if msg.get("id") == ident:
                            return msg.get("result")

                cdp("Page.enable")
                cdp("Page.navigate", url=f"{base}/auth/token/login?next=/")
                time.sleep(5)
                cdp("Runtime.evaluate",
                    expression="localStorage.setItem('default_dag_view', JSON.stringify('graph'))")
                cdp("Page.navigate", url=base + path)
                time.sleep(12)  # the UI renders the graph after its API calls return
                shot = cdp("Page.captureScreenshot", format="png")
                out.write_bytes(base64.b64decode(shot["data"]))
        finally:
            browser.terminate()
            browser.wait(timeout=20)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def check(config_root: Path, home: Path, port: int, dag_id: str,
          shot: Path | None = None, timeout: float = 240) -> dict[str, Any]:
    """Run the whole check; returns what was seen (for tests and the printout)."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")},
           "AIRFLOW_HOME": str(home), "DATIVO_HOME": str(config_root),
           "AIRFLOW__CORE__DAGS_FOLDER": str(config_root / "dags"),
           "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "AIRFLOW__API__HOST": "127.0.0.1", "AIRFLOW__API__PORT": str(port),
           "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
           "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
           "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
           "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
           # standalone starts its components as `airflow ...` from PATH
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    log = open(home / "standalone.log", "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen([str(Path(sys.executable).parent / "airflow"), "standalone"],
                            env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    api = Api(f"http://127.0.0.1:{port}")
    try:
        def healthy() -> Any:
            if proc.poll() is not None:
                raise RuntimeError(f"airflow standalone exited with {proc.returncode}")
            return api.call("GET", "/api/v2/monitor/health")

        wait("API server", healthy, timeout)
        api.login()
        want = expected_dags(config_root)

        def listed() -> dict[str, set[str]] | None:
            dags = api.call("GET", "/api/v2/dags?limit=1000")["dags"]
            seen = {d["dag_id"]: {t["name"] for t in d["tags"]} for d in dags}
            return seen if set(want) <= set(seen) else None

        seen = wait("every job's DAG listed", listed, timeout)
        missing_tags = {d: sorted(want[d] - seen[d]) for d in want if want[d] - seen[d]}
        if missing_tags:
            raise AssertionError(f"DAGs without their tags: {missing_tags}")
        api.call("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
        run = api.call("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None})
        run_id = run["dag_run_id"]

        def finished() -> str | None:
            state = api.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")["state"]
            return state if state in ("success", "failed") else None

        state = wait(f"run {run_id}", finished, timeout)
        tasks = api.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances")
        result = {"dags": {d: sorted(seen[d]) for d in sorted(want)}, "run_id": run_id,
                  "state": state,
                  "tasks": {t["task_id"]: t["state"] for t in tasks["task_instances"]}}
        if shot is not None and state == "success":
            screenshot(f"http://127.0.0.1:{port}",
                       f"/dags/{dag_id}/runs/{urllib.request.quote(run_id)}", shot)
            result["screenshot"] = str(shot)
        return result
    except BaseException:
        log.flush()
        sys.stderr.write((home / "standalone.log").read_text(errors="replace")[-4000:])
        raise
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dag", default="dativo__acme__orders")
    parser.add_argument("--screenshot", type=Path)
    parser.add_argument("--port", type=int, default=28080)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dativo-ui-") as tmp:
        root, home = Path(tmp) / "config", Path(tmp) / "airflow"
        for rel in CONFIG_DIRS:
            shutil.copytree(REPO / rel, root / rel)
        home.mkdir()
        result = check(root, home, args.port, args.dag,
                       args.screenshot.resolve() if args.screenshot else None)
    print(json.dumps(result, indent=2))
    if result["state"] != "success":
        raise SystemExit(1)


if __name__ == "__main__":
    main()
