"""The config layer: schemas, errors with file/line/field, registry rules, immutable specs."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from airflow_provider_dativo.config.loader import ConfigRoot
from airflow_provider_dativo.config.schema_validation import SCHEMA_FILES, load_schema
from airflow_provider_dativo.config.yaml_loader import parse_yaml
from airflow_provider_dativo.errors import ConfigError
from tests.conftest import REPO, write

GUIDE = REPO.parent / "shared" / "reference" / "connector-development-guide.md"


def issues_of(root: Path, job: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        ConfigRoot(root).load_job(root / job)
    return [str(i) for i in info.value.issues]


def test_every_shipped_config_is_valid() -> None:
    report = ConfigRoot(REPO).validate()
    assert report.all_issues() == []
    assert report.warnings == []  # every shipped asset names its source_type
    assert len(report.files["job"]) >= 4
    assert {Path(f).parts[1] for f in report.files["job"]} >= {"acme", "globex"}


@pytest.mark.skipif(not GUIDE.exists(), reason="connector guide not beside the repository")
def test_the_guides_examples_validate_as_written(config_root: Path) -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", GUIDE.read_text(), flags=re.S)
    recipe, asset, job = (yaml.safe_load(b) for b in blocks[:3])
    assert recipe["type"] == "toy_http" and asset["kind"] == "DataContract"
    assert job["tenant_id"] == "demo"
    write(config_root / "connectors/toy_http.yaml", blocks[0])
    write(config_root / "assets/toy_http/v1.0/tickets.yaml", blocks[1])
    write(config_root / "jobs/examples/toy_http_tickets.yaml", blocks[2])
    spec = ConfigRoot(config_root).load_job(config_root / "jobs/examples/toy_http_tickets.yaml")
    assert spec.dag_id == "dativo__demo__toy_http_tickets"
    assert spec.source_engine == "airbyte"
    assert [f.name for f in spec.contract.fields][:2] == ["id", "status"]
    # the shipped copies are the guide's examples
    for text, rel in zip(blocks[:3], ["connectors/toy_http.yaml",
                                      "assets/toy_http/v1.0/tickets.yaml",
                                      "jobs/examples/toy_http_tickets.yaml"], strict=True):
        assert yaml.safe_load(text) == yaml.safe_load((REPO / rel).read_text())


def test_references_stay_unresolved_until_run_time(config_root: Path) -> None:
    job = ConfigRoot(config_root).load_job(config_root / "jobs/acme/stripe_customers.yaml")
    assert job.source_connection["client_secret"] == "${STRIPE_API_KEY}"
    resolved = job.resolved_source_connection({"STRIPE_API_KEY": "sk_test_123"})
    assert resolved["client_secret"] == "sk_test_123"
    assert resolved["start_date"] == "2024-01-01T00:00:00Z"  # the ${VAR:-default} default
    with pytest.raises(ConfigError) as info:
        job.resolved_source_connection({})
    message = str(info.value)
    assert "STRIPE_API_KEY is not set" in message
    assert "source.connection.client_secret" in message
    assert job.secret_envs[0] == "STRIPE_API_KEY"


def test_a_missing_variable_is_reported_where_it_is_referenced(config_root: Path) -> None:
    recipe = config_root / "connectors/stripe.yaml"
    recipe.write_text(recipe.read_text().replace(
        'connection:\n  start_date: "2024-01-01T00:00:00Z"\n',
        'connection:\n  start_date: "${RECIPE_START}"\n  account:\n'
        '    id: "${STRIPE_ACCOUNT_ID}"\n  tags: [a, "${STRIPE_TAG}"]\n'))
    job = ConfigRoot(config_root).load_job(config_root / "jobs/acme/stripe_customers.yaml")
    with pytest.raises(ConfigError) as info:
        job.resolved_source_connection({})
    found = {(Path(i.file).name, i.line, i.path) for i in info.value.issues}
    assert found == {
        ("stripe_customers.yaml", 12, "source.connection.client_secret"),  # the job's value
        ("stripe.yaml", 20, "connection.account.id"),  # the recipe's, nested
        ("stripe.yaml", 21, "connection.tags[1]"),
    }  # the recipe's start_date and its ${RECIPE_START} are overridden by the job: not asked
    assert "STRIPE_ACCOUNT_ID is not set" in str(info.value)
    resolved = job.resolved_source_connection({"STRIPE_API_KEY": "k", "STRIPE_ACCOUNT_ID": "a",
                                               "STRIPE_TAG": "t"})
    assert resolved["account"] == {"id": "a"} and resolved["tags"] == ["a", "t"]
    assert resolved["start_date"] == "2024-01-01T00:00:00Z"


def test_job_spec_is_immutable(config_root: Path) -> None:
    job = ConfigRoot(config_root).load_job(config_root / "jobs/acme/orders.yaml")
    with pytest.raises(dataclasses.FrozenInstanceError):
        job.tenant_id = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        job.source_connection["path"] = "/etc"  # type: ignore[index]
    assert job.dag_id == "dativo__acme__orders"
    assert job.contract.name == "orders"
    assert job.source_connection["format"] == "csv"  # recipe default merged in


def test_an_asset_of_another_connector_is_refused(config_root: Path) -> None:
    job = config_root / "jobs/acme/orders.yaml"
    write(job, job.read_text().replace("asset: orders\nasset_path: assets/file/v1.0/orders.yaml",
                                       "asset: pg_customers\n"
                                       "asset_path: assets/postgres/v1.0/customers.yaml"))
    found = [i.split("/config/", 1)[1] for i in issues_of(config_root, "jobs/acme/orders.yaml")]
    assert found == ["jobs/acme/orders.yaml:8: asset_path: assets/postgres/v1.0/customers.yaml "
                     "is an asset of source_type 'postgres', and this job's source_connector "
                     "is 'file'; use an asset written for file, or set the asset's source_type "
                     "to file"], found


def test_a_recipe_reads_the_assets_of_the_source_type_it_names(config_root: Path) -> None:
    """The image recipe of source-faker says its jobs read the faker assets, so the PyPI
    recipe's contract serves both; an asset written for the image recipe's own name, or for
    another system, is refused with the type the recipe reads."""
    job = config_root / "jobs/examples/faker_docker_users.yaml"
    faker = (config_root / "jobs/examples/faker_users.yaml").read_text()
    write(job, faker.replace("source_connector: faker\n", "source_connector: faker_docker\n")
          .replace("connectors/faker.yaml", "connectors/faker_docker.yaml"))
    spec = ConfigRoot(config_root).load_job(job)
    assert spec.source.reads_assets_of == "faker" and spec.contract.source_type == "faker"
    asset = config_root / "assets/faker/v1.0/users.yaml"
    asset.write_text(asset.read_text().replace("source_type: faker\n",
                                               "source_type: faker_docker\n"))
    found = [i.split("/config/", 1)[1] for i in issues_of(config_root, str(job))]
    assert found == ["jobs/examples/faker_docker_users.yaml:6: asset_path: "
                     "assets/faker/v1.0/users.yaml is an asset of source_type 'faker_docker', "
                     "and this job's source_connector is 'faker_docker' (whose recipe reads "
                     "assets of source_type 'faker'); use an asset written for faker, or set "
                     "the asset's source_type to faker"], found


def test_a_recipe_may_narrow_the_registrys_modes(config_root: Path) -> None:
    recipe = config_root / "connectors/postgres.yaml"
    original = recipe.read_text()
    job = config_root / "jobs/acme/pg_customers.yaml"
    write(job, "mode: cloud\n" + job.read_text())  # the registry allows postgres in cloud
    assert ConfigRoot(config_root).load_job(job).mode == "cloud"
    write(recipe, original.replace("default_engine:", "modes: [self_hosted]\ndefault_engine:"))
    found = issues_of(config_root, "jobs/acme/pg_customers.yaml")
    assert len(found) == 1 and "pg_customers.yaml:1: mode: recipe rule:" in found[0]
    assert ("registry/connectors.yaml allows 'postgres' in cloud mode, but its recipe "
            f"{recipe} narrows it to self_hosted") in found[0]
    write(job, job.read_text().replace("mode: cloud\n", ""))
    assert ConfigRoot(config_root).load_job(job).mode == "self_hosted"  # within both


def test_a_recipe_cannot_widen_the_registrys_modes(config_root: Path) -> None:
    recipe = config_root / "connectors/file.yaml"  # the registry: self_hosted only
    write(recipe, recipe.read_text().replace("default_engine:",
                                             "modes: [self_hosted, cloud]\ndefault_engine:"))
    line = recipe.read_text().splitlines().index("modes: [self_hosted, cloud]") + 1
    expected = (f"{recipe}:{line}: modes: mode(s) cloud are not allowed for 'file' by "
                "registry/connectors.yaml (modes: self_hosted); a recipe's modes may only narrow "
                "the registry's: remove them here, or allow them in the registry")
    assert issues_of(config_root, "jobs/acme/orders.yaml") == [expected]
    report = ConfigRoot(config_root).validate()
    assert [str(i) for i in report.issues["connector"]] == [expected]  # once, not per job
    assert report.issues["job"] == []


def test_all_schema_errors_are_reported_with_line_and_field(config_root: Path) -> None:
    write(config_root / "jobs/acme/broken.yaml", """\
