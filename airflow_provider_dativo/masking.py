"""What is a secret, and the one masker that keeps secrets out of logs and messages.

The rule: a setting is a secret when its key names one (``is_secret_name``: password, secret,
token, credential, private, session, auth..., api key, access key, signature, cookie, or a key
called ``key``), or it is the ``value`` of such a key (``auth: {type: api_key, value: ...}``).
URL passwords (``scheme://user:PASSWORD@host``) and the values of query parameters whose name
is a secret name (``?api_key=...``) are secrets wherever they appear. A connector adds to the
rule what it declares itself: the properties its spec marks secret (``declared_secret_keys``,
Airbyte's ``airbyte_secret``) count as secret names, and the environment variables its recipe's
auth names are secrets (``env_secrets``). Of an Airflow connection, the password and the extras
are secrets (``is_secret_connection_field``), and so is every Airflow Variable.
``secret_values`` applies the rule to nested settings through the one walk over them
(``nested.nodes``).

The masker replaces every value registered with it (``register``: connection settings as they
are resolved, connector secrets, Airflow lookups) and, in any text, the values of secret query
parameters, URL passwords and ``Name: value`` / ``name=value`` pairs whose name is a secret name
(HTTP headers such as ``Authorization: Bearer ...`` or ``X-API-Key: ...``). ``MaskingFilter``
applies it to every log record a handler emits; the CLI installs it on the root handlers, and
the operators forward each registered value to Airflow's own secrets masker (``add_sink``).

No Airflow import here: this module serves the CLI and the engines as much as the operators.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import threading
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from airflow_provider_dativo import nested

MASK = "***"
# Shorter values would mask ordinary words and numbers; they are not real secrets anyway.
MIN_SECRET_LENGTH = 4

_SECRET_NAME = re.compile(
    r"passw|passphrase|^pass$|secret|token|credential|private|session|signature|cookie"
    r"|(?:^|[^a-z])auth(?!ors?(?:$|[^a-z]))|api[-_]?key|access[-_]?key|^key$",
    re.IGNORECASE,
)


@functools.lru_cache(maxsize=4096)  # settings repeat the same few names over and over
def is_secret_name(name: str) -> bool:
    """Whether a setting, header or query parameter called ``name`` holds a secret."""
    return bool(_SECRET_NAME.search(name.strip()))


_USERINFO = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]*:)([^@\s/]+)(@)", re.IGNORECASE)
_QUERY_PARAM = re.compile(r"([?&;])([^=&#\s?;]+)=([^&#\s\"'<>;]*)")
_PAIR = re.compile(
    r"(?P<name>[A-Za-z][A-Za-z0-9_.-]*)"
    r"(?P<sep>['\"]?\s*[:=]\s*b?['\"]?|['\"],\s*b?['\"])"
    r"(?P<scheme>(?:Bearer|Basic|Token|Digest|Negotiate)\s+)?"
    r"(?P<value>[^\s'\",}\])&]+)"
)


def _url_secrets(text: str) -> list[str]:
    """URL passwords and secret query parameter values inside ``text``."""
    found = [m.group(2) for m in _USERINFO.finditer(text)]
    if "?" in text:
        try:
            query = urlsplit(text).query
        except ValueError:
            query = ""
        found += [v for k, v in parse_qsl(query) if is_secret_name(k)]
    return found


def secret_values(value: Any, key: str = "", *, under_secret: bool = False,
                  secret_keys: Collection[str] = ()) -> list[str]:
    """Every value inside ``value`` (a connection's settings) that the rule calls a secret.

    ``secret_keys`` are keys the connector itself declares secret (``declared_secret_keys``),
    which count as secret names beside the rule's own.
    """

    def secret_key(name: str) -> bool:
        return name in secret_keys or is_secret_name(name)

    out: list[str] = []
    for path, node in nested.nodes(value, (key,) if key else ()):
        if node is None or isinstance(node, bool | Mapping | list | tuple):
            continue
        names = nested.keys_of(path)
        name = names[-1] if names else ""
        # a value is inside a secret when a mapping or list around it is named as one
        inside = under_secret or any(secret_key(k) for k in names[:-1])
        text = str(node)
        if secret_key(name) or (inside and name == "value"):
            out.append(text)
        else:
            out += _url_secrets(text)
    return out


def is_secret_connection_field(field: str) -> bool:
    """Whether a field of an Airflow connection (``password``, ``extra.KEY``, ``host``...) holds
    a secret: its password and its extras do; host, login, port, schema and type are addresses."""
    return field == "password" or field.startswith("extra.")


def declared_secret_keys(spec: Mapping[str, Any]) -> set[str]:
    """Names of every property a connector's spec marks secret (Airbyte's ``airbyte_secret``),
    at any depth of its JSON Schema."""
    schema = spec.get("connectionSpecification") or spec
    return {str(path[-1]) for path, node in nested.nodes(schema)
            if len(path) >= 2 and path[-2] == "properties" and isinstance(path[-1], str)
            and isinstance(node, Mapping) and node.get("airbyte_secret")}


def env_secrets(names: Iterable[str]) -> list[str]:
    """Values of the environment variables a connector recipe names as secrets."""
    return [os.environ[n] for n in names if os.environ.get(n)]


class _Registry:
    """The process's secret values, longest first so a value containing another goes whole."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: tuple[str, ...] = ()
        self._sinks: list[Callable[[str], None]] = []

    def register(self, values: Iterable[Any]) -> None:
        fresh: list[str] = []
        with self._lock:
            known = set(self._values)
            for value in values:
                text = value if isinstance(value, str) else None
                if text is not None and len(text) >= MIN_SECRET_LENGTH and text not in known:
                    known.add(text)
                    fresh.append(text)
            if fresh:
                self._values = tuple(sorted(known, key=len, reverse=True))
            sinks = list(self._sinks)
        for text in fresh:
            for sink in sinks:
                sink(text)

    def add_sink(self, sink: Callable[[str], None]) -> None:
        with self._lock:
            if sink in self._sinks:
                return
            self._sinks.append(sink)
            values = self._values
        for text in values:
            sink(text)

    @property
    def values(self) -> tuple[str, ...]:
        return self._values


