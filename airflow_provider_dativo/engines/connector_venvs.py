"""One virtual environment per connector installed from PyPI.

Airbyte and Singer connectors pin dependencies that conflict with Airflow's, so they never go
into Airflow's environment: ``dativo connectors install NAME`` creates
``<connectors home>/<name>/`` from the recipe's ``pip`` requirement, and the local launcher
finds the recipe's command in that environment's ``bin/``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from airflow_provider_dativo.config.specs import EngineSpec
from airflow_provider_dativo.errors import EngineError

INSTALL_TIMEOUT_S = 900


def connectors_home(root: Path) -> Path:
    """``$DATIVO_CONNECTORS_HOME``, else ``<config root>/.dativo/connectors``."""
    home = os.environ.get("DATIVO_CONNECTORS_HOME")
    return Path(home) if home else root / ".dativo" / "connectors"


def venv_dir(root: Path, connector: str) -> Path:
    return connectors_home(root) / connector


def _uv() -> str | None:
    beside = Path(sys.executable).parent / "uv"
    return str(beside) if beside.exists() else shutil.which("uv")


def _run(argv: list[str], what: str) -> None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EngineError(f"{what} failed: {exc}") from exc
    if done.returncode != 0:
        raise EngineError(f"{what} failed (exit {done.returncode}):\n"
                          f"{(done.stderr or done.stdout)[-3000:]}")


def install(root: Path, connector: str, engine: EngineSpec, *, python: str | None = None,
            force: bool = False) -> Path:
    """Create (or reuse) the connector's environment and install its pip requirement into it."""
    if not engine.pip:
        raise EngineError(f"connector '{connector}' has no pip requirement in its recipe's "
                          f"{engine.type} engine; it runs from an image or a command on PATH")
    target = venv_dir(root, connector)
    marker = target / ".dativo-installed"
    if marker.exists() and marker.read_text() == engine.pip and not force:
        return target
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    interpreter = python or f"{sys.version_info.major}.{sys.version_info.minor}"
    uv = _uv()
    if uv:
        _run([uv, "venv", "-q", "--python", interpreter, str(target)], "creating the venv")
        # compiled up front: connectors start once per command, and where bytecode is not
        # written at run time (PYTHONDONTWRITEBYTECODE) every start would compile its imports
        _run([uv, "pip", "install", "-q", "--compile-bytecode", "--python",
              str(target / "bin" / "python"), engine.pip], f"installing {engine.pip}")
    else:
        _run([sys.executable, "-m", "venv", str(target)], "creating the venv")
        _run([str(target / "bin" / "python"), "-m", "pip", "install", "-q", "--compile",
              engine.pip],
             f"installing {engine.pip}")
    marker.write_text(engine.pip)
    return target


def resolve_command(root: Path, connector: str, engine: EngineSpec) -> list[str]:
    """The recipe's command with its executable found: connector venv, config root, then PATH."""
    if not engine.command:
        raise EngineError(f"connector '{connector}' has no command for the local launcher; "
                          "add default_engine.command to its recipe")
    exe, *rest = engine.command
    bin_dir = venv_dir(root, connector) / "bin"
    if exe in ("python", "python3"):
        # a connector script shipped with the config repo runs on the venv's Python if one
        # exists, else on this interpreter
        found = bin_dir / "python" if (bin_dir / "python").exists() else Path(sys.executable)
        rest = [str(root / a) if (root / a).is_file() else a for a in rest]
        return [str(found), *rest]
    if (bin_dir / exe).exists():
        return [str(bin_dir / exe), *rest]
    if (root / exe).is_file():
        return [str(root / exe), *rest]
    on_path = shutil.which(exe)
    if on_path:
        return [on_path, *rest]
    hint = (f"run `dativo connectors install {connector}`" if engine.pip
            else "install it or fix the recipe's command")
    raise EngineError(f"connector '{connector}': executable '{exe}' not found in "
                      f"{bin_dir} or on PATH; {hint}")
