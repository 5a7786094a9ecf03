"""Errors keep what they carry across pickling, as they do between processes."""

from __future__ import annotations

import pickle

from airflow_provider_dativo.errors import ConfigError, ConfigIssue, TargetError


def test_a_config_error_keeps_its_issues_through_pickling() -> None:
    issues = [ConfigIssue("jobs/acme/a.yaml", "'asset' is required", 3, "asset"),
              ConfigIssue("assets/x.yaml", "schema[0].type: unknown type 'lng'")]
    error = pickle.loads(pickle.dumps(ConfigError(issues)))
    assert type(error) is ConfigError
    assert list(error.issues) == issues
    assert str(error) == "jobs/acme/a.yaml:3: asset: 'asset' is required\n" \
                         "assets/x.yaml: schema[0].type: unknown type 'lng'"


def test_errors_with_a_message_only_pickle_as_they_did() -> None:
    error = pickle.loads(pickle.dumps(TargetError("cannot commit")))
    assert type(error) is TargetError and str(error) == "cannot commit"
