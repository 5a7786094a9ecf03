"""The ``dativo`` command: validate, list, run and export contracts, outside Airflow."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from rich.console import Group
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from airflow_provider_dativo import asset_declarations, cli_connectors, cli_scaffold, masking
from airflow_provider_dativo.cli_output import (
    Column,
    add_table_flags,
    console,
    err,
    error_line,
    print_table,
    styled,
)
from airflow_provider_dativo.config.loader import KINDS, ConfigRoot
from airflow_provider_dativo.errors import ConfigError, ConfigIssue, DativoError
from airflow_provider_dativo.run_manifest import RunManifest

if TYPE_CHECKING:
    from airflow_provider_dativo.config.specs import JobSpec
    from airflow_provider_dativo.targets.base import CommitResult


def _root(args: argparse.Namespace) -> ConfigRoot:
    return ConfigRoot(args.root)


def cmd_validate(args: argparse.Namespace) -> int:
    root = _root(args)
    report = root.validate([Path(p) for p in args.paths] if args.paths else None)
    report.issues["job"] += _target_rule_issues(root, report.files["job"], report.issues["job"])
    for kind in KINDS:
        files, issues = report.files[kind], report.issues[kind]
        bad = {i.file for i in issues}
        mark = ("ok", "green") if not issues else (f"{len(issues)} error(s)", "red")
        label = {"registry": "registry"}.get(kind, kind + "s")
        console.print(styled(f"{label:<11} {len(files):>4} file(s)  {len(bad):>3} invalid  ",
                             mark))
    issues = report.all_issues()
    folder = asset_declarations.dag_folder(root, args.dags)
    if folder is not None and (args.dags or not args.paths):
        found = asset_declarations.clashes(folder, asset_declarations.table_uris(root))
        clashes = [issue for uri in sorted(found) for issue in found[uri]]
        mark = ("ok", "green") if not clashes else (f"{len(clashes)} error(s)", "red")
        console.print(styled(f"{'DAG files':<11} {folder}: table Assets ", mark))
        issues += clashes
    for issue in issues:
        console.print(error_line(issue), soft_wrap=True)
    for warning in report.warnings:
        console.print(styled(("warning", "yellow"), f" {warning}"), soft_wrap=True)
    if not issues:
        noted = f" ({len(report.warnings)} warning(s))" if report.warnings else ""
        console.print(styled(("all configs are valid", "green"), noted))
        return 0
    console.print(styled((f"{len(issues)} error(s)", "red"),
                         "; fix them and run `dativo validate` again"))
    return 1


def _target_rule_issues(root: ConfigRoot, files: list[str],
                        found: list[ConfigIssue]) -> list[ConfigIssue]:
    """The target rules of each job that loaded (write mode against the primary key, targets
    that only append, markdown_kv options, quarantine_table), which otherwise fail at run time."""
    from airflow_provider_dativo.targets.registry import job_issues

    invalid = {issue.file for issue in found}
    issues: list[ConfigIssue] = []
    for path in root.job_files():
        shown = root.display(path)
        if shown not in files or shown in invalid or str(path) in invalid:
            continue
        try:
            streams = root.load_streams(path)
        except ConfigError:
            continue  # reported by the validation itself
        for job in streams:
            issues += [i for i in job_issues(job) if i not in issues]
    return issues


def asset_label(root: ConfigRoot, job: JobSpec) -> str:
    """The job's asset name, saying where it came from when the contract has no ``name``."""
    contract = job.contract
    label = f"{contract.name} ({root.display(Path(job.asset_file))})"
    if contract.name_source == "name":
        return label
    origin = {"schema object": "its one schema object's name", "id": "its id"}.get(
        contract.name_source, contract.name_source)
    return f"{label}; the contract has no name, so it is {origin}"


