"""Every message reaches the terminal as written: text with square brackets (JSON Schema
patterns, lists, rich-like tags in a user's own values) is never read as markup.

Each command runs as a user runs it, piped, with colour off and with colour forced (what a
terminal gets), and the exact text must appear in what it printed.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import BIN, write

ANSI = re.compile(r"\x1b\[[0-9;]*m")
TAGS = "[bold]x[/] [link=x]y[/link] [red]"
TERMINALS = {"piped": {}, "no-color": {"NO_COLOR": "1"}, "terminal": {"FORCE_COLOR": "1"}}


def dativo(root: Path, env: dict[str, str], *args: str) -> str:
    result = subprocess.run([str(BIN / "dativo"), "--root", str(root), *args],
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ, "COLUMNS": "250", **env})
    return ANSI.sub("", result.stdout + result.stderr)


@pytest.fixture(params=sorted(TERMINALS))
def term(request: pytest.FixtureRequest) -> dict[str, str]:
    return TERMINALS[request.param]


def test_validate_shows_patterns_and_tags_byte_for_byte(config_root: Path,
                                                        term: dict[str, str]) -> None:
    job = config_root / "jobs/acme/orders.yaml"
    text = job.read_text().replace("validation:\n  mode: strict",
                                   f'validation:\n  mode: "{TAGS}"')
    write(job, text + "target:\n  table: globex.orders\n")
    out = dativo(config_root, term, "validate")
    assert "target.table: 'globex.orders' does not match '^[a-z0-9][a-z0-9_]*$': use lower-case " \
           "letters, digits and underscores, starting with a letter or digit" in out
    assert f"validation.mode: '{TAGS}' is not one of strict, warn" in out
    assert "2 error(s)" in out


def test_list_show_run_and_discover_keep_brackets(config_root: Path,
                                                  term: dict[str, str]) -> None:
    # an invalid job whose file name holds tags, listed by its name
    write(config_root / "jobs/acme/x[bold]y[red].yaml", "tenant_id: acme\n")
    # a CSV column named like markup, and a row the contract refuses, quarantined in warn mode
    data = config_root / "examples/data/orders/2026-11-27.csv"
    write(data, "order_id,customer_email,status,amount,currency,ordered_at,[b]note[/b]\n"
                "2001,zed@example.com,[paid],1.00,EUR,2026-11-27T08:00:00Z,x\n")
    job = config_root / "jobs/acme/orders.yaml"
    write(job, job.read_text().replace("mode: strict", "mode: warn"))

    listed = dativo(config_root, term, "list")
    assert "x[bold]y[red]" in listed

    ran = dativo(config_root, term, "run", "jobs/acme/orders.yaml", "--run-id", "r[1]")
    assert "as run r[1]" in ran and "rows rejected" in ran

    shown = dativo(config_root, term, "show", "jobs/acme/orders.yaml")
    assert "committed by run │ r[1]" in shown
    assert '"source": {"files": {"examples/data/orders/2026-11-25.csv"' in shown

    found = dativo(config_root, term, "discover", "--connector", "file", "--verbose",
                   "--set", f"path={data}")
    assert "[b]note[/b]" in found


def test_errors_of_a_run_keep_brackets(config_root: Path, term: dict[str, str]) -> None:
    job = config_root / "jobs/acme/orders.yaml"
    write(job, job.read_text().replace("examples/data/orders/*.csv",
                                       "examples/data/[none]/*.csv"))
    out = dativo(config_root, term, "check", "jobs/acme/orders.yaml")
    assert "examples/data/[none]/*.csv" in out


def test_the_cli_parses_no_markup_anywhere() -> None:
    """The one place: no module of the CLI prints through a console of its own or writes
    rich markup in a string."""
    package = Path(__file__).resolve().parents[1] / "airflow_provider_dativo"
    for path in package.glob("cli*.py"):
        source = path.read_text()
        if path.name != "cli_output.py":
            assert "Console(" not in source, path
        assert not re.search(r"\[/?(red|green|bold|yellow)\]", source), path
