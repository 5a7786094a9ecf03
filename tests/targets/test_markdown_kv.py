"""Markdown-KV: the format, the target's modes, and the source reading documents back."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from airflow_provider_dativo import markdown_kv as mdkv
from airflow_provider_dativo import runner
from airflow_provider_dativo.config.loader import ConfigRoot
from airflow_provider_dativo.errors import ConfigError
from tests.conftest import write

TARGET_JOB = """\
tenant_id: acme
source_connector: file
source_connector_path: connectors/file.yaml
asset: orders
asset_path: assets/file/v1.0/orders.yaml
target_connector: markdown_kv
target_connector_path: connectors/markdown_kv.yaml
source:
  connection:
    path: examples/data/orders/*.csv
target:
  options:
    markdown_kv: {options}
"""

SOURCE_JOB = """\
tenant_id: acme
source_connector: markdown_kv
source_connector_path: connectors/markdown_kv.yaml
asset: orders
asset_path: assets/markdown_kv/v1.0/orders.yaml
target_connector: iceberg
target_connector_path: connectors/iceberg.yaml
source:
  connection:
    path: {glob}
validation:
  mode: warn
"""


def source_job(root: Path, glob: str) -> Path:
    """A job reading documents back, with the orders asset written for markdown_kv."""
    asset = (root / "assets/file/v1.0/orders.yaml").read_text()
    write(root / "assets/markdown_kv/v1.0/orders.yaml",
          asset.replace("source_type: file", "source_type: markdown_kv"))
    return write(root / "jobs/acme/orders_back.yaml", SOURCE_JOB.format(glob=glob))


def md_job(root: Path, options: str):
    path = write(root / "jobs/acme/orders_md.yaml", TARGET_JOB.format(options=options))
    return ConfigRoot(root).load_job(path)


def committed_rows(target, folder: str) -> list[dict]:
    paths = [p for p in target.committed_paths() if f"/{folder}/" in p]
    return [r for p in paths for r in pq.read_table(p).to_pylist()]


def test_render_and_parse_are_inverse_on_awkward_text() -> None:
    layout = mdkv.Layout.for_columns(["id", "note", "empty", "gone", "tags"], ["id"],
                                     {"meta": ["tags"]}, "record")
    record = {"id": 7, "note": "two\nlines with \\n and: colons:: too", "empty": "",
              "gone": None, "tags": ["a", "b"]}
    text = mdkv.render(mdkv.to_document(record, layout))
    assert text.splitlines()[:4] == ["---", "id: 7", "---", "# meta"]
    assert "empty::" in text.splitlines() and "gone" not in text
    back = mdkv.parse(text).flat()
    assert back == {"id": "7", "note": record["note"], "empty": "", "tags": '["a","b"]'}


@pytest.mark.parametrize(("text", "line"), [
    ("---\nid: 1\n", 1),
    ("# s\nthis is prose\n", 2),
    ("---\nnot front matter\n---\n", 2),
])
def test_malformed_documents_name_the_line(text: str, line: int) -> None:
    with pytest.raises(mdkv.MarkdownKVError, match=f"doc.md:{line}:"):
        mdkv.parse(text, "doc.md")


def test_string_mode_keeps_one_document_per_record(config_root: Path) -> None:
    job = md_job(config_root, "{mode: string}")
    _, result = runner.run_job(job, "md-1")
    assert result.committed and result.rows == 8
    target = runner.open_job_target(job)
    rows = {r["doc_id"]: r["markdown"] for r in committed_rows(target, "documents")}
    assert sorted(rows) == [str(i) for i in range(1001, 1009)]
    doc = mdkv.parse(rows["1001"]).flat()
    assert doc["customer_email"] == "ana@example.com" and doc["amount"] == "120.50"
    assert rows["1001"].startswith("---\norder_id: 1001\n---\n# orders\n")


def test_structured_hybrid_writes_kv_rows_and_documents(config_root: Path) -> None:
    job = md_job(config_root, "{mode: structured, pattern: hybrid, "
                              "sections: {money: [amount, currency]}}")
    runner.run_job(job, "md-2")
    target = runner.open_job_target(job)
    kv = committed_rows(target, "kv")
    first = [(r["section"], r["key"], r["value"]) for r in kv if r["doc_id"] == "1001"]
    assert first[:3] == [("front_matter", "order_id", "1001"), ("money", "amount", "120.50"),
                         ("money", "currency", "EUR")]
    assert ("orders", "status", "paid") in first
    docs = {r["doc_id"]: r for r in committed_rows(target, "documents")}
    assert len(docs) == 8
    assert json.loads(docs["1001"]["sections"])["money"] == {"amount": "120.50",
                                                            "currency": "EUR"}
    assert json.loads(docs["1001"]["front_matter"]) == {"order_id": "1001"}


def test_raw_files_round_trip_through_the_markdown_kv_source(config_root: Path) -> None:
    job = md_job(config_root, "{mode: raw_file, path_pattern: '{status}/{order_id}.mdkv'}")
    manifest, result = runner.run_job(job, "md-raw")
    assert result.rows == 8 and len(manifest["files"]) == 8
    target = runner.open_job_target(job)
    files = sorted(Path(p) for p in target.committed_paths())
    assert sorted(f.name for f in files) == [f"{i}.mdkv" for i in range(1001, 1009)]
    assert all(f.parent.name in {"paid", "placed", "shipped", "cancelled"} for f in files)
    # read the documents back into Iceberg and compare with the CSV loaded directly
    glob = str(Path(target.root).relative_to(config_root)) + "/files/**/*.mdkv"
    back = ConfigRoot(config_root).load_job(
        source_job(config_root, glob))
    manifest, _ = runner.run_job(back, "back-1")
    assert manifest["rows"] == 8 and manifest["rejected"] == 0
    direct = ConfigRoot(config_root).load_job(config_root / "jobs/acme/orders.yaml")
    runner.run_job(direct, "direct-1")

    def table(j) -> list[dict]:
        rows = runner.open_job_target(j).load_table().scan().to_arrow().to_pylist()
        return sorted(rows, key=lambda r: r["order_id"])

    assert table(back) == table(direct)
    # files are read once: a second run reads nothing new
    manifest, _ = runner.run_job(back, "back-2")
    assert manifest["rows"] == 0


def test_the_source_rejects_a_broken_document_with_file_and_line(config_root: Path) -> None:
    write(config_root / "docs_in/1.md", "---\norder_id: 1\n---\n# orders\n"
          "customer_email:: a@example.com\nstatus:: paid\nordered_at:: 2026-11-25T08:00:00Z\n")
    write(config_root / "docs_in/2.md", "# orders\norder_id:: 2\nstray prose\n")
    job = ConfigRoot(config_root).load_job(
        source_job(config_root, "docs_in/*.md"))
    manifest, _ = runner.run_job(job, "docs-1")
    assert manifest["rows"] == 1 and manifest["rule_counts"] == {"parse": 1}
    rejected = [r for p in manifest["quarantine"] for r in pq.read_table(p).to_pylist()]
    assert rejected[0]["_dativo_reason"] == (
        "docs_in/2.md:3: expected 'key:: value' or a '# section' line")


def test_raw_file_mode_needs_a_path_pattern(config_root: Path) -> None:
    with pytest.raises(ConfigError, match=r"target\.options\.markdown_kv: .*needs path_pattern"):
        runner.open_job_target(md_job(config_root, "{mode: raw_file}"))