def cmd_list(args: argparse.Namespace) -> int:
    root = _root(args)
    derived: list[str] = []
    # short columns first; the DAG id (dativo__<tenant>__<job>) goes first when space is short
    columns = (Column("tenant"), Column("job"), Column("status"), Column("schedule", 2),
               Column("streams", 3), Column("source", 1), Column("target"),
               Column("DAG id", 4))
    rows: list[list[str | Text]] = []
    listed: list[dict[str, Any]] = []
    invalid = 0
    for path in root.job_files():
        try:
            streams = root.load_streams(path)
        except ConfigError as exc:
            invalid += 1
            rows.append([path.parent.name, path.stem,
                         styled((f"invalid ({len(exc.issues)} error(s))", "red")),
                         "-", "-", "-", "-", "-"])
            listed.append({"file": root.display(path), "valid": False,
                           "errors": len(exc.issues)})
            continue
        job = streams[0]
        if job.contract.name_source != "name":
            derived.append(f"{job.tenant_id}/{job.name}: asset {asset_label(root, job)}")
        names = [s.stream for s in streams if s.stream]
        tables = [f"{s.tenant_id}.{s.table}" for s in streams]
        rows.append([job.tenant_id, job.name, styled(("valid", "green")),
                     job.schedule or "manual", ", ".join(names) or "1",
                     f"{job.source.type} ({job.source_engine})",
                     f"{job.target.type}: " + ", ".join(tables), job.dag_id])
        listed.append({"file": root.display(path), "valid": True, "tenant": job.tenant_id,
                       "job": job.name, "dag_id": job.dag_id, "source": job.source.type,
                       "engine": job.source_engine, "streams": names,
                       "target": job.target.type, "tables": tables,
                       "schedule": job.schedule})
    if args.json:
        print(json.dumps(listed, indent=2))
        return 0
    print_table(f"dativo jobs in {root.root}", columns, rows, wide=args.wide)
    for line in derived:
        console.print(line, soft_wrap=True, markup=False)
    if invalid:
        console.print(f"{invalid} invalid job(s): run `dativo validate` for the errors")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from airflow_provider_dativo import runner

    root = _root(args)
    streams = ((root.load_job(args.job, stream=args.stream),) if args.stream
               else root.load_streams(args.job))
    run_id = args.run_id or runner.new_run_id()
    # one run of a job at a time: a second one fails here, naming the run that holds the job
    with runner.job_lock(streams[0], run_id):
        console.print(styled("running ", (streams[0].dag_id, "bold"), f" as run {run_id}"),
                      soft_wrap=True)
        # The read reports what a connection check would, so the check is asked for, not
        # assumed. Without it the extract resolves the source and target itself, after
        # starting the connector, so the connector's start-up overlaps opening the target.
        started = time.monotonic()
        if args.check:
            runner.validate_step(streams[0])
        results = [(job, *(_run_parts(job, run_id, args.parallel) if job.partitions
                           else _run_stream(job, run_id))) for job in streams]
    table = Table(title="run summary", show_header=False)
    for job, run, result, wall in results:
        if job.stream:
            table.add_section()
            table.add_row("stream", job.stream)
        table.add_row("table", result.table)
        if run.parts:
            table.add_row("parts", f"{run.parts} part(s), {args.parallel} at once")
        table.add_row("rows committed", f"{result.rows:,}" if result.committed else "0 (already "
                      "committed)")
        table.add_row("rows rejected", f"{run.rejected:,}")
        if run.skipped:
            table.add_row("rows skipped", f"{run.skipped:,} at or below the committed cursor")
        if run.null_cursor:
            table.add_row("NULL cursor", f"{run.null_cursor:,} rows read (no cursor value)")
        if run.rule_counts:
            table.add_row("rules broken", ", ".join(f"{k}={v}" for k, v in
                                                    sorted(run.rule_counts.items())))
        if run.quarantine:
            table.add_row("quarantine", "\n".join(run.quarantine))
        table.add_row("snapshot", str(result.snapshot_id))
        # the extract alone (read, check, stage), as the manifest records it; a manifest
        # written before the key existed has it only as "seconds"
        extract = run.seconds if run.extract_seconds is None else run.extract_seconds
        table.add_row("extract seconds", "-" if extract is None else f"{extract:.3f}")
        table.add_row("wall seconds", f"{wall:.3f}")
    if len(results) > 1 or args.check:
        table.add_section()
        table.add_row("run wall seconds", f"{time.monotonic() - started:.3f}")
    console.print(table)
    from airflow_provider_dativo.quality_gate import result_lines

    for _, _, result, _ in results:
        for line in result_lines(result.quality):
            console.print(line, soft_wrap=True)
    return 0