tenant_id: acme
source_connector: file
source_connector_path: connectors/file.yaml
asset: orders
target_connector: iceberg
target_connector_path: connectors/iceberg.yaml
sorce:
  connection: {}
source:
  incremental:
    cursor_field: updated_at
    lookback_days: two
validation:
  mode: lenient
""")
    found = issues_of(config_root, "jobs/acme/broken.yaml")
    text = "\n".join(found)
    assert "broken.yaml:1: 'asset_path' is required" in text
    assert "broken.yaml:7: sorce: unknown field(s) 'sorce'" in text
    assert ("broken.yaml:12: source.incremental.lookback_days: 'two' is not of type 'integer'"
            in text)
    assert "broken.yaml:14: validation.mode: 'lenient' is not one of strict, warn" in text
    assert len(found) == 4


@pytest.mark.parametrize(("text", "expected"), [
    ("a: [1, 2\n", ":2: YAML syntax error"),
    ("a: 1\nb: 2\na: 3\n", ":3: a: duplicate key 'a'"),
    ("a: !!python/object/apply:os.system ['true']\n", ":1: YAML syntax error: could not "
     "determine a constructor"),
    ("", ":1: the file is empty"),
])
def test_yaml_errors_name_the_line(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_yaml(text, "bad.yaml")
    assert expected in str(info.value)


def test_recipe_and_asset_errors_point_into_their_own_files(config_root: Path) -> None:
    write(config_root / "connectors/file.yaml", """\
