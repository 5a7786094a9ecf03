"""The one secret rule and the one masker: what they call a secret, and every log line at every
level passing through a real logging handler with the masker installed."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from airflow_provider_dativo import masking
from airflow_provider_dativo.engines.launchers import Masker


@pytest.fixture
def log() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger at DEBUG whose handler carries the masker, as the CLI sets it up."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    masking.install([handler])
    logger = logging.getLogger("tests.masking")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield logger, out
    finally:
        logger.removeHandler(handler)


@pytest.mark.parametrize("name", ["password", "db_password", "client_secret", "api_key",
                                  "API-Key", "X-API-Key", "apikey", "key", "token",
                                  "refresh_token", "Authorization", "auth", "x-auth-token",
                                  "s3.secret-access-key", "credential", "private_key",
                                  "session_token", "X-Amz-Signature", "Cookie", "pass"])
def test_secret_names(name: str) -> None:
    assert masking.is_secret_name(name)


@pytest.mark.parametrize("name", ["host", "port", "username", "login", "base_url", "path",
                                  "primary_key", "partition_key", "records", "page",
                                  "passed", "Unauthorized", "author", "author_name", "header",
                                  "query_param", "type", "keys_file_format"])
def test_ordinary_names(name: str) -> None:
    assert not masking.is_secret_name(name)


def test_secret_values_of_connection_settings() -> None:
    settings = {
        "base_url": "https://api.example/v1?api_key=in-url-5f2c&page=1",
        "api_key": "top-level-91aa",
        "auth": {"type": "api_key", "query_param": "key", "header": "X-API-Key",
                 "value": "auth-value-77c1", "username": "ana"},
        "headers": {"X-API-Key": "header-0d3e", "Accept": "application/json"},
        "catalog": {"uri": "postgresql+psycopg://svc:url-pw-4411@db:5432/ice",
                    "s3.secret-access-key": "s3-secret-aa01", "s3.access-key-id": "AKIA1"},
        "params": {"per_page": 100, "verbose": True},
    }
    assert sorted(masking.secret_values(settings)) == sorted([
        "in-url-5f2c", "top-level-91aa", "auth-value-77c1", "header-0d3e", "url-pw-4411",
        "s3-secret-aa01", "AKIA1"])


def test_every_level_is_masked(log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, out = log
    masking.register(["registered-6e0f1b"])
    logger.debug("connecting with registered-6e0f1b as the key")
    logger.info("HTTP Request: GET %s \"HTTP/1.1 200 OK\"",
                "http://127.0.0.1:9/tickets?page=1&api_key=query-9b7d&per_page=5")
    logger.warning("headers %s", {"Authorization": "Bearer bearer-12ab", "Accept": "*/*"})
    logger.error("send_request_headers.started headers=[(b'X-API-Key', b'tuple-33cd'), "
                 "(b'Host', b'127.0.0.1')]")
    logger.critical("dsn host=db password=dsn-pw-77 user=svc, url "
                    "postgresql://svc:url-pw-4411@db/ice")
    text = out.getvalue()
    for secret in ("registered-6e0f1b", "query-9b7d", "bearer-12ab", "tuple-33cd", "dsn-pw-77",
                   "url-pw-4411"):
        assert secret not in text
    assert "page=1&api_key=***&per_page=5" in text
    assert "'Authorization': 'Bearer ***'" in text and "'Accept': '*/*'" in text
    assert "(b'X-API-Key', b'***')" in text and "(b'Host', b'127.0.0.1')" in text
    assert "postgresql://svc:***@db/ice" in text and "user=svc" in text
    assert len(text.splitlines()) == 5


def test_exceptions_and_ordinary_lines(log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, out = log
    try:
        raise RuntimeError("GET http://h/x?token=exc-token-5150 failed")
    except RuntimeError:
        logger.exception("request failed")
    logger.info("source check passed: %s answered", "http://h/tickets")
    text = out.getvalue()
    assert "exc-token-5150" not in text and "token=***" in text
    assert "source check passed: http://h/tickets answered" in text


def test_connector_maskers_are_the_one_masker() -> None:
    Masker(["connector-secret-0a1b"])
    assert masking.mask("stderr: connector-secret-0a1b") == "stderr: ***"
    assert Masker()("no secret here; key") == "no secret here; key"


def test_sinks_get_past_and_future_values() -> None:
    seen: list[str] = []
    masking.register(["before-sink-1234"])
    masking.add_sink(seen.append)
    masking.add_sink(seen.append)  # once only
    masking.register(["after-sink-5678", "abc", None])
    assert "before-sink-1234" in seen and seen.count("after-sink-5678") == 1
    assert "abc" not in seen  # too short to be a secret
