"""The one chokepoint every request to amoCRM goes through: :func:`send` (one request: the rate limiter,
the token, timeouts, the log line), used by :meth:`Transport._request` (the API, with retries) and by the
OAuth endpoints (``api.oauth``).

It owns the account host, timeouts, Bearer tokens, the installation-wide rate limiter, retries, typed errors,
amoCRM's request id and redaction. What it needs of the connected account (the host and a token that is
refreshed before it expires, a refresh after a 401, where to record a state change) it asks an
:class:`AccountAccess`, which ``console.amocrm.account`` provides: this package knows nothing of our models.

Retry policy (amoCRM's limits and error answers: https://www.amocrm.ru/developers/content/api/recommendations):
- 429: wait ``retry_after`` when amoCRM gives one (raise ``RateLimited`` if it is longer than
  ``retry_after_cap``), else exponential backoff with jitter; at most ``max_retries`` times.
- 5xx, timeouts, dropped connections: retried with backoff for reads, updates, links and deletes. A create
  (``create=True``) is never re-sent once it may have reached amoCRM: a read timeout, a dropped connection
  or a 5xx raise ``UnknownOutcome`` and the caller looks the entity up first. A connection that could not be
  opened at all is retried for every method (nothing was sent).
- 401: one refresh, then one repeat; a second 401 raises ``AuthError``. A 401 on a long-lived token, a 402,
  a 403 with an HTML body or a revoked refresh token open the circuit (``CircuitOpen``) through
  :meth:`AccountAccess.circuit_open`; while it is open, :meth:`AccountAccess.credentials` raises before
  any HTTP.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
from django.conf import settings
from urllib3.exceptions import ConnectTimeoutError

from console.amocrm.api.errors import (
    AmoCRMError,
    AuthError,
    CircuitOpen,
    RateLimited,
    TransientError,
    UnknownOutcome,
    error_from_response,
)
from console.amocrm.api.exchanges import ExchangeLog
from console.amocrm.api.ratelimit import RateLimiter
from console.amocrm.api.redaction import redact

logger = logging.getLogger(__name__)

BATCH_SIZE = 50  # amoCRM recommends at most 50 entities per add/update request
PAGE_LIMIT = 250  # the most amoCRM returns per page
REVOKED_LONG_LIVED = "The long-lived token expired or was revoked: generate a new one"
DEFAULT_HEADERS = {"User-Agent": "furniture-rental-console/1.0", "Accept": "application/json"}


@dataclass(frozen=True)
class Credentials:
    """What one request is sent with: the account host and the access token."""

    base_url: str
    access_token: str
    long_lived: bool = False


class AccountAccess(Protocol):
    """The connected account as the transport sees it (implemented in ``console.amocrm.account.access``)."""

    def credentials(self) -> Credentials:
        """The current host and token, refreshed first when about to expire; ``CircuitOpen`` when no call
        may go out (not connected, blocked, unpaid, revoked)."""
        ...

    def refresh(self, *, rejected_token: str) -> Credentials:
        """New credentials after a 401 to ``rejected_token`` (another worker may have refreshed already)."""
        ...

    def circuit_open(self, error: CircuitOpen) -> None:
        """Record that the account stopped accepting calls (``error.state``) and why."""
        ...

    def auth_failed(self, title: str) -> None:
        """Record a 401 that a refresh did not cure."""
        ...

    def succeeded(self) -> None:
        """Record a successful call (may be throttled by the implementation)."""
        ...

    def secrets(self) -> list[str]:
        """Every secret that must never appear in a stored excerpt or a log line."""
        ...


def embedded(body: Any, key: str) -> list[dict[str, Any]]:
    """``body["_embedded"][key]`` when it is a list, else ``[]`` (amoCRM's HAL answers)."""
    if not isinstance(body, dict):
        return []
    items = (body.get("_embedded") or {}).get(key)
    return items if isinstance(items, list) else []


def no_answer(exc: Exception, *, method: str, path: str, create: bool, hidden: list[str]) -> TransientError:
    """A request that got no answer as a typed error (``UnknownOutcome``: a create may have been carried out).
    Refused or timed out while connecting, the request never left; anything else may have arrived."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    not_sent = isinstance(exc, requests.ConnectTimeout) or isinstance(reason, ConnectTimeoutError)
    error = TransientError(
        title=f"AmoCRM did not answer ({type(exc).__name__})",
        method=method,
        path=path,
        excerpt=redact(str(exc), hidden)[:300],
    )
    return unknown_outcome(error) if create and not not_sent else error


def unknown_outcome(error: AmoCRMError) -> UnknownOutcome:
    return UnknownOutcome(
        method=error.method,
        path=error.path,
        status=error.status,
        request_id=error.request_id,
        excerpt=error.excerpt,
    )


def send(
    method: str,
    url: str,
    *,
    limiter: RateLimiter,
    hidden: list[str],
    session: requests.Session | None = None,
    token: str = "",
    headers: dict[str, str] | None = None,
    params: dict[str, Any] | None = None,
    json: Any = None,
    create: bool = False,
    timeout: tuple[float, float] | None = None,
) -> requests.Response:
    """Send one request to amoCRM and return its answer, whatever its status: the rate limiter's turn, the
    Bearer ``token`` when given, the timeouts, one log line. No answer at all raises a ``TransientError``
    (see :func:`no_answer`), redacted of ``hidden``. API calls (:class:`Transport`) and the OAuth endpoints
    (``api.oauth``) both send through here."""
    path = urlsplit(url).path
    sent_headers = {**DEFAULT_HEADERS, **(headers or {})}
    if token:
        sent_headers["Authorization"] = f"Bearer {token}"
    own = session is None  # a request on its own (the OAuth endpoints): its session is closed after it
    session = session or requests.Session()
    try:
        with limiter.turn():  # the request's place in the rate limit, held until its answer
            started = time.monotonic()
            response = session.request(
                method, url, params=params, json=json, headers=sent_headers, timeout=timeout or timeouts()
            )
    except requests.RequestException as exc:
        raise no_answer(exc, method=method, path=path, create=create, hidden=hidden) from None
    finally:
        if own:
            session.close()
    elapsed = (time.monotonic() - started) * 1000
    request_id = response.headers.get("X-Request-Id", "")
    logger.debug(
        "AmoCRM %s %s -> %s in %.0f ms (request id %s)",
        method,
        path,
        response.status_code,
        elapsed,
        request_id,
    )
    return response


def refusal(response: requests.Response, *, method: str, path: str, hidden: list[str]) -> AmoCRMError:
    """amoCRM's refusal (a status of 300 or more) as a typed error, redacted of ``hidden``."""
    return error_from_response(
        status=response.status_code,
        text=response.text,
        content_type=response.headers.get("Content-Type", ""),
        request_id=response.headers.get("X-Request-Id", ""),
        method=method,
        path=path,
        redact_fn=lambda text: redact(text, hidden),
    )


def post_json_elsewhere(url: str, body: Any, *, timeout: float) -> int:
    """POST ``body`` as JSON to ``url``, a server that is not amoCRM (the alert URL of a chat tool): no token,
    no rate limiter, no retry; returns the answer's status. Raises ``OSError`` (``requests``' errors are
    ``OSError``s) when there is no answer, its text naming neither the URL nor the body: the URL may carry
    a secret."""
    try:
        response = requests.post(url, json=body, headers=DEFAULT_HEADERS, timeout=timeout)
    except requests.RequestException as exc:
        raise OSError(f"no answer ({type(exc).__name__})") from None
    response.close()
    return response.status_code


def timeouts() -> tuple[float, float]:
    """(connect, read) seconds of every request (``AMOCRM_CONNECT_TIMEOUT``, ``AMOCRM_READ_TIMEOUT``)."""
    return (settings.AMOCRM_CONNECT_TIMEOUT, settings.AMOCRM_READ_TIMEOUT)


class Transport:
    """Requests to the connected account. One instance per task or unit of work; ``calls`` counts requests;
    ``exchanges``, when given, keeps each request and its answer (redacted, capped) for support.

    Not thread-safe (one ``requests.Session``); use one per thread.
    """

    def __init__(
        self,
        access: AccountAccess,
        *,
        limiter: RateLimiter,
        max_retries: int = 3,
        backoff_base: float = 1.0,
        backoff_cap: float = 20.0,
        retry_after_cap: float = 30.0,
        exchanges: ExchangeLog | None = None,
    ) -> None:
        self.access = access
        self.exchanges = exchanges
        self.limiter = limiter
        self.session = requests.Session()
        self.timeout = timeouts()
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.retry_after_cap = retry_after_cap
        self.calls = 0

    @staticmethod
    def _url(base_url: str, path: str) -> str:
        """An absolute URL on the account host; ``_links`` URLs keep only path and query (never the host)."""
        if path.startswith(("http://", "https://")):
            parts = urlsplit(path)
            path = parts.path + (f"?{parts.query}" if parts.query else "")
        if not path.startswith("/"):
            path = f"/api/v4/{path}"
        return base_url.rstrip("/") + path

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with "equal jitter": half the step fixed, half random (0.5-1 s, 1-2 s, ...)."""
        step = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
        return step / 2 + random.uniform(0, step / 2)

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        create: bool = False,
    ) -> Any:
        """Send one API request and return the decoded body (``None`` for 204/empty): :func:`send` in a small
        loop that retries, refreshes the token once after a 401, and raises the rest (see the module doc)."""
        refreshed, attempt = False, 0
        credentials = self.access.credentials()
        while True:
            url = self._url(credentials.base_url, path)
            short = urlsplit(url).path
            self.calls += 1
            hidden = self.access.secrets()
            try:
                response = send(
                    method, url, limiter=self.limiter, hidden=hidden, session=self.session,
                    timeout=self.timeout, token=credentials.access_token,
                    params=params, json=json, create=create,
                )  # fmt: skip
            except TransientError as error:
                self._record(method, short, params, json, hidden, answer=f"{error.title}\n{error.excerpt}")
                attempt += 1
                if isinstance(error, UnknownOutcome) or attempt > self.max_retries:
                    raise
                self._wait(self._backoff(attempt), method, short, error.title, attempt)
            else:
                self._record(method, short, params, json, hidden, response=response)
                if response.status_code < 300:
                    return self._decode(response, method, short, create)
                if response.status_code == 401 and not credentials.long_lived and not refreshed:
                    refreshed = True
                    credentials = self.access.refresh(rejected_token=credentials.access_token)
                    continue
                error = self._refused(response, credentials, method, short, hidden)
                attempt += 1
                self._wait(self._retry_delay(error, attempt, create), method, short, error.title, attempt)
            credentials = self.access.credentials()

    def _record(
        self, method: str, path: str, params: Any, sent: Any, hidden: list[str], *,
        response: requests.Response | None = None, answer: str = "",
    ) -> None:  # fmt: skip
        """Keep one request and amoCRM's ``response`` (or, when none came, why: ``answer``) when this
        transport collects them (``exchanges``)."""
        if self.exchanges is None:
            return
        self.exchanges.record(
            method=method,
            path=path,
            params=params,
            sent=sent,
            status=response.status_code if response is not None else None,
            answer=response.text if response is not None else answer,
            request_id=response.headers.get("X-Request-Id", "") if response is not None else "",
            hidden=hidden,
        )

    def _refused(
        self, response: requests.Response, credentials: Credentials, method: str, path: str, hidden: list[str]
    ) -> AmoCRMError:
        """amoCRM's refusal as an error to retry, or raised: a 401 on a long-lived token, a closed account
        (the circuit opens), a 401 a refresh did not cure."""
        error = refusal(response, method=method, path=path, hidden=hidden)
        if response.status_code == 401 and credentials.long_lived:
            error = CircuitOpen(
                title=REVOKED_LONG_LIVED,
                state="revoked",
                method=method,
                path=path,
                status=error.status,
                request_id=error.request_id,
                excerpt=error.excerpt,
            )
        if isinstance(error, CircuitOpen):
            self.access.circuit_open(error)
            raise error
        if isinstance(error, AuthError):
            self.access.auth_failed(error.title)
            raise error
        return error

    def _retry_delay(self, error: AmoCRMError, attempt: int, create: bool) -> float:
        """How long to wait before repeating a request that got ``error``; raises when it must not repeat."""
        if isinstance(error, RateLimited):
            wait = error.retry_after if error.retry_after is not None else self._backoff(attempt)
            if attempt > self.max_retries or wait > self.retry_after_cap:
                raise error
            return wait
        if isinstance(error, TransientError):
            if create:
                raise unknown_outcome(error)
            if attempt > self.max_retries:
                raise error
            return self._backoff(attempt)
        raise error

    @staticmethod
    def _wait(delay: float, method: str, path: str, why: str, attempt: int) -> None:
        """amoCRM asks clients to back off before repeating a refused or failed request."""
        logger.warning("AmoCRM %s %s: %s; retry %s in %.2fs", method, path, why, attempt, delay)
        time.sleep(delay)

    def _decode(self, response: requests.Response, method: str, path: str, create: bool) -> Any:
        self.access.succeeded()
        if response.status_code == 204 or not response.content.strip():
            return None
        try:
            return response.json()
        except ValueError:
            error = TransientError(
                title="AmoCRM answered with a body that is not JSON",
                method=method,
                path=path,
                status=response.status_code,
                request_id=response.headers.get("X-Request-Id", ""),
                excerpt=redact(response.text[:300], self.access.secrets()),
            )
            raise (unknown_outcome(error) if create else error) from None

    def _paginate(
        self, path: str, key: str, params: dict[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every item of a list endpoint, following ``_links.next`` until it is absent or a page is 204."""
        next_path: str | None = path
        next_params = params
        while next_path:
            body = self._request("GET", next_path, params=next_params)
            yield from embedded(body, key)
            links = (body.get("_links") or {}) if isinstance(body, dict) else {}
            href = (links.get("next") or {}).get("href")
            next_path, next_params = (href, None) if href else (None, None)

    def _create_batches(
        self, path: str, key: str, items: list[dict[str, Any]], batch: int = BATCH_SIZE
    ) -> list[int]:
        """POST ``items`` in batches; the created ids in input order, matched by the echoed ``request_id``."""
        ids: list[int] = []
        for start in range(0, len(items), batch):
            chunk = [
                {**item, "request_id": str(item.get("request_id") or start + i)}
                for i, item in enumerate(items[start : start + batch])
            ]
            try:
                body = self._request("POST", path, json=chunk, create=True)
            except UnknownOutcome as exc:
                exc.created_ids = list(ids)
                raise
            created = embedded(body, key)
            by_request = {str(e.get("request_id")): e.get("id") for e in created}
            for i, item in enumerate(chunk):
                ids.append(
                    by_request.get(item["request_id"]) or (created[i].get("id") if i < len(created) else None)
                )
        return ids

    def _update_batches(
        self, path: str, key: str, items: list[dict[str, Any]], batch: int = BATCH_SIZE
    ) -> list[dict[str, Any]]:
        """PATCH ``items`` (each carrying its ``id``) in batches; the entities as amoCRM echoes them."""
        result: list[dict[str, Any]] = []
        for start in range(0, len(items), batch):
            body = self._request("PATCH", path, json=items[start : start + batch])
            result.extend(embedded(body, key))
        return result
