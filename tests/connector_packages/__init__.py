"""Connector packages for the tests, built as wheels into a local folder that uv and pip install
from offline (``UV_FIND_LINKS``/``PIP_FIND_LINKS`` with no index): the scaffold, ``dativo spec``
and ``dativo connectors install`` then meet real packages with console scripts, a spec, a
dependency that does not exist and a Python bound, without a network."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

# distribution, version, module source, console script, extra METADATA lines
PACKAGES = (
    ("dativo-test-source", "1.2.0", "airbyte_source.py", "source-dativo-test", ""),
    ("dativo-test-tap", "0.4.0", "singer_tap.py", "tap-dativo-test", ""),
    ("dativo-test-old-tap", "0.1.0", "singer_tap.py", "tap-dativo-old", ""),
    # an upstream pin that exists nowhere, as a connector release with a broken dependency
    ("dativo-test-broken", "1.0.0", "airbyte_source.py", "source-dativo-broken",
     "Requires-Dist: dativo-missing-dependency==99.0\n"),
    ("dativo-test-oldpython", "1.0.0", "airbyte_source.py", "source-dativo-old",
     "Requires-Python: <3.9\n"),
    # a release for a Python that does not exist yet: the resolver itself refuses it
    ("dativo-test-newpython", "1.0.0", "airbyte_source.py", "source-dativo-new",
     "Requires-Python: >=3.99\n"),
)


def _digest(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(
        b"=").decode()


def build_wheel(folder: Path, name: str, version: str, source: str, script: str,
                extra: str) -> Path:
    module = name.replace("-", "_")
    text = (HERE / source).read_text()
    if name == "dativo-test-old-tap":
        text = text.replace("ABOUT = True", "ABOUT = False")
    dist = f"{module}-{version}.dist-info"
    files = {
        f"{module}/__init__.py": text.encode(),
        f"{dist}/METADATA": (f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
                             f"{extra}").encode(),
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: dativo-tests\n"
                         b"Root-Is-Purelib: true\nTag: py3-none-any\n",
        f"{dist}/entry_points.txt": f"[console_scripts]\n{script} = {module}:main\n".encode(),
    }
    record = "".join(f"{path},{_digest(data)},{len(data)}\n" for path, data in files.items())
    record += f"{dist}/RECORD,,\n"
    wheel = folder / f"{module}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
        zf.writestr(f"{dist}/RECORD", record)
    return wheel


def build_all(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for package in PACKAGES:
        build_wheel(folder, *package)
    return folder


def offline_env(folder: Path) -> dict[str, str]:
    """What makes uv and pip install from ``folder`` alone."""
    # uv has no environment variable for --no-index; offline, it reads find-links only
    return {"UV_FIND_LINKS": str(folder), "UV_OFFLINE": "1",
            "PIP_FIND_LINKS": str(folder), "PIP_NO_INDEX": "1"}
