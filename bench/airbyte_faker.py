"""Benchmark: Airbyte's source-faker alone beside the same read through `dativo run` into Iceberg.

1. Once, as a user sets a connector up: `dativo discover --job`, which keeps the connector's
   spec and catalog for later runs (printed as setup).
2. Then, in alternating rounds so a busy machine slows both alike:
   - `source-faker read` of the users stream with stdout to /dev/null: the connector's own time;
   - `dativo run` of jobs/examples/faker_users.yaml with the same count into a new Iceberg
     table: read, contract check, Parquet, commit.
Prints every round, the medians and their ratio, dativo's extract time from the run manifest,
and where dativo's extra time goes: the connector runs under a two-line shell wrapper that
notes when it starts and ends, which splits a run into the time before the connector starts,
the connector's own run (beside its run alone) and the time after it exits. Asserts nothing.

    python bench/airbyte_faker.py --users 100000 --rounds 3

With --docker, the same through the image dativo/source-faker (make docker-engine): a bare
`docker run IMAGE read --config ... --catalog ...` to /dev/null beside `dativo run` of the same
job on connectors/faker_docker.yaml, same settings (the bare container with --log-driver none,
as the launcher creates it, and once more with the engine's default log), alternating rounds,
wall-clock medians (a container's CPU is the engine's, not this process's children's) and the
median of each round's own ratio; the engine's events split each run into the time before the
container starts, its run and the time after it exits. --parallelism sets the connector's
processes (default 2: on two cores, every CPU second spent reading its output is taken from
it). The first `dativo run`, before anything is kept, is reported on its own as the cold run;
the rounds after it are warm (spec and catalog kept). With --against DIR each round also runs
`dativo run` under the package in DIR (another checkout), so a change to the launcher is
measured beside the code it replaces.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(REPO))

from airflow_provider_dativo.config.loader import ConfigRoot  # noqa: E402
from airflow_provider_dativo.engines.connector_venvs import install  # noqa: E402

JOB = "jobs/examples/faker_users.yaml"
CONFIG = {"seed": 7, "records_per_slice": 1000, "always_updated": False, "parallelism": 2}


SPAN: list[float] = []  # when the last timed command started and ended (epoch seconds)


def phases() -> tuple[float, float, float]:
    """The last timed command's seconds before its (last) container started, the container's
    own run from start to exit, and the seconds after it exited, from the engine's events."""
    since, until = SPAN
    out = subprocess.run(["docker", "events", "--since", f"{since:.6f}", "--until",
                          f"{until + 0.5:.6f}", "--filter", "type=container", "--filter",
                          f"image={IMAGE}", "--format", "{{.Status}} {{.TimeNano}}"],
                         capture_output=True, text=True, check=True).stdout.split("\n")
    stamps = {kind: int(nano) / 1e9 for kind, nano in (line.split() for line in out if line)}
    return stamps["start"] - since, stamps["die"] - stamps["start"], until - stamps["die"]


