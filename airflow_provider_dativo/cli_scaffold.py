"""``dativo new connector`` and ``dativo asset draft``: files drafted for the user to edit."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.table import Table

from airflow_provider_dativo.cli_output import console, styled
from airflow_provider_dativo.config.loader import ConfigRoot
from airflow_provider_dativo.engines import ENGINES


def cmd_new_connector(args: argparse.Namespace) -> int:
    from airflow_provider_dativo.cli_connectors import settings_of

    root = ConfigRoot(args.root)
    if args.pip or args.image:
        from airflow_provider_dativo.scaffold_protocol import new_protocol_connector

        made = new_protocol_connector(root, args.name, args.engine, pip=args.pip,
                                      image=args.image, settings=settings_of(args.set),
                                      stream=args.stream)
        todo = ["check the command and the connection's ${VAR}s",
                "the contract: types, rules, governance", "the sample job the tests use",
                "the connector's checks"]
    else:
        from airflow_provider_dativo.scaffold import new_connector

        made = new_connector(root, args.name, args.engine, args.role)
        # same order as Scaffold.files: recipe, asset, sample job, test, then sample data
        todo = ["set the endpoint, auth and objects", "list the columns and their rules",
                "the sample job the tests use (fixtures tenant)",
                "add tests that read from a mock of the API", "sample rows for the sample job"]
    table = Table(title=f"new {args.role} connector '{args.name}' ({args.engine})")
    table.add_column("file", overflow="fold")
    table.add_column("what to do with it", overflow="fold")
    for path, note in zip(made.files, todo, strict=False):
        table.add_row(root.display(path), note)
    table.add_row(root.display(made.registry), "the new entry: roles, engines, modes")
    console.print(table)
    for note in made.notes:
        console.print(styled(("note", "yellow"), f" {note}"), soft_wrap=True)
    console.print(f"next: `dativo validate`, then `pytest tests/connectors/test_{args.name}.py "
                  f"-q`, then `dativo discover --connector {args.name} --verbose`",
                  soft_wrap=True)
    return 0


def cmd_asset_draft(args: argparse.Namespace) -> int:
    from airflow_provider_dativo.asset_draft import pick_stream, write_draft
    from airflow_provider_dativo.engines import open_source

    root = ConfigRoot(args.root)
    job = root.load_job(args.job)
    streams = open_source(job, job.resolved_source_connection()).discover()
    stream = pick_stream(streams, args.stream or job.source_object, job.source.type)
    path = write_draft(root.root, job.source.type, stream,
                       Path(args.output) if args.output else None)
    console.print(styled(("drafted", "green"), f" {root.display(path)} from stream "
                         f"{stream.name} of {job.source.type}: {len(stream.columns)} column(s); "
                         "edit its rules and governance, then point a job's asset_path at it"),
                  soft_wrap=True)
    return 0


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("new", help="scaffold new configs")
    nsub = p.add_subparsers(dest="new_command", required=True)
    n = nsub.add_parser("connector", help="a recipe, asset, sample job, registry entry and test")
    n.add_argument("name", help="connector type, e.g. acme_crm")
    n.add_argument("--engine", required=True, choices=tuple(ENGINES))
    n.add_argument("--role", choices=("source", "target"), default="source")
    n.add_argument("--pip", metavar="PACKAGE==VERSION",
                   help="airbyte/singer: a connector package, run as a local executable")
    n.add_argument("--image", metavar="IMAGE:TAG",
                   help="airbyte/singer: a connector image, run through Docker")
    n.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a connection setting (VALUE parsed as JSON, else text) to discover "
                   "with, which drafts the asset (repeatable)")
    n.add_argument("--stream", help="the stream the asset is drafted from (default: the first)")
    n.set_defaults(func=cmd_new_connector)

    p = sub.add_parser("asset", help="asset (data contract) tools")
    asub = p.add_subparsers(dest="asset_command", required=True)
    d = asub.add_parser("draft", help="write a contract from a job's discover: columns, types, "
                        "primary key, cursor")
    d.add_argument("--job", required=True, help="job file whose source to discover")
    d.add_argument("--stream", help="stream to draft (default: the job's object, else the first)")
    d.add_argument("-o", "--output", help="file to write (default: "
                   "assets/<source>/v1.0/<stream>.yaml)")
    d.set_defaults(func=cmd_asset_draft)
