"""Benchmark: `dativo run` of a CSV source into Iceberg with the contract's quality rules beside
the same run without them.

1M rows (by default), the contract of bench/file_to_iceberg.py in the ODCS form; the rules side
adds 5 property-level library rules (run per row on every batch) and 3 dataset-level SQL rules
(run once over the staged files in DuckDB before the commit). Each run is its own process;
``--repeat`` interleaves the sides and reports the best of each. Prints figures; asserts
nothing.

    python bench/quality_rules.py [--rows 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from file_to_iceberg import BIN, make_root, timed

PROPERTY_RULES: dict[str, list[dict[str, Any]]] = {
    "order_id": [{"name": "order_id_present", "rule": "nullCheck"}],
    "customer": [{"name": "customer_present", "rule": "missingValues"}],
    "status": [{"name": "status_known", "rule": "validValues",
                "validValues": ["placed", "paid", "shipped", "cancelled"]}],
    "amount": [{"name": "amount_range", "rule": "between", "mustBeBetween": [0, 500]}],
    "quantity": [{"name": "quantity_positive", "rule": "minCheck", "mustBeGreaterOrEqualTo": 1}],
}
TABLE_RULES: list[dict[str, Any]] = [
    {"name": "unique_orders", "type": "sql", "mustBe": 0, "severity": "error",
     "query": "SELECT count(*) - count(DISTINCT order_id) FROM ${table}"},
    {"name": "cancelled_share", "type": "sql", "mustBeBetween": [10, 40],
     "query": "SELECT 100.0 * count(*) FILTER (WHERE status = 'cancelled') / count(*) "
              "FROM ${table}"},
    {"name": "revenue", "type": "sql", "mustBeGreaterThan": 0,
     "query": "SELECT sum(amount * quantity) FROM ${table}"},
]


def asset(rules: bool) -> str:
    props: list[dict[str, Any]] = [
        {"name": "order_id", "logicalType": "integer", "required": True},
        {"name": "customer", "logicalType": "string", "required": True},
        {"name": "status", "logicalType": "string"},
        {"name": "amount", "logicalType": "number"},
        {"name": "quantity", "logicalType": "integer", "physicalType": "int"},
        {"name": "ordered_at", "logicalType": "date", "physicalType": "timestamptz",
         "required": True},
    ]
    obj: dict[str, Any] = {"name": "bench_orders", "logicalType": "object", "properties": props}
    if rules:
        for prop in props:
            if prop["name"] in PROPERTY_RULES:
                prop["quality"] = PROPERTY_RULES[prop["name"]]
        obj["quality"] = TABLE_RULES
    return yaml.safe_dump({
        "apiVersion": "v3.0.2", "kind": "DataContract", "id": "bench-orders",
        "status": "active", "name": "bench_orders", "version": "1.0", "schema": [obj],
        "customProperties": [
            {"property": "sourceType", "value": "file"}, {"property": "object", "value": "orders"},
            {"property": "target", "value": {"partitioning": ["ingest_date"]}}],
    }, sort_keys=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dativo-bench-") as tmp:
        root = make_root(args.rows, Path(tmp))
        path = root / "assets/bench/v1.0/orders.yaml"
        sides: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
        for i in range(max(args.repeat, 1)):
            for rules in (False, True):
                path.write_text(asset(rules))
                shutil.rmtree(root / ".dativo", ignore_errors=True)
                sides[rules].append(timed([str(BIN / "dativo"), "--root", str(root), "run",
                                           "jobs/bench/orders.yaml", "--run-id", f"q-{i}"]))
        plain, ruled = min(sides[False]), min(sides[True])
        print(f"{args.rows:,} rows, best of {args.repeat}")
        for label, (seconds, mib) in (("without rules", plain), ("5 row + 3 SQL rules", ruled)):
            print(f"  {label:<20}: {seconds:6.2f} s  {args.rows / seconds:>10,.0f} rows/s  "
                  f"peak {mib:,.0f} MiB")
        share = (ruled[0] - plain[0]) / ruled[0]
        print(f"  rules: {ruled[0] - plain[0]:.2f} s, {share:.0%} of the run's wall time")


if __name__ == "__main__":
    main()
