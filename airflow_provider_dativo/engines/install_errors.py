"""An installer's refusal in one sentence: which package, which constraint, and what to try.

uv and pip explain a failed resolution in a paragraph of their own wording; a user adding a
connector needs the package that cannot be had, the constraint that asked for it, and the way
out (pin another release, or another Python). What neither pattern matches is kept verbatim.
"""

from __future__ import annotations

import re

_UV_NO_VERSION = re.compile(r"there is no version of (?P<req>[^\s,]+?)(?:,| and |$)")
_UV_NOT_FOUND = re.compile(r"Because (?P<pkg>\S+) was not found in (?:the|your) [^,]+?"
                           r"(?:,| and )(?P<rest>.*)", re.S)
_UV_DEPENDS = re.compile(r"(?P<parent>[^\s,]+) depends? on (?P<req>[^\s,]+)")
_UV_PYTHON = re.compile(r"(?:current|requested) Python version \((?P<python>[^)]+)\) does not "
                        r"satisfy Python(?P<spec>[^\s,]+) and (?P<parent>[^\s,]+) depends on")
_UV_REQUIRES = re.compile(r"(?P<parent>[^\s,]+) requires Python ?(?P<spec>[^\s,]+?)(?:,| and |$)")
_PIP_NO_VERSION = re.compile(r"Could not find a version that satisfies the requirement "
                             r"(?P<req>\S+)(?: \(from (?P<parent>[^)]+)\))? \(from versions: "
                             r"(?P<versions>[^)]*)\)")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*")


def _name(requirement: str) -> str:
    found = _NAME.match(requirement)
    return found.group(0) if found else requirement


def _canon(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def explain(output: str, connector: str, pip: str, python: str = "") -> str | None:
    """One sentence for an installer's failure to resolve ``pip`` (in an environment of
    ``python``), or None if not one."""
    output = " ".join(output.split())  # installers wrap their lines to the terminal's width
    top = _name(pip)
    fix = (f"pin an earlier {top} in the recipe's pip requirement (now '{pip}'; "
           f"`pip index versions {top}` lists its releases) and run `dativo connectors "
           f"install {connector}` again")
    limit = _UV_PYTHON.search(output)
    if limit:
        return (f"connector '{connector}': {limit['parent']} requires Python "
                f"{limit['spec']} and the environment's Python is {limit['python']}; {fix}, "
                "or pass --python with a version it admits")
    requires = _UV_REQUIRES.search(output)
    if requires:
        return (f"connector '{connector}': {requires['parent']} requires Python "
                f"{requires['spec']} and the environment's Python is {python or 'another'}; "
                f"{fix}, or pass --python with a version it admits")
    missing = _PIP_NO_VERSION.search(output)
    if missing:
        req, parent = missing["req"], missing["parent"]
        versions = missing["versions"].strip() or "none"
        if parent is None and _canon(_name(req)) == _canon(top):
            return (f"connector '{connector}': no release of {top} matches '{req}' (releases "
                    f"found: {versions}); pin one that exists in the recipe's pip requirement")
        return (f"connector '{connector}': {parent or top} needs {req}, which no package index "
                f"offers (releases found: {versions}); {fix}")
    no_version = _UV_NO_VERSION.search(output)
    if no_version:
        req = no_version["req"]
        if _canon(_name(req)) == _canon(top):
            return (f"connector '{connector}': no release of {top} matches '{req}'; pin one "
                    f"that exists in the recipe's pip requirement (`pip index versions {top}`)")
        depends = _UV_DEPENDS.search(output)
        parent = depends["parent"] if depends else top
        return f"connector '{connector}': {parent} needs {req}, which does not exist; {fix}"
    not_found = _UV_NOT_FOUND.search(output)
    if not_found:
        package = not_found["pkg"]
        depends = _UV_DEPENDS.search(not_found["rest"])
        if _canon(package) == _canon(top) or depends is None:
            return (f"connector '{connector}': no package index offers {package}; check the "
                    f"name in the recipe's pip requirement ('{pip}')")
        return (f"connector '{connector}': {depends['parent']} needs {depends['req']}, which "
                f"no package index offers; {fix}")
    return None
