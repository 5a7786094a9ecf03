"""``dativo new connector NAME --engine airbyte|singer --pip PACKAGE==VERSION`` (or ``--image
IMAGE:TAG``): a recipe for a connector that already exists, drafted from the connector itself.

The package is installed into the connector's own environment, its console script becomes the
recipe's command, and its spec (an Airbyte SPEC, a Singer tap's ``--about``) gives the recipe's
``connection``: every required key as a ``${VAR}`` placeholder (or its default), secrets also
listed under ``auth`` so their values are masked. With a connection (``--set KEY=VALUE``) the
connector's discover drafts the asset too. What could not be done (no network, no spec) is
said in the scaffold's notes, and the files are written so that they validate all the same.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from airflow_provider_dativo import masking
from airflow_provider_dativo.asset_draft import asset_name, draft, pick_stream
from airflow_provider_dativo.config.loader import FIXTURE_JOBS, ConfigRoot
from airflow_provider_dativo.config.specs import ConnectorRecipe, EngineSpec
from airflow_provider_dativo.engines.base import StreamInfo
from airflow_provider_dativo.engines.config_spec import ConfigKey, placeholder
from airflow_provider_dativo.errors import DativoError, EngineError
from airflow_provider_dativo.scaffold import (
    _ASSET,
    Scaffold,
    check_name,
    refuse_existing,
    write_scaffold,
)

PROTOCOL_ENGINES = ("airbyte", "singer")
PINNED = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9_,.-]+\])?==[A-Za-z0-9.+!_-]+$")
TAGGED = re.compile(r"^[^\s:@]+(?::[0-9]+)?/?[^\s:@]*(:[A-Za-z0-9_.-]+|@sha256:[0-9a-f]{64})$")


def _command_of(root: ConfigRoot, name: str, engine: str, pip: str,
                notes: list[str]) -> str:
    """The package's console script, from an install into the connector's environment; a
    guess from the package name when it cannot be installed here."""
    from airflow_provider_dativo.engines.connector_venvs import console_scripts, install

    package = pip.split("==", 1)[0].split("[", 1)[0]
    guess = package.removeprefix("airbyte-")
    try:
        venv = install(root.root, name, EngineSpec(type=engine, pip=pip))
    except EngineError as exc:
        notes.append(f"{pip} could not be installed here ({_first_line(exc)}); the command is "
                     f"guessed as '{guess}': check it, then run `dativo connectors install "
                     f"{name}` and `dativo spec --connector {name}`")
        return guess
    scripts = console_scripts(venv, pip)
    prefix = "source-" if engine == "airbyte" else "tap-"
    chosen = [s for s in scripts if s.startswith(prefix)] or scripts
    if not chosen:
        notes.append(f"{pip} installs no console script; set the recipe's command to how the "
                     "connector starts (e.g. [python, -m, module])")
        return guess
    if len(chosen) > 1:
        notes.append(f"{pip} installs several commands ({', '.join(chosen)}); the recipe runs "
                     f"'{chosen[0]}'")
    return chosen[0]


def _first_line(exc: Exception) -> str:
    """The error's first line, and its last when the first only introduces the output."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    return lines[0] if len(lines) == 1 or not lines[0].endswith(":") else f"{lines[0]} {lines[-1]}"


