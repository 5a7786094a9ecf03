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
from collections.abc import Callable
from email.parser import BytesParser
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

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


def _run(argv: list[str], what: str, explain: Callable[[str], str | None] | None = None,
         ) -> None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EngineError(f"{what} failed: {exc}") from exc
    if done.returncode != 0:
        output = done.stderr or done.stdout
        sentence = explain(output) if explain else None
        if sentence:
            raise EngineError(sentence)
        raise EngineError(f"{what} failed (exit {done.returncode}):\n{output[-3000:]}")


def _base_python(python: str | None) -> str:
    """The interpreter venv is run with when uv is not there: --python as a path or a
    version (``python3.12`` on PATH), else this one."""
    if not python:
        return sys.executable
    found = python if os.sep in python else shutil.which(f"python{python}")
    if not found or not Path(found).exists():
        raise EngineError(f"no Python '{python}' found (looked for python{python} on PATH); "
                          "install it, or pass --python with an interpreter's path")
    return found


def _python_version(venv: Path) -> str:
    """The environment's Python version, from the pyvenv.cfg that uv and venv both write."""
    for line in (venv / "pyvenv.cfg").read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() in ("version_info", "version"):
            return value.strip()
    raise EngineError(f"{venv / 'pyvenv.cfg'} names no Python version")


def python_mismatches(venv: Path) -> list[tuple[str, str, str]]:
    """``(name, version, Requires-Python)`` of each distribution in ``venv`` whose
    Requires-Python excludes the environment's Python."""
    version = Version(_python_version(venv))
    found = []
    for meta in sorted(venv.glob("lib/python*/site-packages/*.dist-info/METADATA")):
        headers = BytesParser().parsebytes(meta.read_bytes(), headersonly=True)
        spec = headers.get("Requires-Python")
        try:
            admits = spec is None or version in SpecifierSet(spec)
        except InvalidSpecifier:
            continue  # pip and uv skip a malformed bound too
        if not admits:
            found.append((str(headers["Name"]), str(headers["Version"]), str(spec)))
    return found


def _refuse_mismatches(target: Path, connector: str, engine: EngineSpec) -> None:
    mismatches = python_mismatches(target)
    if not mismatches:
        return
    python = _python_version(target)
    shutil.rmtree(target)
    name, version, spec = mismatches[0]
    others = "".join(f"; {n} {v} requires Python {s} as well" for n, v, s in mismatches[1:])
    raise EngineError(
        f"connector '{connector}': {name} {version} requires Python {spec} (its "
        f"Requires-Python), and the environment's Python is {python}{others}. Pin an earlier "
        f"{name} whose Requires-Python admits {python} in the recipe's pip requirement "
        f"('{engine.pip}'), or pass --python with a version it admits "
        f"(dativo connectors install {connector} --python VERSION); nothing was installed")


def install(root: Path, connector: str, engine: EngineSpec, *, python: str | None = None,
            force: bool = False, installer: str | None = None) -> Path:
    """Create (or reuse) the connector's environment and install its pip requirement into it.

    uv ignores the upper bound of a package's Requires-Python where pip enforces it, so the
    same recipe would install on a host with uv and fail on one without. Both installers are
    therefore told to pick versions without looking at upper bounds (uv does not; pip is
    given ``--ignore-requires-python``), and the environment is then checked here against
    every installed package's whole Requires-Python: one rule and one message on every host.
    (uv still skips a version whose lower bound excludes the Python; pip then takes it and
    the check refuses it, with the same advice.)
    ``installer`` (``uv`` or ``pip``) overrides the choice of uv when it is found.
    """
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

    def explain(output: str) -> str | None:
        from airflow_provider_dativo.engines.install_errors import explain

        sentence = explain(output, connector, str(engine.pip), _python_version(target))
        # nothing half-installed stays behind to be taken for an environment
        if sentence is not None:
            shutil.rmtree(target, ignore_errors=True)
        return sentence

    uv = _uv() if installer in (None, "uv") else None
    if installer == "uv" and uv is None:
        raise EngineError("uv was asked for as the installer and is not installed")
    if uv:
        _run([uv, "venv", "-q", "--python", interpreter, str(target)], "creating the venv")
        # compiled up front: connectors start once per command, and where bytecode is not
        # written at run time (PYTHONDONTWRITEBYTECODE) every start would compile its imports
        _run([uv, "pip", "install", "-q", "--compile-bytecode", "--python",
              str(target / "bin" / "python"), engine.pip], f"installing {engine.pip}", explain)
    else:
        _run([_base_python(python), "-m", "venv", str(target)], "creating the venv")
        _run([str(target / "bin" / "python"), "-m", "pip", "install", "-q", "--compile",
              "--ignore-requires-python", engine.pip],
             f"installing {engine.pip}", explain)
    _refuse_mismatches(target, connector, engine)
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


def console_scripts(venv: Path, requirement: str) -> list[str]:
    """The console scripts the distribution of ``requirement`` installed into ``venv``."""
    from configparser import ConfigParser

    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    try:
        wanted = canonicalize_name(Requirement(requirement).name)
    except InvalidRequirement as exc:
        raise EngineError(f"'{requirement}' is not a pip requirement: {exc}") from None
    for meta in venv.glob("lib/python*/site-packages/*.dist-info/METADATA"):
        headers = BytesParser().parsebytes(meta.read_bytes(), headersonly=True)
        if canonicalize_name(str(headers["Name"])) != wanted:
            continue
        points = ConfigParser(delimiters=("=",))
        points.optionxform = str  # type: ignore[assignment,method-assign]
        points.read(meta.parent / "entry_points.txt")
        return list(points["console_scripts"]) if points.has_section("console_scripts") else []
    return []