def _run_parts(job: JobSpec, run_id: str,
               parallel: int) -> tuple[RunManifest, CommitResult, float]:
    """A partitioned stream: its parts extracted in ``parallel`` processes, one commit; the
    wall seconds of both."""
    from airflow_provider_dativo import partitions

    def done(part: dict[str, Any]) -> None:
        where = part.get("part") or {}
        console.print(f"part {where.get('index')} of {where.get('of')}: "
                      f"{part.get('rows', 0):,} rows in {part.get('seconds')} s, peak "
                      f"{part.get('peak_rss_mib')} MiB", soft_wrap=True)

    started = time.monotonic()
    manifest, result = partitions.run_parts(job, run_id, parallel=parallel, on_part=done)
    return RunManifest.from_dict(manifest), result, time.monotonic() - started


def _run_stream(job: JobSpec, run_id: str) -> tuple[RunManifest, CommitResult, float]:
    """Extract (with a progress bar) and load one stream of a job; the wall seconds of both."""
    from airflow_provider_dativo import runner

    started = time.monotonic()

    label = "extract" if job.stream is None else f"extract {job.stream}"
    label = label.replace("{", "{{").replace("}", "}}")  # the column formats it with the task
    with Progress(SpinnerColumn(), TextColumn(label, style="bold", markup=False),
                  BarColumn(bar_width=None),
                  TextColumn("{task.fields[rows]} rows"), TextColumn("{task.fields[rate]} rows/s"),
                  TextColumn("{task.fields[rejected]} rejected"), TimeElapsedColumn(),
                  console=console, transient=False) as bar:
        task = bar.add_task("extract", total=None, rows="0", rate="0", rejected="0")

        def show(p: runner.Progress) -> None:
            bar.update(task, rows=f"{p.rows_valid:,}", rate=f"{p.rows_per_s:,.0f}",
                       rejected=f"{p.rows_rejected:,}")

        manifest = runner.extract_run(job, run_id, progress=show)
        bar.update(task, total=1, completed=1, rows=f"{manifest.rows:,}")
    result = runner.load_step(job, manifest)
    return manifest, result, time.monotonic() - started