def _recipe(name: str, engine: EngineSpec) -> ConnectorRecipe:
    return ConnectorRecipe(type=name, version="0.1.0", file=f"connectors/{name}.yaml",
                           default_engine=engine, engines={}, connection={}, objects=(),
                           secret_envs=())


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    """``{"a.b": 1}`` as ``{"a": {"b": 1}}``: the shape of the connector's config.json."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        node = out
        *parents, last = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return out


def _yaml(value: Any, indent: int) -> list[str]:
    """A nested mapping as block YAML whose scalars are JSON (valid YAML, types kept)."""
    lines = []
    for key, item in value.items():
        if isinstance(item, dict):
            lines.append(f"{' ' * indent}{key}:")
            lines += _yaml(item, indent + 2)
        else:
            lines.append(f"{' ' * indent}{key}: {json.dumps(item)}")
    return lines


def new_protocol_connector(root: ConfigRoot, name: str, engine: str, *, pip: str | None = None,
                           image: str | None = None, settings: dict[str, Any] | None = None,
                           stream: str | None = None) -> Scaffold:
    """Scaffold a connector published as a package (``pip``) or an image."""
    check_name(root, name, engine, "source")
    if engine not in PROTOCOL_ENGINES:
        raise DativoError(f"--pip and --image are for the {' and '.join(PROTOCOL_ENGINES)} "
                          f"engines; the {engine} engine has no package or image to start")
    if (pip is None) == (image is None):
        raise DativoError("give one of --pip PACKAGE==VERSION (a local executable) or --image "
                          "IMAGE:TAG (a connector image)")
    if pip is not None and not PINNED.match(pip):
        raise DativoError(f"--pip '{pip}' is not pinned: give PACKAGE==VERSION (e.g. "
                          "airbyte-source-faker==7.2.1), so every worker installs the same "
                          "connector")
    if image is not None and not TAGGED.match(image):
        raise DativoError(f"--image '{image}' has no tag: give IMAGE:TAG (e.g. "
                          "airbyte/source-faker:7.2.1)")
    refuse_existing(root, name)
    from airflow_provider_dativo.engines import open_recipe_source
    from airflow_provider_dativo.engines.protocol import ProtocolSource

    notes: list[str] = []
    if pip is not None:
        command = _command_of(root, name, engine, pip, notes)
        spec = EngineSpec(type=engine, command=(command,), pip=pip,
                          options={"launcher": "local"})
    else:
        spec = EngineSpec(type=engine, image=image, options={"launcher": "docker"})
    recipe = _recipe(name, spec)
    keys: list[ConfigKey] | None = None
    try:
        source = open_recipe_source(root.root, recipe, engine, {})
        assert isinstance(source, ProtocolSource)
        keys = source.config_keys()
        if keys is None:
            notes.append(f"{name} publishes no spec (no --about): fill in the recipe's "
                         "connection from the connector's README")
    except EngineError as exc:
        notes.append(f"the connector's spec could not be read ({_first_line(exc)}); fill in "
                     f"the recipe's connection, then check it with `dativo spec --connector "
                     f"{name}`")
    env = {k.key: f"{name.upper()}_{placeholder(k.key)}" for k in keys or ()}
    required = [k for k in keys or () if k.required]
    connection = {k.key: (k.default if k.default is not None else f"${{{env[k.key]}}}")
                  for k in required}
    # the --set values the user chose become the recipe's own, except secrets: those stay
    # ${VAR} references, resolved when a task runs
    secret = {k.key for k in keys or () if k.secret}
    for key, value in (settings or {}).items():
        if key not in secret and not (keys is None and masking.is_secret_name(key)):
            connection[key] = value
    found: StreamInfo | None = None
    if settings:
        given = _nest({**{k.key: k.default for k in required if k.default is not None},
                       **settings})
        try:
            found = pick_stream(open_recipe_source(root.root, recipe, engine, given).discover(),
                                stream, name)
        except (EngineError, DativoError) as exc:
            notes.append(f"discover with the --set connection failed ({_first_line(exc)}); "
                         f"the asset is a placeholder: draft it later with `dativo asset "
                         f"draft --job {FIXTURE_JOBS}/{name}.yaml`")
    return write_scaffold(root, name, _files(root, name, engine, spec, keys, env, connection,
                                             found, settings or {}),
                          _registry(name, engine, spec, found), tuple(notes))


def _engine_block(spec: EngineSpec) -> list[str]:
    lines = [f"  type: {spec.type}"]
    if spec.image:
        lines.append(f"  image: {spec.image}")
    else:
        lines += [f"  command: {spec.command[0]}   # the package's console script",
                  f"  pip: {spec.pip}   # pinned: `dativo connectors install` makes its venv"]
    lines += ["  options:", f"    launcher: {spec.options['launcher']}"]
    return lines


def _files(root: ConfigRoot, name: str, engine: str, spec: EngineSpec,
           keys: list[ConfigKey] | None, env: dict[str, str], connection: dict[str, Any],
           found: StreamInfo | None, settings: dict[str, Any]) -> dict[Path, str]:
    base = root.root
    secrets = [k for k in keys or () if k.required and k.secret]
    recipe = [f"type: {name}", "version: 0.1.0", f"name: {name.replace('_', ' ').title()}",
              f"description: TODO what {name} reads ({spec.pip or spec.image}).",
              "roles: [source]", "default_engine:", *_engine_block(spec)]
    if secrets:
        recipe += ["auth:", "  required:"]
        for key in secrets:
            recipe += [f"    - name: {key.key}", f"      env: {env[key.key]}"]
            if key.description:
                recipe.append(f"      description: {json.dumps(key.description[:200])}")
    recipe.append("# the connector's config.json; `dativo spec --connector "
                  f"{name}` lists every key it takes")
    if connection:
        recipe += ["connection:", *_yaml(_nest(connection), 2)]
    else:
        recipe.append("connection: {}")
    obj = found.name if found else "records"
    recipe += ["objects:", f"  - name: {obj}"]
    if found and found.cursor_fields:
        recipe.append(f"    cursor_field: {found.cursor_fields[0]}")
    if found and found.primary_key:
        keys_text = (found.primary_key[0] if len(found.primary_key) == 1
                     else json.dumps(list(found.primary_key)))
        recipe.append(f"    primary_key: {keys_text}")
    asset = (draft(name, found) if found else _ASSET.format(name=name, source_type=name))
    asset_file = f"{asset_name('', obj)}.yaml" if found else "records.yaml"
    job = [f"# Sample job of the {name} connector tests (fixtures tenant: no real secrets "
           "needed).", "tenant_id: fixtures", f"source_connector: {name}",
           f"source_connector_path: connectors/{name}.yaml",
           f"asset: {asset_name(name, obj)}", f"asset_path: assets/{name}/v1.0/{asset_file}",
           "target_connector: iceberg", "target_connector_path: connectors/iceberg.yaml",
           "source:"]
    placeholders = {k: v for k, v in connection.items() if isinstance(v, str)
                    and v.startswith("${")}
    if placeholders:
        secret_keys = {k.key for k in secrets}
        job_values = {}
        for setting, ref in placeholders.items():
            # a --set value of a secret never goes into a file; others are the test default
            value = "test" if setting in secret_keys else str(settings.get(setting, "test"))
            job_values[setting] = f"${{{ref[2:-1]}:-{value}}}"
        job += ["  connection:", *_yaml(_nest(job_values), 4)]
    if found and found.cursor_fields and found.supports_incremental:
        job += ["  incremental:", f"    cursor_field: {found.cursor_fields[0]}"]
    if len(job) and job[-1] == "source:":
        job[-1] = "source: {}"
    fields = list(found.columns) if found else ["id", "name", "updated_at"]
    files = {
        base / f"connectors/{name}.yaml": "\n".join(recipe) + "\n",
        base / f"assets/{name}/v1.0/{asset_file}": asset,
        base / f"{FIXTURE_JOBS}/{name}.yaml": "\n".join(job) + "\n",
        base / f"tests/connectors/test_{name}.py": _test(name, engine, spec, fields,
                                                         sorted(connection), keys is not None),
    }
    return files


def _registry(name: str, engine: str, spec: EngineSpec, found: StreamInfo | None) -> str:
    # a local executable runs from a venv on the worker: self-hosted only; an image may run on
    # shared workers
    modes = "self_hosted, cloud" if spec.image else "self_hosted"
    incremental = "true" if found is None or found.supports_incremental else "false"
    where = f"image {spec.image}" if spec.image else f"{spec.pip}, a local executable"
    return (f"  {name}:\n    description: TODO one line about {name} ({where}).\n"
            f"    roles: [source]\n    engines: [{engine}]\n    default_engine: {engine}\n"
            f"    modes: [{modes}]\n    incremental: {incremental}\n    status: experimental\n")


def _test(name: str, engine: str, spec: EngineSpec, fields: list[str],
          connection: list[str], has_spec: bool) -> str:
    command = spec.command[0] if spec.command else ""
    # the spec check needs the connector's environment: a local executable that has a spec
    checks_spec = has_spec and not spec.image
    installed = "" if not checks_spec else f'''

def test_{name}_spec_takes_the_recipe_connection() -> None:
    """The connector's own spec knows every key of the recipe's connection."""
    from airflow_provider_dativo.engines import open_recipe_source
    from airflow_provider_dativo.engines.connector_venvs import venv_dir

    if not (venv_dir(ROOT, "{name}") / "bin" / "{command}").exists():
        pytest.skip("run `dativo connectors install {name}` first")
    recipe = ConfigRoot(ROOT).recipe(ROOT / "connectors/{name}.yaml")
    keys = open_recipe_source(ROOT, recipe, "{engine}", {{}}).config_keys()
    assert keys is not None
    assert set({connection!r}) <= {{k.key for k in keys}}
'''
    pytest_import = "import pytest\n\n" if checks_spec else ""
    return f'''"""Checks of the {name} connector, generated by `dativo new connector`: extend
