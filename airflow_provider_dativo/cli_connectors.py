"""``dativo check``, ``dativo discover`` and ``dativo connectors install``: connector commands."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.table import Table

from airflow_provider_dativo import masking
from airflow_provider_dativo.cli_output import Column, add_table_flags, console, print_table, styled
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


def settings_of(pairs: list[str]) -> dict[str, Any]:
    """``--set KEY=VALUE`` pairs; VALUE is parsed as JSON when it is JSON, else kept as text."""
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
    from airflow_provider_dativo.engines import open_recipe_source, open_source

    root = ConfigRoot(args.root)
    if args.job:
        job = root.load_job(args.job)
        return job.source.type, open_source(job, job.resolved_source_connection())
    recipe = _recipe(root, args.connector)
    connection = resolve_layers((recipe.connection_layer(),
                                 ConnectionLayer("--set", "", settings_of(args.set))))
    engine_type = args.engine or recipe.default_engine.type
    return recipe.type, open_recipe_source(root.root, recipe, engine_type, connection)


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
    rows = [[s.name, "yes" if s.supports_incremental else "no",
             ", ".join(s.cursor_fields) or "-", ", ".join(s.primary_key) or "-",
             (", ".join(f"{c}: {t}" for c, t in s.columns.items()) if args.columns
              else str(len(s.columns)))] for s in streams]
    print_table(f"streams of {name}", (Column("stream"), Column("incremental"),
                                       Column("cursor", 1), Column("primary key", 2),
                                       Column("columns")), rows, wide=args.wide)
    return 0


def _spec_source(args: argparse.Namespace) -> tuple[str, str, SourceEngine]:
    """The connector (name, engine) whose spec is asked, opened without its connection: a
    spec is what the connector says about itself, before any config exists."""
    from airflow_provider_dativo.engines import engine_module, open_recipe_source

    root = ConfigRoot(args.root)
    if args.job:
        job = root.load_job(args.job)
        recipe, engine = job.source, args.engine or job.source_engine
    else:
        recipe = _recipe(root, args.connector)
        engine = args.engine or recipe.default_engine.type
    if not engine_module(engine, f"{recipe.file} (or pass --engine)").PUBLISHES_SPEC:
        raise EngineError(f"the {engine} engine runs in-process and has no connector spec; "
                          "its connection settings are listed in docs/CONNECTOR_DEVELOPMENT.md")
    return recipe.type, engine, open_recipe_source(root.root, recipe, engine, {})


def cmd_spec(args: argparse.Namespace) -> int:
    """The connector's config keys: what its recipe's ``connection`` (the connector's
    config.json) may hold."""
    from airflow_provider_dativo.engines.protocol import ProtocolSource

    if not args.connector and not args.job:
        raise EngineError("spec needs --connector NAME or --job JOB_FILE")
    name, engine, source = _spec_source(args)
    assert isinstance(source, ProtocolSource)  # what PUBLISHES_SPEC engines open
    keys = source.config_keys()
    if keys is None:
        console.print(f"{name}: this tap publishes no spec (it does not answer --about); "
                      "its README lists the config keys its connection takes", soft_wrap=True)
        return 0
    if args.json:
        print(json.dumps([k.as_dict() for k in keys], indent=2, default=str))
        return 0
    rows = [[k.key, k.type, "yes" if k.required else "", "yes" if k.secret else "",
             "" if k.default is None else json.dumps(k.default, default=str), k.description]
            for k in keys]
    print_table(f"config of {name} ({engine}): the recipe's connection", (
        Column("key"), Column("type", 2), Column("required"), Column("secret"),
        Column("default", 3), Column("description", 1)), rows, wide=args.wide)
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
    add_table_flags(p)
    # its own dest: the top-level -v/--verbose turns on the connector's INFO logs, and a
    # subcommand flag of the same dest would turn them on as a side effect of asking for columns
    p.add_argument("--columns", "--verbose", dest="columns", action="store_true",
                   help="include every column and its type (connector logs: dativo -v discover)")
    p.set_defaults(func=cmd_discover)

    p = sub.add_parser("spec", help="a connector's config keys (its recipe's connection): "
                       "type, required, default, secret, description")
    p.add_argument("--connector", help="connector recipe name (connectors/NAME.yaml)")
    p.add_argument("--job", help="the connector of this job's source")
    p.add_argument("--engine", help="engine to ask (default: the recipe's or job's engine)")
    add_table_flags(p)
    p.set_defaults(func=cmd_spec)

    p = sub.add_parser("connectors", help="connector environments")
    csub = p.add_subparsers(dest="connectors_command", required=True)
    i = csub.add_parser("install", help="create the connector's own venv from its recipe's pip")
    i.add_argument("name", help="connector name")
    i.add_argument("--engine", help="engine whose pip requirement to install")
    i.add_argument("--python", help="Python version or interpreter for the venv")
    i.add_argument("--force", action="store_true", help="recreate the venv")
    i.set_defaults(func=cmd_install)
