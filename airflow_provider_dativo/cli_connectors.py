"""``dativo check``, ``dativo discover`` and ``dativo connectors install``: connector commands."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from rich.table import Table

from airflow_provider_dativo import masking
from airflow_provider_dativo.cli_output import console, styled
from airflow_provider_dativo.config.loader import ConfigRoot
from airflow_provider_dativo.config.specs import ConnectionLayer, ConnectorRecipe, resolve_layers
from airflow_provider_dativo.engines.base import SourceEngine
from airflow_provider_dativo.errors import EngineError


def _recipe(root: ConfigRoot, name: str) -> ConnectorRecipe:
    path = root.root / "connectors" / f"{name}.yaml"
    if not path.exists():
        known = sorted(p.stem for p in (root.root / "connectors").glob("*.yaml"))
        raise EngineError(f"no connector recipe {path}; known connectors: {', '.join(known)}")
    return root.recipe(path)


def _settings(pairs: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise EngineError(f"--set takes KEY=VALUE, not '{pair}'")
        try:
            out[key] = json.loads(value)  # numbers, booleans and lists keep their type
        except ValueError:
            out[key] = value
    return out


def _engine_for(args: argparse.Namespace) -> tuple[str, SourceEngine]:
    from airflow_provider_dativo.engines import open_source

    root = ConfigRoot(args.root)
    if args.job:
        job = root.load_job(args.job)
        return job.source.type, open_source(job, job.resolved_source_connection())
    recipe = _recipe(root, args.connector)
    connection = resolve_layers((recipe.connection_layer(),
                                 ConnectionLayer("--set", "", _settings(args.set))))
    engine_type = args.engine or recipe.default_engine.type
    from_recipe: Callable[..., SourceEngine]  # (root, recipe, connection) -> the engine
    if engine_type == "airbyte":
        from airflow_provider_dativo.engines.airbyte import from_recipe
    elif engine_type == "singer":
        from airflow_provider_dativo.engines.singer import from_recipe
    elif engine_type == "native":
        from airflow_provider_dativo.engines.native import from_recipe
    elif engine_type == "custom_plugin":
        from airflow_provider_dativo.engines.plugin import from_recipe
    else:
        raise EngineError(f"discover --connector cannot run the {engine_type} engine; use "
                          "--job with a job of this connector")
    return recipe.type, from_recipe(root.root, recipe, connection)


def cmd_check(args: argparse.Namespace) -> int:
    """Both sides of the job, each in a row with what it answered; exit 1 when either failed."""
    from airflow_provider_dativo import runner

    job = ConfigRoot(args.root).load_job(args.job)
    results = runner.check_job(job)
    table = Table(title=f"check {job.dag_id}")
    for col in ("side", "what", "status", "message"):
        table.add_column(col)
    what = {"source": f"{job.source.type} ({job.source_engine})",
            "target": f"{job.target.type}: {job.tenant_id}.{job.table}"}
    for result in results:
        status = styled(("ok", "green")) if result.ok else styled(("failed", "red"))
        table.add_row(result.side, what[result.side], status, masking.mask(result.message))
    console.print(table)
    failed = [r.side for r in results if not r.ok]
    if failed:
        console.print(styled((f"{' and '.join(failed)} check failed", "red"),
                             ": fix what the message says and run `dativo check` again"),
                      soft_wrap=True)
        return 1
    return 0


def cmd_discover(args: argparse.Namespace) -> int:
    if not args.connector and not args.job:
        raise EngineError("discover needs --connector NAME or --job JOB_FILE")
    name, engine = _engine_for(args)
    streams = engine.discover()
    if args.json:
        print(json.dumps([{"name": s.name, "cursor_fields": list(s.cursor_fields),
                           "primary_key": list(s.primary_key),
                           "supports_incremental": s.supports_incremental,
                           **({"columns": dict(s.columns)} if args.columns else {})}
                          for s in streams], indent=2))
        return 0
    table = Table(title=f"streams of {name}")
    for col in ("stream", "cursor", "primary key", "incremental", "columns"):
        table.add_column(col)
    for s in streams:
        columns = (", ".join(f"{c}: {t}" for c, t in s.columns.items()) if args.columns
                   else str(len(s.columns)))
        table.add_row(s.name, ", ".join(s.cursor_fields) or "-",
                      ", ".join(s.primary_key) or "-", "yes" if s.supports_incremental else "no",
                      columns)
    console.print(table)
    return 0


def cmd_install(args: argparse.Namespace) -> int:
    from airflow_provider_dativo.engines.connector_venvs import install

    root = ConfigRoot(args.root)
    recipe = _recipe(root, args.name)
    engine = recipe.engine(args.engine) if args.engine else recipe.default_engine
    path = install(root.root, recipe.type, engine, python=args.python, force=args.force)
    console.print(styled(("installed", "green"), f" {engine.pip} for {recipe.type} in {path}"),
                  soft_wrap=True)
    return 0


def add_parsers(sub: Any) -> None:
    """Register the connector commands on the main parser's subcommands."""
    p = sub.add_parser("check", help="validate a job, run its source's connection check and "
                       "reach its target (catalog, namespace)")
    p.add_argument("job", help="job file")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("discover", help="run a connector's discover: streams, cursors, keys")
    p.add_argument("--connector", help="connector recipe name (connectors/NAME.yaml)")
    p.add_argument("--job", help="use this job's source and connection instead")
    p.add_argument("--engine", help="engine to run (default: the recipe's default engine)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="connection setting over the recipe's defaults (repeatable)")
    p.add_argument("--json", action="store_true", help="print JSON")
    # its own dest: the top-level -v/--verbose turns on the connector's INFO logs, and a
    # subcommand flag of the same dest would turn them on as a side effect of asking for columns
    p.add_argument("--columns", "--verbose", dest="columns", action="store_true",
                   help="include every column and its type (connector logs: dativo -v discover)")
    p.set_defaults(func=cmd_discover)

    p = sub.add_parser("connectors", help="connector environments")
    csub = p.add_subparsers(dest="connectors_command", required=True)
    i = csub.add_parser("install", help="create the connector's own venv from its recipe's pip")
    i.add_argument("name", help="connector name")
    i.add_argument("--engine", help="engine whose pip requirement to install")
    i.add_argument("--python", help="Python version or interpreter for the venv")
    i.add_argument("--force", action="store_true", help="recreate the venv")
    i.set_defaults(func=cmd_install)
