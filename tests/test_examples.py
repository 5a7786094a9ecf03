"""Every example's README commands run as written, from a copy of the repository."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import BIN, REPO

READMES = sorted(p.relative_to(REPO).as_posix() for p in (REPO / "examples").glob("*/README.md"))
SKIP = shutil.ignore_patterns(".git", ".venv", ".dativo", "__pycache__", ".pytest_cache",
                              ".ruff_cache", "airflow_home")


@pytest.mark.parametrize("readme", READMES)
def test_readme_commands_run(readme: str, tmp_path: Path) -> None:
    blocks = re.findall(r"```bash\n(.*?)```", (REPO / readme).read_text(), flags=re.S)
    assert blocks, f"{readme} has no commands"
    copy = tmp_path / "repo"
    shutil.copytree(REPO, copy, ignore=SKIP)
    script = "set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n" + "\n".join(
        blocks)
    result = subprocess.run(["bash", "-c", script], cwd=copy, capture_output=True, text=True,
                            timeout=300, env={"PATH": f"{BIN}:/usr/bin:/bin", "COLUMNS": "200",
                                              "HOME": str(tmp_path)})
    assert result.returncode == 0, f"{readme}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert "error" not in result.stdout.lower(), result.stdout[-3000:]
