"""Benchmark: one CSV file and one PostgreSQL table into Iceberg in 1, 2 and 4 parts.

Each case runs `dativo run JOB --parallel N` with `source.partitions.count: N` (N processes, one
part each, one commit), beside the same job without partitions. Prints wall seconds, rows/s,
the throughput ratio to the one-part run, the peak memory (max RSS) of the main process (with
--parallel the parts run in processes forked from a fork server, which it does not count) and of
each part's process as the run reports it, and the CPU seconds the whole machine was busy
(the database server's included) with the cores that makes on average. Needs the
PostgreSQL on 127.0.0.1:5432 for the table case (it creates and drops a database of its own).
Asserts nothing: the figures depend on how many cores are free. ``--repeat N`` runs every case
N times in turn and prints medians and the spread; ``--against DIR`` runs every case under the
package in DIR too (another checkout), alternating, so a change is measured beside the code it
replaces on the same machine at the same time.

    python bench/partitioned.py --rows 2000000 [--repeat 3] [--against /path/to/other/checkout]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import file_to_iceberg as csv_case
import postgres_to_iceberg as pg_case

BIN = csv_case.BIN
JOB = "jobs/bench/orders.yaml"
WRAP = """\
import resource, subprocess, sys
out = subprocess.run(sys.argv[1:], check=True, capture_output=True, text=True)
print(out.stdout)
print("MAIN_PEAK_KIB", resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""
PART_PEAK = re.compile(r"part (\d+) of \d+: [\d,]+ rows in [\d.]+ s, peak ([\d.]+) MiB")


def with_parts(root: Path, parts: int | None, column: str | None) -> None:
    """The bench job with ``parts`` parts (None: without partitions), a fresh table each time."""
    path = root / JOB
    text = path.read_text().split("  partitions:")[0]
    if parts is not None:
        text += "  partitions:\n" + (f"    column: {column}\n" if column else "")
        text += f"    count: {parts}\n"
    path.write_text(text)


def busy_seconds() -> float:
    """CPU seconds every core of this machine has been busy since boot (Linux's /proc/stat),
    the database server's included; 0 where there is no /proc/stat."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq = (int(f) for f in fields[:7])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def run(root: Path, parts: int | None, run_id: str,
        package: str | None = None) -> tuple[float, float, list[float], float]:
    cmd = [str(BIN / "dativo"), "--root", str(root), "run", JOB, "--run-id", run_id]
    if parts is not None:
        cmd += ["--parallel", str(parts)]
    env = dict(os.environ)
    if package is not None:  # this checkout's package wins (subprocesses inherit it)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package, env.get("PYTHONPATH")) if p)
    start, busy = time.perf_counter(), busy_seconds()
    out = subprocess.run([sys.executable, "-c", WRAP, *cmd], check=True, capture_output=True,
                         text=True, env=env).stdout
    wall, busy = time.perf_counter() - start, busy_seconds() - busy
    main_mib = int(out.rsplit("MAIN_PEAK_KIB", 1)[1].split()[0]) / 1024
    return wall, main_mib, [float(m.group(2)) for m in PART_PEAK.finditer(out)], busy


def series(label: str, rows: int, root: Path, column: str | None,
           reset: Callable[[], None], repeat: int = 1, against: str | None = None) -> None:
    print(f"\n{label}: {rows:,} rows" + (f", median of {repeat}" if repeat > 1 else ""))
    print(f"{'code':>7} {'parts':>14} {'seconds':>8} {'spread':>13} {'rows/s':>11} {'vs 1':>6} "
          f"{'CPU s':>6} {'cores':>5} {'main MiB':>9}  part MiB")
    sides = {"this": None, **({"against": against} if against else {})}
    cases = [(side, parts) for parts in (None, 1, 2, 4) for side in sides]
    walls: dict[tuple[str, int | None], list[float]] = {case: [] for case in cases}
    busy: dict[tuple[str, int | None], list[float]] = {case: [] for case in cases}
    memory: dict[tuple[str, int | None], tuple[float, list[float]]] = {}
    for _ in range(repeat):  # every case once per round, so a busy spell hits all of them
        for side, parts in cases:
            reset()
            with_parts(root, parts, column)
            wall, main_mib, peaks, cpu = run(root, parts, f"bench-{parts}", sides[side])
            walls[side, parts].append(wall)
            busy[side, parts].append(cpu)
            memory[side, parts] = (main_mib, peaks)
    for side, parts in cases:
        wall = statistics.median(walls[side, parts])
        spread = f"{min(walls[side, parts]):.2f}-{max(walls[side, parts]):.2f}"
        base = statistics.median(walls[side, 1])
        ratio = f"{base / wall:5.2f}x" if parts else "     -"
        name = "no partitions" if parts is None else f"{parts} x --parallel"
        main_mib, peaks = memory[side, parts]
        cpu = statistics.median(busy[side, parts])
        print(f"{side:>7} {name:>14} {wall:8.2f} {spread:>13} {rows / wall:11,.0f} {ratio:>6} "
              f"{cpu:6.1f} {cpu / wall:5.2f} {main_mib:9.0f}  "
              + ", ".join(f"{p:.0f}" for p in peaks))
    # N parts can go at most as much faster than one part as the cores one part leaves idle
    # allow: their CPU seconds are at least one part's
    cores = os.cpu_count() or 1
    for side in sides:
        one = statistics.median(busy[side, 1]) / statistics.median(walls[side, 1])
        print(f"{side:>7}: one part keeps {one:.2f} of {cores} cores busy (the machine's, a "
              f"server's work included), so no number of parts runs more than "
              f"{cores / one:.2f}x as fast here")


def drop_table(root: Path) -> Callable[[], None]:
    """A fresh Iceberg table and staging for every run: each run lands all the rows."""
    import shutil

    def reset() -> None:
        shutil.rmtree(root / ".dativo", ignore_errors=True)

    return reset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-csv", action="store_true")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--against", metavar="DIR",
                        help="another checkout whose package runs every case too")
    args = parser.parse_args()
    options = {"repeat": args.repeat, "against": args.against}
    if not args.skip_csv:
        with tempfile.TemporaryDirectory(prefix="dativo-bench-") as tmp:
            root = csv_case.make_root(args.rows, Path(tmp) / "csv")
            size = (root / "data/orders.csv").stat().st_size
            series(f"CSV ({size / 2**20:,.0f} MiB, one file in byte ranges)", args.rows, root,
                   None, drop_table(root), **options)
    if args.skip_postgres:
        return
    pg_case.make_table(args.rows)
    try:
        with tempfile.TemporaryDirectory(prefix="dativo-bench-") as tmp:
            root = pg_case.make_root(Path(tmp))
            series("PostgreSQL (ranges of order_id)", args.rows, root, "order_id",
                   drop_table(root), **options)
    finally:
        pg_case.admin(f"DROP DATABASE IF EXISTS {pg_case.DB} WITH (FORCE)")


if __name__ == "__main__":
    main()
