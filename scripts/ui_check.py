"""The UI, seen: start Airflow on 127.0.0.1, check every job's DAG through the REST API, run one.

    python scripts/ui_check.py [--dag dativo__acme__orders] [--screenshot docs/images/dag_graph.png]
                               [--no-assets]

Starts ``airflow standalone`` (API server, scheduler, DAG processor, triggerer) in a private
Airflow home on a private copy of the config repository, then through the REST API: waits until
every job's DAG is listed with its dativo tags, unpauses and triggers one, waits for the run to
succeed, and (with --screenshot) photographs the run's graph in headless Chromium.

Unless --no-assets, the DAG folder also gets one downstream DAG per ordinary way of declaring
the run's table Asset (``Asset(uri)``, ``Asset(name=uri, uri=uri)``, ``Asset.ref(name=uri)``,
``Asset.ref(uri=uri)``, ``table_asset(dag_id)``), each with a task that returns the extras of
its triggering asset events, and a DAG whose Asset clashes with a second job's table (its URI
under another name). The check then runs that second job too, and waits until every downstream
DAG has an asset-triggered run that succeeded on the first run's event.
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


# how a downstream DAG may name a dativo table: {uri} and {dag_id} are the table's
DOWNSTREAM_FORMS = {
    "asset_uri": "Asset({uri!r})",
    "asset_name_uri": "Asset(name={uri!r}, uri={uri!r})",
    "ref_name": "Asset.ref(name={uri!r})",
    "ref_uri": "Asset.ref(uri={uri!r})",
    "table_asset": "table_asset({dag_id!r})",
}
DOWNSTREAM_DAG = '''"""Scheduled on a dativo table ({form}); written by scripts/ui_check.py."""
import datetime as dt
import json

from airflow.sdk import DAG, Asset, get_current_context, task

from airflow_provider_dativo import table_asset

TABLE = {schedule}

with DAG({dag_id!r}, schedule=[TABLE], start_date=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
         catchup=False, is_paused_upon_creation=False, tags=["downstream"]):
    @task(inlets=[TABLE])
    def landed() -> str:
        context = get_current_context()
        # the events keyed by Asset (each is also listed under the alias it came through)
        triggering = context["triggering_asset_events"]
        extras = [e.extra for key in triggering if isinstance(key, Asset) for e in triggering[key]]
        # a run scheduled on Asset.ref gets no triggering events from Airflow 3.3; the table's
        # events are still there for a task that declares it as an inlet
        inlet = [e.extra for e in context["inlet_events"][TABLE]]
        return json.dumps({{"triggering": extras, "inlet": inlet}})

    landed()
'''
# the forms Airflow 3.3 links no triggering events to (the scheduler takes a run's events from
# its concrete Assets and aliases only): their downstream task reads the table's inlet events
REF_FORMS = frozenset({"ref_name", "ref_uri"})
CLASH_DAG_ID = "downstream_clash"
CLASH_JOB = "jobs/globex/web_events.yaml"


def write_downstream(config_root: Path, dag_id: str) -> tuple[dict[str, str], str]:
    """A downstream DAG per form for ``dag_id``'s table, and one whose Asset clashes with the
    table of CLASH_JOB; returns ({form: DAG id}, the clashing job's DAG id)."""
    from airflow_provider_dativo.config.loader import ConfigRoot
    from airflow_provider_dativo.operators.lineage import table_uri

    config = ConfigRoot(config_root)
    uri = next(table_uri(j) for p in config.job_files() for j in config.load_streams(p)
               if j.dag_id == dag_id)
    dags = {}
    for form, declared in DOWNSTREAM_FORMS.items():
        down = f"downstream_{form}"
        (config_root / "dags" / f"{down}.py").write_text(DOWNSTREAM_DAG.format(
            form=form, dag_id=down, schedule=declared.format(uri=uri, dag_id=dag_id)))
        dags[form] = down
    clash = config.load_job(CLASH_JOB)
    (config_root / "dags" / f"{CLASH_DAG_ID}.py").write_text(DOWNSTREAM_DAG.format(
        form="a clash", dag_id=CLASH_DAG_ID,
        schedule=f"Asset(name={clash.name!r}, uri={table_uri(clash)!r})"))
    return dags, clash.dag_id


def trigger(api: Api, dag_id: str) -> str:
    """Unpause ``dag_id`` and trigger a run: its run id."""
    api.call("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
    return str(api.call("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None})[
        "dag_run_id"])


def finish(api: Api, dag_id: str, run_id: str, timeout: float) -> tuple[str, dict[str, str]]:
    """Wait for a run to end: its state and its task states."""
    def finished() -> str | None:
        state = api.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")["state"]
        return state if state in ("success", "failed") else None

    state = wait(f"run {run_id} of {dag_id}", finished, timeout)
    tasks = api.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances")
    return state, {t["task_id"]: t["state"] for t in tasks["task_instances"]}


def triggered_by(api: Api, dag_id: str, run_id: str, timeout: float,
                 linked: bool = True) -> dict[str, Any]:
    """The finished asset-triggered run of ``dag_id`` on the event of dativo run ``run_id``:
    its run type and state, that event's extra among the run's triggering events as the API
    lists them (None if not there), and what its task read: the extras of
    ``triggering_asset_events`` and of ``inlet_events``. Unless ``linked``, the run is the one
    whose task read the event as an inlet event."""
    def mine(extras: list[Any]) -> list[Any]:
        return [e for e in extras if (e or {}).get("run_id") == run_id]

    def seen() -> dict[str, Any] | None:
        runs = api.call("GET", f"/api/v2/dags/{dag_id}/dagRuns?limit=100")["dag_runs"]
        for run in runs:
            if run["run_type"] != "asset_triggered" or run["state"] not in ("success", "failed"):
                continue
            path = f"/api/v2/dags/{dag_id}/dagRuns/{urllib.request.quote(run['dag_run_id'])}"
            events = mine([e["extra"] for e in
                           api.call("GET", f"{path}/upstreamAssetEvents")["asset_events"]])
            read: dict[str, list[Any]] = {"triggering": [], "inlet": []}
            if run["state"] == "success":
                value = api.call("GET", f"{path}/taskInstances/landed/xcomEntries/"
                                 "return_value")["value"]
                read = json.loads(value) if isinstance(value, str) else value
            if events if linked else mine(read["inlet"]):
                return {"run_type": run["run_type"], "state": run["state"],
                        "event": events[0] if events else None, "read": read}
        return None

    return wait(f"an asset-triggered run of {dag_id} on run {run_id}", seen, timeout)


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
          shot: Path | None = None, timeout: float = 240,
          assets: bool = True) -> dict[str, Any]:
    """Run the whole check; returns what was seen (for tests and the printout)."""
    downstream, clash_job = write_downstream(config_root, dag_id) if assets else ({}, "")
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
        want.update((d, {"downstream"})
                    for d in ([*downstream.values(), CLASH_DAG_ID] if downstream else []))

        def listed() -> dict[str, set[str]] | None:
            dags = api.call("GET", "/api/v2/dags?limit=1000")["dags"]
            seen = {d["dag_id"]: {t["name"] for t in d["tags"]} for d in dags}
            return seen if set(want) <= set(seen) else None

        seen = wait("every job's DAG listed", listed, timeout)
        missing_tags = {d: sorted(want[d] - seen[d]) for d in want if want[d] - seen[d]}
        if missing_tags:
            raise AssertionError(f"DAGs without their tags: {missing_tags}")
        run_id = trigger(api, dag_id)
        clash_run = trigger(api, clash_job) if downstream else ""
        state, tasks = finish(api, dag_id, run_id, timeout)
        result: dict[str, Any] = {"dags": {d: sorted(seen[d]) for d in sorted(want)},
                                  "run_id": run_id, "state": state, "tasks": tasks}
        if downstream and state == "success":  # what the load returned, to compare events with
            result["load"] = api.call(
                "GET", f"/api/v2/dags/{dag_id}/dagRuns/{urllib.request.quote(run_id)}/"
                "taskInstances/load/xcomEntries/return_value")["value"]
        if downstream:
            clash_state, clash_tasks = finish(api, clash_job, clash_run, timeout)
            result["clash"] = {
                "dag_id": clash_job, "run_id": clash_run, "state": clash_state,
                "tasks": clash_tasks,
                "doc_md": api.call("GET", f"/api/v2/dags/{clash_job}/details")["doc_md"]}
        if downstream and state == "success":  # a failed load has no event to wait for
            result["downstream"] = {
                form: triggered_by(api, down, run_id, timeout, linked=form not in REF_FORMS)
                for form, down in downstream.items()}
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
    parser.add_argument("--no-assets", action="store_true",
                        help="no downstream DAGs: only list the DAGs and run one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dativo-ui-") as tmp:
        root, home = Path(tmp) / "config", Path(tmp) / "airflow"
        for rel in CONFIG_DIRS:
            shutil.copytree(REPO / rel, root / rel)
        home.mkdir()
        result = check(root, home, args.port, args.dag,
                       args.screenshot.resolve() if args.screenshot else None,
                       assets=not args.no_assets)
    print(json.dumps(result, indent=2))
    runs = [result["state"], result.get("clash", {}).get("state", "success"),
            *(d["state"] for d in result.get("downstream", {}).values())]
    if set(runs) != {"success"}:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
