"""``dativo validate`` states each target's own rules, naming the job file and field, instead of
the run failing when the target opens."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import write
from tests.test_cli import dativo

ORDERS = "jobs/acme/orders.yaml"


def variant(root: Path, name: str, target: str, extra: str) -> str:
    text = (root / ORDERS).read_text().replace("target_connector: iceberg", f"target_connector: "
                                               f"{target}").replace("connectors/iceberg.yaml",
                                                                    f"connectors/{target}.yaml")
    write(root / f"jobs/acme/{name}.yaml", text + extra)
    return f"jobs/acme/{name}.yaml"


@pytest.mark.parametrize(("target", "extra", "field", "message"), [
    ("parquet", "target:\n  write_mode: upsert\n", "target.write_mode",
     "target 'parquet' only appends; write mode 'upsert' needs the iceberg target"),
    ("markdown_kv", "target:\n  options:\n    quarantine_table: true\n",
     "target.options.quarantine_table",
     "target 'markdown_kv' cannot keep a quarantine table (available for: iceberg, parquet)"),
    # a layout the contract's columns cannot fill: the schema alone cannot tell
    ("markdown_kv", "target:\n  options:\n    markdown_kv: {mode: raw_file, path_pattern: "
     "'{order_number}.md'}\n", "target.options.markdown_kv",
     "path_pattern names unknown column(s): order_number"),
])
def test_validate_refuses_what_the_target_would_refuse(
        config_root: Path, target: str, extra: str, field: str, message: str) -> None:
    job = variant(config_root, f"bad_{target}", target, extra)
    result = dativo(config_root, "validate")
    assert result.returncode == 1, result.stdout
    errors = [line for line in result.stdout.splitlines() if message in line]
    assert len(errors) == 1 and job in errors[0] and field in errors[0], result.stdout


def test_an_upsert_job_without_a_primary_key_fails_validate(config_root: Path) -> None:
    asset = config_root / "assets/file/v1.0/orders.yaml"
    write(asset, asset.read_text().replace("    primary_key: true\n", ""))
    write(config_root / ORDERS, (config_root / ORDERS).read_text()
          + "target:\n  write_mode: upsert\n")
    result = dativo(config_root, "validate")
    assert result.returncode == 1, result.stdout
    line = next(line for line in result.stdout.splitlines() if "needs a primary key" in line)
    assert ORDERS in line and "target.write_mode" in line
