"""DAG files that declare a dativo table's Asset in a way Airflow cannot reconcile.

A table's Asset is ``Asset(uri)``: name and URI are both the table's URI. Airflow keeps one
active asset per name and one per URI, so a DAG file that declares the table's URI under another
name, or the table's URI as the name of another URI, clashes with it: Airflow deactivates one of
the two and the DAGs scheduled on the inactive one are never triggered. (The load task itself
never fails on it: it publishes through an alias, see ``operators/lineage.py``.)

The check is cheap and static, and never imports Airflow: it reads each ``*.py`` file under the
DAG folder, skips those that do not contain a table's URI as text, and parses the rest with
``ast`` for ``Asset(...)`` calls whose name and URI are string literals. A declaration built at
run time (a variable, an f-string) is not seen.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from airflow_provider_dativo.config.loader import ConfigRoot
from airflow_provider_dativo.errors import ConfigError, ConfigIssue, DativoError


@dataclass(frozen=True)
class Declaration:
    """One ``Asset(...)`` call with literal arguments, as Airflow will name it."""

    file: str
    line: int
    name: str
    uri: str


def dag_files(folder: Path) -> Iterator[Path]:
    """Every ``*.py`` file under ``folder``, in a stable order, hidden folders skipped."""
    for top, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "__")))
        for name in sorted(files):
            if name.endswith(".py"):
                yield Path(top) / name


def declarations(path: Path, text: str) -> Iterator[Declaration]:
    """The ``Asset(...)`` calls of one Python file whose name and URI are known statically."""
    try:
        tree = ast.parse(text, filename=str(path))
    except SyntaxError:
        return  # Airflow reports the file as an import error; nothing to add here
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        called = func.id if isinstance(func, ast.Name) else \
            func.attr if isinstance(func, ast.Attribute) else None
        if called != "Asset":
            continue  # Asset.ref(...) is an Attribute named "ref": a reference never clashes
        args: dict[str, ast.expr] = dict(zip(("name", "uri"), node.args, strict=False))
        args.update((k.arg, k.value) for k in node.keywords if k.arg in ("name", "uri"))
        values = {k: v.value for k, v in args.items()
                  if isinstance(v, ast.Constant) and isinstance(v.value, str)}
        if len(values) != len(args) or not values:
            continue  # an argument computed at run time: its value is unknown here
        # Airflow's rule (airflow.sdk.Asset.__init__): a missing name or URI is the other one
        name = values.get("name", values.get("uri", ""))
        uri = values.get("uri", name)
        yield Declaration(str(path), node.lineno, name, uri)


def clashes(folder: Path, tables: Mapping[str, str]) -> dict[str, list[ConfigIssue]]:
    """Declarations under ``folder`` that clash with a table's Asset, by table URI.

    ``tables`` maps each table URI to the job that loads it (named in the messages).
    """
    found: dict[str, list[ConfigIssue]] = {}
    for path in dag_files(folder):
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if not any(uri in text for uri in tables):
            continue
        for d in declarations(path, text):
            if d.uri in tables and d.name != d.uri:
                found.setdefault(d.uri, []).append(ConfigIssue(d.file, (
                    f"Asset(name={d.name!r}, uri={d.uri!r}) gives the table of "
                    f"{tables[d.uri]} another name; Airflow keeps one active asset per URI and "
                    f"dativo names this one by its URI, so the DAGs scheduled on one of the two "
                    f"are never triggered. Declare it as Asset({d.uri!r}) or with "
                    f"table_asset(...)"), d.line))
            elif d.name in tables and d.uri != d.name:
                found.setdefault(d.name, []).append(ConfigIssue(d.file, (
                    f"Asset(name={d.name!r}, uri={d.uri!r}) takes the table URI of "
                    f"{tables[d.name]} as the name of another URI; Airflow keeps one active "
                    f"asset per name, so the DAGs scheduled on one of the two are never "
                    f"triggered. Give this Asset another name"), d.line))
    return found


def table_uris(root: ConfigRoot) -> dict[str, str]:
    """Each valid job's table URIs → the job file (invalid jobs are validate's other report)."""
    from airflow_provider_dativo.operators.lineage import table_uri  # imports no Airflow

    out: dict[str, str] = {}
    for path in root.job_files():
        try:
            streams = root.load_streams(path)
        except ConfigError:
            continue
        for spec in streams:
            out.setdefault(table_uri(spec), root.display(path))
    return out


def dag_folder(root: ConfigRoot, given: str | None = None) -> Path | None:
    """The DAG folder to check: the one given, Airflow's from the environment, or the config
    repository's ``dags/``; None when there is none to see."""
    if given is not None:
        if not Path(given).is_dir():
            raise DativoError(f"--dags {given}: no such folder; give the Airflow DAG folder")
        return Path(given)
    for candidate in (os.environ.get("AIRFLOW__CORE__DAGS_FOLDER"), root.root / "dags"):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None