type: file
version: 1.0.0
default_engine:
  type: spark
""")
    asset = config_root / "assets/file/v1.0/orders.yaml"
    asset.write_text(asset.read_text().replace("type: timestamptz", "type: datetime"))
    found = "\n".join(issues_of(config_root, "jobs/acme/orders.yaml"))
    assert "connectors/file.yaml:4: default_engine.type: 'spark' is not one of" in found
    assert re.search(r"orders\.yaml:\d+: schema\[5\]\.type", found), found


def test_paths_may_not_escape_the_config_root(config_root: Path) -> None:
    job = config_root / "jobs/acme/orders.yaml"
    job.write_text(job.read_text().replace("assets/file/v1.0/orders.yaml", "../../etc/passwd")
                   .replace("examples/data/orders/*.csv", "/etc/*.conf"))
    found = "\n".join(issues_of(config_root, "jobs/acme/orders.yaml"))
    assert "orders.yaml:8: asset_path: path '../../etc/passwd' has a '..' component" in found
    assert "source.connection.path: path '/etc/*.conf' points outside the config root" in found


@pytest.mark.parametrize(("edit", "expected"), [
    (("source_connector: file", "source_connector: iceberg"),
     "registry rule: 'iceberg' cannot be a source (roles: target)"),
    (("tenant_id: acme", "tenant_id: acme\nmode: cloud"),
     "mode: registry rule: 'file' is not allowed in cloud mode (modes: self_hosted)"),
    (("source:\n", "source:\n  engine: airbyte\n"),
     "source.engine: registry rule: engine 'airbyte' is not allowed for 'file' (engines: native)"),
    (("source_connector: file", "source_connector: ftp"),
     "connector 'ftp' is not in registry/connectors.yaml"),
])
def test_registry_rules_refuse_jobs_and_say_which_rule(config_root: Path, edit: tuple[str, str],
                                                       expected: str) -> None:
    job = config_root / "jobs/acme/orders.yaml"
    job.write_text(job.read_text().replace(*edit, 1))
    assert expected in "\n".join(issues_of(config_root, "jobs/acme/orders.yaml"))


def test_incremental_needs_registry_support(config_root: Path) -> None:
    registry = config_root / "registry/connectors.yaml"
    registry.write_text(registry.read_text().replace("incremental: true", "incremental: false", 1))
    job = config_root / "jobs/acme/orders.yaml"
    job.write_text(job.read_text().replace(
        "source:\n", "source:\n  incremental:\n    cursor_field: ordered_at\n"))
    found = "\n".join(issues_of(config_root, "jobs/acme/orders.yaml"))
    assert "registry rule: 'file' does not support incremental reads" in found


def test_validate_reports_every_broken_file_at_once(config_root: Path) -> None:
    write(config_root / "jobs/acme/a.yaml", "tenant_id: acme\n")
    write(config_root / "jobs/globex/b.yaml", "tenant_id: [globex\n")
    report = ConfigRoot(config_root).validate()
    files = {Path(i.file).name for i in report.issues["job"]}
    assert files == {"a.yaml", "b.yaml"}
    assert not report.ok
    assert len(report.files["job"]) == len(list((REPO / "jobs").rglob("*.yaml"))) + 2


def test_a_changed_asset_is_seen_by_the_next_load_of_its_job(config_root: Path) -> None:
    root = ConfigRoot(config_root)
    job = root.load_job("jobs/acme/orders.yaml")
    assert root.load_job("jobs/acme/orders.yaml") is job  # unchanged files: reused
    asset = config_root / "assets/file/v1.0/orders.yaml"
    asset.write_text(asset.read_text().replace("enum: [EUR, USD, GBP]",
                                               "enum: [EUR, USD, GBP, CHF]"))
    changed = root.load_job("jobs/acme/orders.yaml")
    assert changed is not job
    assert changed.contract.field("currency").enum == ("EUR", "USD", "GBP", "CHF")


@pytest.mark.parametrize("kind", sorted(SCHEMA_FILES))
def test_every_shipped_schema_is_a_valid_json_schema(kind: str) -> None:
    # the loader trusts its schemas (checking them costs each process most of a second), so
    # they are checked here, against the JSON Schema 2020-12 metaschema
    Draft202012Validator.check_schema(load_schema(kind))