def cmd_contract_export(args: argparse.Namespace) -> int:
    import yaml

    from airflow_provider_dativo.contracts import to_odcs, validate_official

    root = _root(args)
    contract = root.asset(Path(args.asset).resolve())
    doc = to_odcs(contract)
    problems = validate_official(doc)
    if problems:
        for p in problems:
            err.print(styled(("official ODCS schema:", "red"), f" {p}"), soft_wrap=True)
        return 1
    text = (json.dumps(doc, indent=2) if args.format == "json"
            else yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        err.print(f"wrote {args.output} (passes the official ODCS {doc['apiVersion']} schema)")
    else:
        sys.stdout.write(text)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from airflow_provider_dativo import runner

    root = _root(args)
    job = root.load_job(args.job, stream=args.stream)
    if job.stream and not args.stream:
        names = ", ".join(s.stream or "" for s in root.load_streams(args.job))
        err.print(f"showing stream {job.stream} of {names}; pick another with --stream")
    console.print(_governance_tables(job))
    if args.governance:
        return 0
    target = runner.open_job_target(job)
    info = Table(title=f"{job.dag_id} → {target.table_identifier}", show_header=False)
    info.add_row("table", target.table_identifier)
    info.add_row("asset", asset_label(root, job))
    described = target.describe()
    for label, value in described.facts:
        info.add_row(label, value)
    data = described.data
    info.add_row("state", json.dumps(target.read_state(), sort_keys=True)[:200])
    from airflow_provider_dativo.quality_gate import result_lines

    checked = result_lines(target.committed_quality())
    if checked:
        info.add_row("quality (last run)", "\n".join(checked))
    if data is not None:
        info.add_row("rows", f"{data.num_rows:,}")
    console.print(info)
    if data is not None:
        names = data.column_names
        # the contract's first columns stay; later ones give way when the terminal is narrow
        print_table(f"first {min(args.limit, data.num_rows)} rows",
                    [Column(n, i if i >= 2 else 0) for i, n in enumerate(names)],
                    [["" if v is None else str(v) for v in row.values()]
                     for row in data.slice(0, args.limit).to_pylist()], wide=args.wide)
    return 0


def _governance_tables(job: JobSpec) -> Group:
    """The job's effective governance, each value with the level and file it came from."""
    table = Table(title="governance (job > contract > connector recipe)")
    for col in ("key", "value", "from"):
        table.add_column(col)
    for key, item in job.governance.table.items():
        value = ", ".join(map(str, item.value)) if isinstance(item.value, list | tuple) \
            else str(item.value)
        table.add_row(key, value, f"{item.origin} ({item.file})")
    columns = Table(title="column governance")
    for col in ("column", "classification", "from", "tags", "business name", "description"):
        columns.add_column(col)
    for column in job.governance.columns:
        cls = column.classification
        columns.add_row(column.path, "" if cls is None else str(cls.value),
                        "" if cls is None else f"{cls.origin} ({cls.file})",
                        ", ".join(column.tags), column.business_name or "",
                        column.description or "")
    return Group(table, columns)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dativo", description=__doc__)
    parser.add_argument("--root", help="config root (default: $DATIVO_HOME or the current "
                        "directory)")
    parser.add_argument("-v", "--verbose", action="count", default=0, dest="verbosity",
                        help="log details (INFO); -vv logs everything (DEBUG); secrets are "
                        "masked at every level")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="validate configs; every error with file, line, field")
    p.add_argument("paths", nargs="*", help="files or folders to validate (default: all)")
    p.add_argument("--dags", help="Airflow DAG folder to check for Asset declarations that "
                   "clash with a table's (default: $AIRFLOW__CORE__DAGS_FOLDER, else <root>/dags)")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("list", help="jobs and their DAG ids")
    add_table_flags(p)
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("run", help="run one job without Airflow: validate, extract, load")
    p.add_argument("job", help="job file, e.g. jobs/acme/orders.yaml")
    p.add_argument("--run-id", help="run id (a repeated run id is not committed twice)")
    p.add_argument("--stream", help="run only this stream of a multi-stream job")
    p.add_argument("--parallel", type=int, default=1, metavar="N",
                   help="a job with source.partitions: extract its parts in N processes at "
                   "once (default 1: one after another); they commit together")
    p.add_argument("--check", action="store_true",
                   help="run the source's connection check before the read (as the DAG's "
                   "validate task does)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("show", help="what a job's target table holds: governance, rows, "
                       "snapshot, sample")
    p.add_argument("job", help="job file")
    p.add_argument("--limit", type=int, default=10, help="sample rows to print")
    p.add_argument("--wide", action="store_true",
                   help="every sample column at full width, however wide the terminal")
    p.add_argument("--stream", help="the stream whose table to show, in a multi-stream job")
    p.add_argument("--governance", action="store_true",
                   help="print only the effective governance; the table is not opened")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("contract", help="data contract tools")
    csub = p.add_subparsers(dest="contract_command", required=True)
    e = csub.add_parser("export", help="write an asset as an official ODCS v3.0.2 contract")
    e.add_argument("asset", help="asset file, e.g. assets/file/v1.0/orders.yaml")
    e.add_argument("-o", "--output", help="output file (default: standard output)")
    e.add_argument("--format", choices=("yaml", "json"), default="yaml")
    e.set_defaults(func=cmd_contract_export)
    cli_scaffold.add_parsers(sub)
    cli_connectors.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    levels = (logging.WARNING, logging.INFO, logging.DEBUG)
    logging.basicConfig(level=levels[min(args.verbosity, 2)],
                        format="%(levelname)s %(name)s: %(message)s")
    masking.install()  # on the handlers basicConfig set up: every record passes the masker
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        for issue in exc.issues:
            err.print(error_line(masking.mask(str(issue))), soft_wrap=True)
        err.print("fix the config and try again (`dativo validate` lists every error)")
        return 1
    except DativoError as exc:
        err.print(error_line(masking.mask(str(exc))), soft_wrap=True)
        return 1


def entry() -> NoReturn:
    """The ``dativo`` console script: ``main``, then a quick exit.

    By the time ``main`` returns, every commit is durable and the output is written; what a
    normal exit adds is the interpreter freeing Arrow, SQLAlchemy and pyiceberg objects one
    by one, about half a second a command line should not wait for.
    """
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()