def timed(argv: list[str], env: dict[str, str],
          stdout: int | None = None) -> tuple[float, float]:
    """Wall seconds, and CPU seconds of the command and all its children (steadier on a busy
    machine)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    SPAN[:] = [time.time()]
    subprocess.run(argv, env=env, check=True, stdout=stdout)
    SPAN.append(time.time())
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def wrapper(folder: Path, executable: str) -> Path:
    """A script that runs the connector and appends its start and end times to $BENCH_TIMES
    (bash's clock variable: no process is started to read the time)."""
    path = folder / "source-faker-timed"
    path.write_text(f"""#!/bin/bash
[ -n "$BENCH_TIMES" ] && echo "$EPOCHREALTIME" >> "$BENCH_TIMES"
{executable} "$@"
code=$?
[ -n "$BENCH_TIMES" ] && echo "$EPOCHREALTIME" >> "$BENCH_TIMES"
exit $code
""")
    path.chmod(0o755)
    return path


IMAGE = "dativo/source-faker:7.2.1"


def docker_main(users: int, rounds: int, against: str | None = None,
                parallelism: int = 2) -> None:
    """The --docker mode (see the module's docstring)."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        work.chmod(0o755)  # the image's user reads the mounted files
        env = {**os.environ, "DATIVO_CONNECTORS_HOME": str(work / "connectors")}
        config = {**CONFIG, "count": users, "parallelism": parallelism}
        (work / "config.json").write_text(json.dumps(config))
        mount = ["-v", f"{work}:/dativo:ro"]
        docker = ["docker", "run", "--rm", "--init", "--network", "none", *mount, IMAGE]
        catalog = subprocess.run([*docker, "discover", "--config", "/dativo/config.json"],
                                 capture_output=True, check=True).stdout
        streams = next(json.loads(line) for line in catalog.splitlines()
                       if line.startswith(b'{"type":"CATALOG"'))["catalog"]["streams"]
        users_stream = next(s for s in streams if s["name"] == "users")
        (work / "catalog.json").write_text(json.dumps({"streams": [{
            "stream": users_stream, "sync_mode": "incremental", "cursor_field": ["updated_at"],
            "destination_sync_mode": "append"}]}))
        for name in ("config.json", "catalog.json"):
            (work / name).chmod(0o644)
        bare = [*docker, "read", "--config", "/dativo/config.json", "--catalog",
                "/dativo/catalog.json"]

        def config_root(name: str) -> Path:
            root = work / name
            for rel in ("connectors", "assets", "jobs", "registry"):
                shutil.copytree(REPO / rel, root / rel)
            job = root / JOB
            text = job.read_text().replace("source_connector: faker\n",
                                           "source_connector: faker_docker\n").replace(
                "connectors/faker.yaml", "connectors/faker_docker.yaml")
            # the image recipe reads the faker assets (its asset_source_type), so the job keeps
            # its contract
            job.write_text(text.replace("    count: 1000\n", "".join(
                f"    {k}: {json.dumps(v)}\n" for k, v in config.items())))
            return root

        cpu: dict[str | None, list[float]] = {None: [], against: []}
        split: dict[str | None, list[tuple[float, float, float]]] = {None: [], against: [],
                                                                      "bare": []}

        def run_bare(argv: list[str]) -> float:
            wall = timed(argv, env, stdout=subprocess.DEVNULL)[0]
            split["bare"].append(phases())
            return wall

        def run_dativo(root: Path, package: str | None = None) -> float:
            """Wall seconds; dativo's own CPU seconds (never the container's) go to ``cpu``."""
            run_env = env if package is None else {
                **env, "PYTHONPATH": os.pathsep.join(
                    p for p in (package, env.get("PYTHONPATH")) if p)}
            wall, used = timed([str(BIN / "dativo"), "--root", str(root), "run", JOB], run_env,
                               stdout=subprocess.DEVNULL)
            cpu[package].append(used)
            split[package].append(phases())
            return wall

        cold = run_dativo(config_root("cold"))
        # the bare container twice: with the settings the launcher gives it (no engine log:
        # the launcher reads the output itself) and as `docker run` makes it by default
        bare_same = [*bare[:4], "--log-driver", "none", *bare[4:]]
        times: dict[str, list[float]] = {"bare": [], "bare, engine log": [], "dativo": [],
                                         "against": []}
        for n in range(rounds):
            root = config_root(f"round{n}")
            sides: list[Callable[[], None]] = [
                lambda: times["bare"].append(run_bare(bare_same)),
                lambda: times["bare, engine log"].append(
                    timed(bare, env, stdout=subprocess.DEVNULL)[0]),
                lambda root=root: times["dativo"].append(run_dativo(root))]  # type: ignore[misc]
            if against:
                sides.append(lambda n=n: times["against"].append(  # type: ignore[misc]
                    run_dativo(config_root(f"other{n}"), against)))
            for side in sides[::-1] if n % 2 else sides:
                side()
            print(f"round {n + 1}: " + "   ".join(f"{name} {values[-1]:6.2f} s"
                                                   for name, values in times.items() if values),
                  flush=True)
    alone = times["bare"]

    def versus(values: list[float]) -> str:
        """Median over median, and the median of each round's own ratio (a round's runs see
        the same machine, so it is the steadier figure when the machine's speed drifts)."""
        rounds_ = [t / a for t, a in zip(values, alone, strict=True)]
        return (f"{statistics.median(values) / statistics.median(alone):5.2f}x of medians, "
                f"{statistics.median(rounds_):5.2f}x median of rounds ({min(rounds_):.2f}x to "
                f"{max(rounds_):.2f}x)")

    print(f"users                          {users:,}, parallelism {parallelism}")
    print(f"cold: first dativo run         {cold:7.2f} s wall (spec and catalog asked for)")
    print(f"bare docker run read           {statistics.median(alone):7.2f} s wall  "
          f"(median of {rounds}; --log-driver none, as the launcher runs it)")
    print(f"bare, engine's default log     {statistics.median(times['bare, engine log']):7.2f}"
          f" s wall  {versus(times['bare, engine log'])}")
    print(f"dativo run, docker launcher    {statistics.median(times['dativo']):7.2f} s wall  "
          f"(warm), {statistics.median(cpu[None][1:]):.2f} s CPU of dativo itself")
    print(f"ratio                          {versus(times['dativo'])}")
    # where the time goes, from the engine's events: the launcher's own cost is before the
    # container starts and after it exits; the container's run shows what reading its output
    # costs the connector (stdout not kept up with, or cores taken from it)
    sides = [("bare", "bare"), ("dativo", None)] + ([("against", against)] if against else [])
    for name, key in sides:
        rows_ = split[key][1:] if key is None else split[key]  # not the cold run
        before, running, after = (statistics.median(p[i] for p in rows_) for i in range(3))
        print(f"  {name:<8} before the container starts {before:5.2f} s, container runs "
              f"{running:6.2f} s, after it exits {after:5.2f} s (medians)")
    if against:
        print(f"against {against}: {statistics.median(times['against']):7.2f} s wall, "
              f"{statistics.median(cpu[against]):.2f} s CPU  {versus(times['against'])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--docker", action="store_true",
                        help="the source-faker image: docker run beside the docker launcher")
    parser.add_argument("--against", metavar="DIR",
                        help="with --docker: also run dativo under the package in DIR")
    parser.add_argument("--parallelism", type=int, default=CONFIG["parallelism"],
                        help="with --docker: the connector's processes (on two cores, 2 leaves "
                             "none to whatever reads its output)")
    args = parser.parse_args()
    if args.docker:
        docker_main(args.users, args.rounds, args.against, args.parallelism)
        return

    home = Path(os.environ.get("DATIVO_CONNECTORS_HOME")
                or Path(tempfile.gettempdir()) / "dativo-test-connectors")
    env = {**os.environ, "DATIVO_CONNECTORS_HOME": str(home)}
    os.environ["DATIVO_CONNECTORS_HOME"] = str(home)
    recipe = ConfigRoot(REPO).recipe(REPO / "connectors" / "faker.yaml")
    venv = install(REPO, "faker", recipe.default_engine)
    faker = str(venv / "bin" / "source-faker")

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        config = {**CONFIG, "count": args.users}
        (work / "config.json").write_text(json.dumps(config))
        catalog = subprocess.run([faker, "discover", "--config", str(work / "config.json")],
                                 capture_output=True, check=True).stdout
        streams = next(json.loads(line) for line in catalog.splitlines()
                       if line.startswith(b'{"type":"CATALOG"'))["catalog"]["streams"]
        users = next(s for s in streams if s["name"] == "users")
        (work / "catalog.json").write_text(json.dumps({"streams": [{
            "stream": users, "sync_mode": "incremental", "cursor_field": ["updated_at"],
            "destination_sync_mode": "append"}]}))
        read_alone = [faker, "read", "--config", str(work / "config.json"), "--catalog",
                      str(work / "catalog.json")]

        timed_faker = wrapper(work, faker)

        def config_root(name: str) -> Path:
            root = work / name
            for rel in ("connectors", "assets", "jobs", "registry"):
                shutil.copytree(REPO / rel, root / rel)
            recipe = root / "connectors" / "faker.yaml"
            recipe.write_text(recipe.read_text().replace("command: source-faker",
                                                         f"command: {timed_faker}"))
            job = root / JOB
            job.write_text(job.read_text().replace(
                "    count: 1000\n", "".join(f"    {k}: {json.dumps(v)}\n"
                                            for k, v in config.items())))
            return root

        setup = timed([str(BIN / "dativo"), "--root", str(config_root("setup")), "discover",
                       "--job", JOB], env, stdout=subprocess.DEVNULL)
        alone: list[tuple[float, float]] = []
        through: list[tuple[float, float]] = []
        extract: list[float] = []
        parts: list[tuple[float, float, float]] = []  # before, connector, after

        def run_dativo(root: Path, times: Path) -> None:
            run = [str(BIN / "dativo"), "--root", str(root), "run", JOB]
            started = time.time()
            through.append(timed(run, {**env, "BENCH_TIMES": str(times)},
                                 stdout=subprocess.DEVNULL))
            begin, end = (float(t) for t in times.read_text().split())
            parts.append((begin - started, end - begin, started + through[-1][0] - end))

        for n in range(args.rounds):
            root = config_root(f"round{n}")
            times = work / f"times{n}.txt"
            if n % 2:
                run_dativo(root, times)
                alone.append(timed(read_alone, env, stdout=subprocess.DEVNULL))
            else:
                alone.append(timed(read_alone, env, stdout=subprocess.DEVNULL))
                run_dativo(root, times)
            manifest = json.loads(next(root.glob(".dativo/staging/*/*/*/manifest.json"))
                                  .read_text())
            extract.append(manifest["seconds"])
            before, connector, after = parts[-1]
            print(f"round {n + 1}: source-faker read {alone[-1][0]:6.2f} s   dativo run "
                  f"{through[-1][0]:6.2f} s (connector started after {before:.2f} s, ran "
                  f"{connector:.2f} s, run ended {after:.2f} s after it)   "
                  f"({manifest['rows']:,} rows committed)", flush=True)

    wall_alone = statistics.median(a[0] for a in alone)
    wall_run = statistics.median(t[0] for t in through)
    cpu_alone = statistics.median(a[1] for a in alone)
    cpu_run = statistics.median(t[1] for t in through)
    print(f"users                       {args.users:,}")
    print(f"setup: dativo discover      {setup[0]:7.2f} s wall (once; keeps spec and catalog)")
    print(f"source-faker read alone     {wall_alone:7.2f} s wall  {cpu_alone:7.2f} s CPU  "
          f"(median of {args.rounds})")
    print(f"dativo run -> Iceberg       {wall_run:7.2f} s wall  {cpu_run:7.2f} s CPU")
    print(f"  of which extract          {statistics.median(extract):7.2f} s wall  (read + "
          "contract check + Parquet)")
    connector = statistics.median(p[1] for p in parts)
    print(f"  before the connector      {statistics.median(p[0] for p in parts):7.2f} s  "
          "(Python, imports, job load)")
    print(f"  the connector             {connector:7.2f} s  ({connector / wall_alone:.2f}x its "
          "run alone: the two share the machine)")
    print(f"  after the connector       {statistics.median(p[2] for p in parts):7.2f} s  "
          "(last checks, commit)")
    print(f"ratio                       {wall_run / wall_alone:7.2f}x wall  "
          f"{cpu_run / cpu_alone:.2f}x CPU")


if __name__ == "__main__":
    main()
