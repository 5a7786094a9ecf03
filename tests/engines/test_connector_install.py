"""``dativo connectors install`` with real local packages: the same Requires-Python rule
whichever installer (uv or pip) builds the environment, offline from a --find-links folder."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from airflow_provider_dativo.config.specs import EngineSpec
from airflow_provider_dativo.engines import connector_venvs
from airflow_provider_dativo.errors import EngineError
from tests.conftest import BIN, write

RUNNING = f"{sys.version_info.major}.{sys.version_info.minor}"
EXCLUDES_RUNNING = f">=3.8,<{RUNNING}"  # an upper bound this Python is above


def wheel(folder: Path, name: str, version: str, requires_python: str,
          requires: tuple[str, ...] = ()) -> Path:
    """A pure-Python wheel built by hand (a wheel is a zip with its metadata and RECORD)."""
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f"VERSION = {version!r}\n",
        f"{info}/METADATA": (f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
                             f"Requires-Python: {requires_python}\n"
                             + "".join(f"Requires-Dist: {r}\n" for r in requires)),
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\n"
                         "Tag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,"]) + "\n"
    out = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(out, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return out


@pytest.fixture
def index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A local package folder both installers read instead of PyPI."""
    folder = tmp_path / "wheels"
    folder.mkdir()
    wheel(folder, "tinytap", "1.0", ">=3.8")
    wheel(folder, "tinytap", "2.0", EXCLUDES_RUNNING)  # the newest: not for this Python
    wheel(folder, "tinyapp", "1.0", ">=3.8", ("tinydep",))
    wheel(folder, "tinydep", "1.0", EXCLUDES_RUNNING)
    for var, value in (("UV_NO_INDEX", "1"), ("UV_FIND_LINKS", str(folder)),
                       ("PIP_NO_INDEX", "1"), ("PIP_FIND_LINKS", str(folder))):
        monkeypatch.setenv(var, value)
    monkeypatch.setenv("DATIVO_CONNECTORS_HOME", str(tmp_path / "home"))
    return folder


def engine(pip: str) -> EngineSpec:
    return EngineSpec(type="singer", command=("tinytap",), pip=pip)


@pytest.mark.parametrize("installer", ["uv", "pip"])
@pytest.mark.parametrize("pip", ["tinytap==2.0", "tinytap"])
def test_a_requires_python_that_excludes_the_python_is_refused_by_either_installer(
        index: Path, tmp_path: Path, installer: str, pip: str) -> None:
    with pytest.raises(EngineError) as info:
        connector_venvs.install(tmp_path, "tiny", engine(pip), installer=installer)
    python = ".".join(map(str, sys.version_info[:3]))
    assert str(info.value) == (
        f"connector 'tiny': tinytap 2.0 requires Python {EXCLUDES_RUNNING} (its "
        f"Requires-Python), and the environment's Python is {python}. Pin an earlier tinytap "
        f"whose Requires-Python admits {python} in the recipe's pip requirement ('{pip}'), or "
        "pass --python with a version it admits (dativo connectors install tiny --python "
        "VERSION); nothing was installed")
    assert not connector_venvs.venv_dir(tmp_path, "tiny").exists()


@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_a_dependencys_requires_python_is_checked_too(index: Path, tmp_path: Path,
                                                     installer: str) -> None:
    with pytest.raises(EngineError, match=r"tinydep 1\.0 requires Python"):
        connector_venvs.install(tmp_path, "tiny", engine("tinyapp==1.0"), installer=installer)


@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_a_pinned_version_that_admits_the_python_installs(index: Path, tmp_path: Path,
                                                          installer: str) -> None:
    venv = connector_venvs.install(tmp_path, "tiny", engine("tinytap==1.0"),
                                   installer=installer)
    done = subprocess.run([str(venv / "bin" / "python"), "-c",
                           "import tinytap; print(tinytap.VERSION)"],
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "1.0"
    assert connector_venvs.python_mismatches(venv) == []


def test_the_command_refuses_with_the_same_sentence(index: Path, tmp_path: Path) -> None:
    root = tmp_path / "config"
    write(root / "connectors/tiny.yaml", "type: tiny\nversion: 1.0.0\ndefault_engine:\n"
          "  type: singer\n  command: tinytap\n  pip: tinytap==2.0\n")
    done = subprocess.run([str(BIN / "dativo"), "--root", str(root), "connectors", "install",
                           "tiny"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    err = " ".join(done.stderr.split())
    assert f"tinytap 2.0 requires Python {EXCLUDES_RUNNING}" in err
    assert "Pin an earlier tinytap" in err and "--python" in err
    assert "Traceback" not in done.stderr