_registry = _Registry()


def register(values: Iterable[Any]) -> None:
    """Mask these values from now on, in this process (and in every sink, e.g. Airflow's)."""
    _registry.register(values)


def register_settings(settings: Any) -> None:
    """Mask every secret of a connection's settings (see ``secret_values``)."""
    _registry.register(secret_values(settings))


def add_sink(sink: Callable[[str], None]) -> None:
    """Hand every value registered, before and after this call, to ``sink`` too."""
    _registry.add_sink(sink)


def _mask_pair(m: re.Match[str]) -> str:
    if not is_secret_name(m.group("name")) or m.group("value") == MASK:
        return m.group(0)
    return f"{m.group('name')}{m.group('sep')}{m.group('scheme') or ''}{MASK}"


def _mask_param(m: re.Match[str]) -> str:
    if not is_secret_name(unquote(m.group(2))) or not m.group(3):
        return m.group(0)
    return f"{m.group(1)}{m.group(2)}={MASK}"


def mask(text: str) -> str:
    """``text`` with every registered secret and every secret-looking pair replaced by ***."""
    for value in _registry.values:
        if value in text:
            text = text.replace(value, MASK)
    if "://" in text:
        text = _USERINFO.sub(rf"\1{MASK}\3", text)
    if "=" in text:
        text = _QUERY_PARAM.sub(_mask_param, text)
    if ":" in text or "=" in text or "'," in text:
        text = _PAIR.sub(_mask_pair, text)
    return text


class Masker:
    """A source's handle on the masker: registers its secrets, masks with the one masker."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        register(secrets)

    def __call__(self, text: str) -> str:
        return mask(text)


class MaskingFilter(logging.Filter):
    """Masks the message, exception text and stack of every record passing a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a record whose args do not fit its format: leave it to logging
            return True
        masked = mask(message)
        if masked != message or record.args:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask(record.exc_text)
        if record.stack_info:
            record.stack_info = mask(record.stack_info)
        return True


def install(handlers: Iterable[logging.Handler] | None = None) -> None:
    """Put a ``MaskingFilter`` on ``handlers`` (default: the root logger's), once each."""
    for handler in logging.getLogger().handlers if handlers is None else handlers:
        if not any(isinstance(f, MaskingFilter) for f in handler.filters):
            handler.addFilter(MaskingFilter())