them with reads against a test instance of the system (docs/CONNECTOR_DEVELOPMENT.md)."""

from __future__ import annotations

from pathlib import Path

{pytest_import}from airflow_provider_dativo.config.loader import ConfigRoot
from airflow_provider_dativo.contracts import to_odcs, validate_official

ROOT = Path(__file__).resolve().parents[2]
JOB = ROOT / "{FIXTURE_JOBS}/{name}.yaml"


def test_{name}_configs_validate() -> None:
    report = ConfigRoot(ROOT).validate(
        [ROOT / "connectors/{name}.yaml", ROOT / "assets/{name}", JOB])
    assert report.all_issues() == []
    assert report.files["connector"] == ["connectors/{name}.yaml"]


def test_{name}_registry_allows_the_sample_job() -> None:
    job = ConfigRoot(ROOT).load_job(JOB)
    assert job.source.type == "{name}"
    assert job.source_entry.default_engine == "{engine}"


def test_{name}_asset_is_an_official_odcs_contract() -> None:
    job = ConfigRoot(ROOT).load_job(JOB)
    # the drafted columns, then the ones dativo adds (ingest_date of the partitioning)
    assert [f.name for f in job.contract.fields][:{len(fields)}] == {fields!r}
    assert validate_official(to_odcs(job.contract)) == []
{installed}'''
