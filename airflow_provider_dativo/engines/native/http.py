"""HTTP/REST source: JSON records from a paginated API, in bounded batches.

Settings (``source.connection``, recipe defaults merged with the job):

- ``base_url``; ``path`` (default ``/<stream>``); ``params`` and ``headers`` sent with every
  request; ``records``: dotted path to the list of records in the body (empty: the body is the
  list).
- ``auth``: ``{type: api_key, header: X-API-Key}`` or ``{type: api_key, query_param: key}``
  (value from ``auth.value`` or ``api_key``), ``{type: bearer, token}``,
  ``{type: basic, username, password}``.
- ``pagination``: ``{type: page, page_param: page, start: 1, size_param, size}``,
  ``{type: offset, offset_param: offset, limit_param: limit, limit: 100}``,
  ``{type: cursor, cursor_param: cursor, next: meta.next_cursor}`` or ``{type: link}`` (the
  ``Link: <...>; rel="next"`` header); none reads one page. Page and offset stop at a short page.
- ``incremental_param``: query parameter that carries the cursor bound (committed cursor minus
  ``lookback_days``) so the API returns only newer records; records are also filtered by the
  runner either way.
- ``rate_limit: {requests_per_second}``; ``retries: {max: 5, backoff_s: 0.5, max_backoff_s:
  60}`` on 429 and 5xx, honouring ``Retry-After``; ``timeout_s`` per request (default 30).

Values arrive as text (nested values as JSON text) and are conformed by the contract layer.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urljoin, urlsplit, urlunsplit

import pyarrow as pa

from airflow_provider_dativo import masking
from airflow_provider_dativo.engines.base import (
    DEFAULT_BATCH_ROWS,
    CheckStatus,
    ReadItem,
    StateUpdate,
    StreamInfo,
    WholeStreamSource,
)
from airflow_provider_dativo.engines.native.cursor import later, lookback_bound
from airflow_provider_dativo.engines.native.files import as_text
from airflow_provider_dativo.errors import EngineError

if TYPE_CHECKING:
    from pathlib import Path

    import httpx

    from airflow_provider_dativo.config.specs import ConnectorRecipe, JobSpec

RETRY_STATUS = {429, 500, 502, 503, 504}


@dataclass(frozen=True)
class HttpSourceConfig:
    base_url: str
    path: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)  # may hold keys
    records: str = ""
    auth: Mapping[str, Any] = field(default_factory=dict, repr=False)  # holds credentials
    pagination: Mapping[str, Any] = field(default_factory=dict)
    incremental_param: str | None = None
    cursor_field: str | None = None
    lookback_days: int = 0
    requests_per_second: float | None = None
    max_retries: int = 5
    backoff_s: float = 0.5
    max_backoff_s: float = 60.0
    timeout_s: float = 30.0
    batch_rows: int = DEFAULT_BATCH_ROWS

    @classmethod
    def from_connection(cls, connection: Mapping[str, Any], *, cursor_field: str | None = None,
                        lookback_days: int = 0,
                        batch_rows: int = DEFAULT_BATCH_ROWS) -> HttpSourceConfig:
        if not connection.get("base_url"):
            raise EngineError("the HTTP source needs source.connection.base_url")
        auth = dict(connection.get("auth") or {})
        if auth.get("type") == "api_key" and not auth.get("value"):
            auth["value"] = connection.get("api_key")
        auth_type = auth.get("type", "none")
        if auth_type not in ("none", "api_key", "bearer", "basic"):
            raise EngineError(f"source.connection.auth.type '{auth_type}' is unknown; use "
                              "api_key, bearer, basic or none")
        paging = dict(connection.get("pagination") or {})
        if paging.get("type", "none") not in ("none", "page", "offset", "cursor", "link"):
            raise EngineError(f"source.connection.pagination.type '{paging.get('type')}' is "
                              "unknown; use page, offset, cursor, link or none")
        retries = connection.get("retries") or {}
        rate = (connection.get("rate_limit") or {}).get("requests_per_second")
        return cls(base_url=str(connection["base_url"]), path=connection.get("path"),
                   params=dict(connection.get("params") or {}),
                   headers={str(k): str(v) for k, v in (connection.get("headers") or {}).items()},
                   records=str(connection.get("records") or ""), auth=auth, pagination=paging,
                   incremental_param=connection.get("incremental_param"),
                   cursor_field=cursor_field, lookback_days=lookback_days,
                   requests_per_second=float(rate) if rate else None,
                   max_retries=int(retries.get("max", 5)),
                   backoff_s=float(retries.get("backoff_s", 0.5)),
                   max_backoff_s=float(retries.get("max_backoff_s", 60)),
                   timeout_s=float(connection.get("timeout_s", 30)), batch_rows=batch_rows)

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(masking.secret_values(self.auth, "auth"))


def dig(body: Any, path: str) -> Any:
    """The value at a dotted path of a JSON body (``""`` is the body itself)."""
    for part in filter(None, path.split(".")):
        if not isinstance(body, Mapping):
            return None
        body = body.get(part)
    return body


def retry_after(header: str | None) -> float | None:
    """Seconds to wait from a Retry-After header: delta seconds or an HTTP date."""
    if not header:
        return None
    try:
        return max(float(header), 0.0)
    except ValueError:
        moment = email.utils.parsedate_to_datetime(header)
        return max(moment.timestamp() - time.time(), 0.0) if moment else None


class HttpSource(WholeStreamSource):
    def __init__(self, config: HttpSourceConfig, stream: str = "records",
                 sleep: Any = time.sleep):
        self.config = config
        self.stream = stream  # what check and discover fetch
        self.sleep = sleep
        self._last_request = 0.0
        # the HTTP library logs each request's URL, query string included
        masking.register(config.secrets)

    # -- one request ----------------------------------------------------------------------
    def _client(self) -> httpx.Client:
        import httpx

        auth = self.config.auth
        headers = dict(self.config.headers)
        basic = None
        if auth.get("type") == "api_key" and not auth.get("query_param"):
            headers[str(auth.get("header", "X-API-Key"))] = str(auth.get("value") or "")
        elif auth.get("type") == "bearer":
            headers["Authorization"] = f"Bearer {auth.get('token') or ''}"
        elif auth.get("type") == "basic":
            basic = httpx.BasicAuth(str(auth.get("username", "")), str(auth.get("password", "")))
        return httpx.Client(headers=headers, auth=basic, timeout=self.config.timeout_s,
                            follow_redirects=True)

    def get(self, client: httpx.Client, url: str, params: Mapping[str, Any]) -> httpx.Response:
        import httpx

        auth = self.config.auth
        params = dict(params)
        if auth.get("type") == "api_key" and auth.get("query_param"):
            params[str(auth["query_param"])] = auth.get("value") or ""
        attempt = 0
        while True:
            self._throttle()
            try:
                # no params at all keeps a next link's own query (httpx would replace it)
                response = client.get(url, params=params or None)
            except httpx.TransportError as exc:
                if attempt >= self.config.max_retries:
                    raise EngineError(f"GET {url} failed after {attempt + 1} attempt(s): "
                                      f"{masking.mask(str(exc)) or type(exc).__name__}; check "
                                      "base_url and the network") from None
                wait = None
            else:
                if response.status_code < 400:
                    return response
                if response.status_code not in RETRY_STATUS or attempt >= self.config.max_retries:
                    hint = ("check the credentials" if response.status_code in (401, 403)
                            else "check path, params and the API's status")
                    raise EngineError(f"GET {url} answered {response.status_code} "
                                      f"{response.reason_phrase} after {attempt + 1} "
                                      f"attempt(s); {hint}")
                wait = retry_after(response.headers.get("Retry-After"))
            backoff = min(self.config.backoff_s * 2 ** attempt, self.config.max_backoff_s)
            self.sleep(min(wait, self.config.max_backoff_s) if wait is not None else backoff)
            attempt += 1

    def _throttle(self) -> None:
        if self.config.requests_per_second:
            gap = 1.0 / self.config.requests_per_second
            wait = self._last_request + gap - time.monotonic()
            if wait > 0:
                self.sleep(wait)
        self._last_request = time.monotonic()

    # -- pages ------------------------------------------------------------------------------
    def url(self, stream: str) -> str:
        path = self.config.path or f"/{stream}"
        return urljoin(self.config.base_url.rstrip("/") + "/", path.lstrip("/"))

    def pages(self, stream: str, bound: Any = None) -> Iterator[list[dict]]:
        """The record lists of every page, following the configured pagination."""
        paging = self.config.pagination
        kind = paging.get("type", "none")
        params: dict[str, Any] = dict(self.config.params)
        if bound is not None and self.config.incremental_param:
            params[self.config.incremental_param] = bound
        url: str | None = self.url(stream)
        page = int(paging.get("start", 1))
        offset = 0
        size = int(paging.get("size") or paging.get("limit") or 0)
        with self._client() as client:
            while url:
                if kind == "page":
                    params[paging.get("page_param", "page")] = page
                    if size:
                        params[paging.get("size_param", "per_page")] = size
                elif kind == "offset":
                    params[paging.get("offset_param", "offset")] = offset
                    params[paging.get("limit_param", "limit")] = size or 100
                response = self.get(client, url, params)
                try:
                    body = response.json()
                except ValueError:
                    raise EngineError(f"GET {url} did not answer JSON (content type "
                                      f"{response.headers.get('content-type')}); check path"
                                      ) from None
                records = dig(body, self.config.records)
                if not isinstance(records, list):
                    raise EngineError(f"GET {url}: no list of records at "
                                      f"'{self.config.records or '(the body)'}'; set "
                                      "source.connection.records to its dotted path")
                yield [r for r in records if isinstance(r, dict)]
                if kind == "page":
                    page += 1
                    url = url if records and (not size or len(records) >= size) else None
                elif kind == "offset":
                    offset += len(records)
                    url = url if records and len(records) >= (size or 100) else None
                elif kind == "cursor":
                    token = dig(body, str(paging.get("next", "next")))
                    if token in (None, "", False):
                        url = None
                    else:
                        params[paging.get("cursor_param", "cursor")] = token
                elif kind == "link":
                    nxt = response.links.get("next", {}).get("url")
                    url, params = split_link(url, nxt) if nxt else (None, {})
                else:
                    url = None

    # -- the interface ----------------------------------------------------------------------
    def check(self) -> CheckStatus:
        """The first page of the job's stream answers with a list of records."""
        try:
            first = next(self.pages(self.stream), [])
        except EngineError as exc:
            return CheckStatus(False, str(exc))
        return CheckStatus(True, f"{self.url(self.stream)} answered; first page has "
                                 f"{len(first)} record(s)")

    def discover(self) -> list[StreamInfo]:
        """The job's stream, with the fields (and JSON types) of its first page."""
        stream = self.stream
        first = next(self.pages(stream), [])
        columns: dict[str, str] = {}
        for record in first:
            for key, value in record.items():
                columns.setdefault(key, type(value).__name__ if value is not None else "null")
        cursors = (self.config.cursor_field,) if self.config.cursor_field else ()
        return [StreamInfo(name=stream, columns=columns, cursor_fields=cursors,
                           supports_incremental=True)]

    def read(self, stream: str, state: Mapping[str, Any] | None) -> Iterator[ReadItem]:
        committed = (state or {}).get("cursor")
        bound = (lookback_bound(committed, self.config.lookback_days)
                 if committed is not None else None)
        newest = committed
        cursor = self.config.cursor_field
        buffer: list[dict] = []
        for records in self.pages(stream, bound):
            if cursor:
                for record in records:
                    newest = later(newest, record.get(cursor))
            buffer.extend(records)
            while len(buffer) >= self.config.batch_rows:  # batches never exceed batch_rows
                yield to_batch(buffer[:self.config.batch_rows])
                buffer = buffer[self.config.batch_rows:]
        if buffer:
            yield to_batch(buffer)
        if cursor:
            yield StateUpdate({"cursor": newest})


def split_link(current: str, link: str) -> tuple[str, dict[str, str]]:
    """A next link as URL and parameters: it carries its own query, the auth is added again."""
    parts = urlsplit(urljoin(current, link))
    return urlunsplit(parts._replace(query="")), dict(parse_qsl(parts.query))


def to_batch(records: list[dict]) -> pa.RecordBatch:
    """Records as text columns, in the order keys first appear; missing keys are null."""
    names = list(dict.fromkeys(k for r in records for k in r))
    return pa.record_batch([pa.array([as_text(r.get(n)) for r in records], pa.string())
                            for n in names], names=names)


def from_job(job: JobSpec, connection: dict) -> HttpSource:
    inc = job.incremental
    return HttpSource(HttpSourceConfig.from_connection(
        connection, cursor_field=inc.cursor_field if inc else None,
        lookback_days=inc.lookback_days if inc else 0,
        batch_rows=job.batch_size or DEFAULT_BATCH_ROWS),
        stream=job.source_object or job.contract.name)


def from_recipe(root: Path, recipe: ConnectorRecipe, connection: dict) -> HttpSource:
    objects = [o.name for o in recipe.objects]
    return HttpSource(HttpSourceConfig.from_connection(connection),
                      stream=objects[0] if objects else "records")
