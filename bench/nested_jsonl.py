"""Benchmark: JSON Lines with a struct and a list column → Iceberg, typed beside JSON text.

The same file lands twice through `dativo run`: once under a contract that declares ``address``
an object (an Iceberg struct, with a required nested field) and ``tags`` an array of strings (an
Iceberg list), once under a contract that keeps both as JSON text. Each run is its own process;
prints rows/s of both and their ratio; asserts nothing. The typed path should stay within 1.5x.

    python bench/nested_jsonl.py --rows 1000000 [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from file_to_iceberg import BIN, REPO, report, timed

from airflow_provider_dativo.contracts._conform import json_text


def asset(name: str, typed: bool) -> dict:
    address: dict = {"name": "address", "logicalType": "object", "physicalType": "json"}
    tags: dict = {"name": "tags", "logicalType": "array", "physicalType": "json"}
    if typed:
        address = {"name": "address", "logicalType": "object",
                   "logicalTypeOptions": {"required": ["city"]}, "properties": [
                       {"name": "street", "logicalType": "string"},
                       {"name": "city", "logicalType": "string"},
                       {"name": "zip", "logicalType": "integer", "physicalType": "int4"}]}
        tags = {"name": "tags", "logicalType": "array", "logicalTypeOptions": {"maxItems": 10},
                "items": {"logicalType": "string"}}
    return {"apiVersion": "v3.0.2", "kind": "DataContract", "id": name, "version": "1.0.0",
            "status": "active", "name": name, "schema": [{"name": name, "properties": [
                {"name": "id", "logicalType": "integer", "required": True},
                {"name": "amount", "logicalType": "number", "physicalType": "double"},
                address, tags]}]}


def job(name: str) -> dict:
    return {"tenant_id": "bench", "source_connector": "file",
            "source_connector_path": "connectors/file.yaml", "asset": name,
            "asset_path": f"assets/file/v1.0/{name}.yaml", "target_connector": "iceberg",
            "target_connector_path": "connectors/iceberg.yaml",
            "source": {"connection": {"path": "data/rows.jsonl", "format": "jsonl"}}}


def make_root(rows: int, folder: Path) -> Path:
    root = folder / "config"
    for rel in ("connectors", "registry"):
        shutil.copytree(REPO / rel, root / rel)
    for name, typed in (("typed", True), ("text", False)):
        path = root / f"assets/file/v1.0/{name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(asset(name, typed)))
        (root / "jobs/bench").mkdir(parents=True, exist_ok=True)
        (root / f"jobs/bench/{name}.yaml").write_text(yaml.safe_dump(job(name)))
    (root / "data").mkdir()
    rng = np.random.default_rng(7)
    cities = np.array(["Oslo", "Bergen", "Berlin", "Lyon", "Porto"])
    words = np.array(["new", "vip", "eu", "returning", "b2b", "promo"])
    with open(root / "data/rows.jsonl", "wb") as out:
        for start in range(0, rows, 200_000):
            n = min(200_000, rows - start)
            address = pa.StructArray.from_arrays(
                [pa.array(np.char.add("street ", rng.integers(1, 999, n).astype(str))),
                 pa.array(cities[rng.integers(0, len(cities), n)]),
                 pa.array(rng.integers(1000, 99999, n))], names=["street", "city", "zip"])
            lengths = rng.integers(0, 4, n)
            offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
            tags = pa.ListArray.from_arrays(
                pa.array(offsets), pa.array(words[rng.integers(0, len(words), offsets[-1])]))
            record = pa.StructArray.from_arrays(
                [pa.array(np.arange(start, start + n)), pa.array(np.round(rng.random(n) * 500, 2)),
                 address, tags], names=["id", "amount", "address", "tags"])
            out.write(("\n".join(pc.cast(json_text(record), pa.string()).to_pylist()) + "\n"
                       ).encode())
    return root


def bench(rows: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory(prefix="dativo-bench-") as tmp:
        root = make_root(rows, Path(tmp))
        size = (root / "data/rows.jsonl").stat().st_size / 2**20
        best: dict[str, tuple[float, float]] = {}
        for i in range(repeat):  # interleaved, so load from elsewhere hits both
            for name in ("text", "typed"):
                shutil.rmtree(root / ".dativo", ignore_errors=True)
                figure = timed([str(BIN / "dativo"), "--root", str(root), "run",
                                f"jobs/bench/{name}.yaml", "--run-id", f"bench-{i}"])
                best[name] = min(best.get(name, figure), figure)
        print(f"{rows:>10,} rows ({size:,.0f} MiB JSON Lines), best of {repeat}")
        # the JSON-text run is the floor the typed run is measured against
        report(rows, "struct and list as JSON text", best["text"], "struct and list typed",
               best["typed"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, action="append", help="rows (repeatable)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs of each side; the best is reported (default 1)")
    args = parser.parse_args()
    for rows in args.rows or [1_000_000]:
        bench(rows, max(args.repeat, 1))


if __name__ == "__main__":
    main()
