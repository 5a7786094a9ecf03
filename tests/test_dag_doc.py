"""A job DAG's doc lists every field rule of its contract, as the contract model states them."""

from __future__ import annotations

from pathlib import Path

from airflow_provider_dativo.config.loader import ConfigRoot
from airflow_provider_dativo.contracts import FieldSpec
from airflow_provider_dativo.dag_factory import doc_md


def test_the_doc_lists_every_field_rule(config_root: Path) -> None:
    asset = config_root / "assets/file/v1.0/orders.yaml"
    text = asset.read_text()
    text = text.replace("    minimum: 0\n", "    minimum: 0\n"
                                           "    maximum: 100000\n")
    text = text.replace('    pattern: "^[^@\\\\s]+@[^@\\\\s]+$"\n',
                        '    pattern: "^[^@\\\\s]+@[^@\\\\s]+$"\n    min_length: 3\n'
                        "    max_length: 254\n")
    text = text.replace("    type: timestamptz\n", "    type: timestamptz\n"
                                                    '    format: "%Y-%m-%dT%H:%M:%S%z"\n')
    asset.write_text(text)
    root = ConfigRoot(config_root)
    job = root.load_job(config_root / "jobs/acme/orders.yaml")
    rows = {line.split(" | ")[0].lstrip("| "): line for line in doc_md(job, root).splitlines()
            if line.startswith("| ")}

    assert rows["order_id"] == "| order_id | integer | yes | unique |"
    assert rows["customer_email"] == (
        "| customer_email | string | yes | matches `^[^@\\s]+@[^@\\s]+$`; length >= 3; "
        "length <= 254 |")
    assert rows["status"] == "| status | string | yes | one of placed, paid, shipped, cancelled |"
    assert rows["amount"] == "| amount | decimal |  | >= 0.0; <= 100000.0 |"
    assert rows["ordered_at"] == "| ordered_at | timestamptz | yes | format `%Y-%m-%dT%H:%M:%S%z` |"


def test_exclusive_bounds_and_item_counts_read_as_such() -> None:
    spec = FieldSpec("n", "double", minimum=0, exclusive_minimum=True, maximum=1,
                     exclusive_maximum=True)
    assert spec.rule_texts() == ("> 0.0", "< 1.0")
    tags = FieldSpec("tags", "list", min_items=1, max_items=5, items=FieldSpec("element", "string"))
    assert tags.rule_texts() == ("items >= 1", "items <= 5")
