"""The one HTTP client for amoCRM's REST API v4.

One small method per endpoint, each starting with a comment naming its section of
/work/shared/amocrm-api-v4.md, and one chokepoint, :meth:`AmoCRMClient._request`, that owns the base URL,
timeouts, Bearer tokens (refresh before expiry and once after a 401), the installation-wide rate limiter,
retries, typed errors, the request id, redaction and the circuit breaker.

Retry policy:
- 429: wait ``retry_after`` when amoCRM gives one (raise ``RateLimited`` if it is longer than
  ``retry_after_cap``), else exponential backoff with full jitter; at most ``max_retries`` times.
- 5xx, timeouts, dropped connections: retried with backoff for reads, updates, links and deletes. A create
  (``create=True``) is never re-sent once it may have reached amoCRM: a read timeout, a dropped connection
  or a 5xx raise ``UnknownOutcome`` and the caller looks the entity up first. A connection that could not be
  opened at all is retried for every method (nothing was sent).
- 401: one refresh under the row lock, then one repeat; a second 401 raises ``AuthError``.
- 402, 403 with an HTML body, a revoked refresh token, a 401 on a long-lived token: the connection's state
  changes (unpaid / blocked / revoked) and ``CircuitOpen`` is raised. While the state is not ``connected``
  every call raises ``CircuitOpen`` before any HTTP.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from urllib3.exceptions import ConnectTimeoutError

from console.amocrm import oauth
from console.amocrm.connection import connection_record_error, connection_record_success, connection_set_state
from console.amocrm.errors import (
    AmoCRMError,
    AuthError,
    CircuitOpen,
    NotFound,
    RateLimited,
    TransientError,
    UnknownOutcome,
    error_from_response,
)
from console.amocrm.models import AmoConnection
from console.amocrm.ratelimit import RateLimiter, get_rate_limiter
from console.amocrm.redaction import redact

logger = logging.getLogger(__name__)

BATCH_SIZE = 50  # amoCRM recommends 50 entities per add/update request (§5)
PAGE_LIMIT = 250  # the most amoCRM returns per page (§1)
ENTITIES = ("leads", "contacts", "companies", "customers")
_CF_OWNER = re.compile(r"^(leads|contacts|companies|customers|catalogs/\d+)$")
# Record last_success_at at most this often (seconds) to keep calls free of writes.
SUCCESS_WRITE_EVERY = 30.0


def _embedded(body: Any, key: str) -> list[dict[str, Any]]:
    if not isinstance(body, dict):
        return []
    items = (body.get("_embedded") or {}).get(key)
    return items if isinstance(items, list) else []


def _entity(entity: str) -> str:
    if entity not in ENTITIES:
        raise ValueError(f"unknown amoCRM entity {entity!r}")
    return entity


def phone_digits_variants(phone: str) -> list[str]:
    """Search strings for a phone (§7): the last 10 digits, then ``+7``/``8`` forms, then the raw digits."""
    digits = re.sub(r"\D", "", phone or "")
    if not digits:
        return []
    if len(digits) == 11 and digits[0] in "78":
        tail = digits[1:]
        return [tail, f"+7{tail}", f"8{tail}", f"7{tail}"]
    if len(digits) == 10:
        return [digits, f"+7{digits}", f"8{digits}"]
    return [digits]


def _phone_key(value: str) -> str:
    digits = re.sub(r"\D", "", value or "")
    return digits[-10:] if len(digits) >= 10 else digits


def _cf_values(entity: dict[str, Any], *, code: str | None = None, field_id: int | None = None) -> list[str]:
    values = []
    for field in entity.get("custom_fields_values") or []:
        if (code and field.get("field_code") == code) or (field_id and field.get("field_id") == field_id):
            values.extend(str(v.get("value", "")) for v in field.get("values") or [])
    return values


def _amo_number(value: Decimal | int | float | str) -> int | float:
    number = Decimal(str(value))
    return int(number) if number == number.to_integral_value() else float(number)


class AmoCRMClient:
    """Calls to the connected account. One instance per task/unit of work; ``calls`` counts HTTP requests.

    Not thread-safe (one ``requests.Session``); use one client per thread.
    """

    def __init__(
        self,
        connection: AmoConnection | None = None,
        *,
        limiter: RateLimiter | None = None,
        max_retries: int = 3,
        backoff_base: float = 1.0,
        backoff_cap: float = 20.0,
        retry_after_cap: float = 30.0,
    ) -> None:
        self.connection = connection or AmoConnection.get_solo()
        self.limiter = limiter or get_rate_limiter()
        self.session = requests.Session()
        self.session.headers.update(
            {"User-Agent": "furniture-rental-console/1.0", "Accept": "application/json"}
        )
        self.timeout = (settings.AMOCRM_CONNECT_TIMEOUT, settings.AMOCRM_READ_TIMEOUT)
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.retry_after_cap = retry_after_cap
        self.calls = 0
        self._success_written = 0.0

    # --- chokepoint ---------------------------------------------------------------------------------------

    def _secrets(self) -> list[str]:
        c = self.connection
        return [c.access_token, c.refresh_token, c.client_secret, c.webhook_secret]

    def _redact(self, text: str) -> str:
        return redact(text, self._secrets())

    def _reload(self) -> None:
        self.connection.refresh_from_db(
            fields=[
                "state",
                "state_detail",
                "access_token",
                "refresh_token",
                "expires_at",
                "long_lived",
                "base_url",
            ]
        )

    def _ready(self) -> None:
        """Re-read the row (another worker may have refreshed or tripped the circuit); refresh if expiring."""
        self._reload()
        c = self.connection
        if c.state != AmoConnection.State.CONNECTED:
            raise CircuitOpen(title=c.state_detail or "AmoCRM is not connected", state=c.state)
        if not c.access_token:
            raise CircuitOpen(title="AmoCRM is not connected", state=AmoConnection.State.NOT_CONNECTED)
        if not c.long_lived and c.token_expires_within(oauth.REFRESH_MARGIN):
            self.connection = oauth.token_refresh(connection_id=c.pk, expected_access_token=c.access_token)

    def _url(self, path: str) -> str:
        """An absolute URL on the account host; ``_links`` URLs keep only path and query (never the host)."""
        if path.startswith(("http://", "https://")):
            parts = urlsplit(path)
            path = parts.path + (f"?{parts.query}" if parts.query else "")
        if not path.startswith("/"):
            path = f"/api/v4/{path}"
        return self.connection.base_url.rstrip("/") + path

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with "equal jitter": half the step fixed, half random (0.5-1 s, 1-2 s, ...)."""
        step = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
        return step / 2 + random.uniform(0, step / 2)

    def _trip(self, error: CircuitOpen) -> CircuitOpen:
        connection_set_state(connection_id=self.connection.pk, state=error.state, detail=error.title)
        self.connection.state = error.state
        return error

    def _success(self) -> None:
        now = time.monotonic()
        if now - self._success_written > SUCCESS_WRITE_EVERY:
            connection_record_success(connection_id=self.connection.pk)
            self._success_written = now

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        create: bool = False,
    ) -> Any:
        """Send one API request and return the decoded body (``None`` for 204/empty). See the module doc."""
        url = self._url(path)
        short = urlsplit(url).path
        refreshed = False
        attempt = 0
        while True:
            self._ready()
            self.limiter.acquire()
            self.calls += 1
            started = time.monotonic()
            try:
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    json=json,
                    headers={"Authorization": f"Bearer {self.connection.access_token}"},
                    timeout=self.timeout,
                )
            except requests.RequestException as exc:
                error = self._transport_error(exc, method, short, create)
                attempt += 1
                if isinstance(error, UnknownOutcome) or attempt > self.max_retries:
                    raise error from None
                delay = self._backoff(attempt)
                logger.warning(
                    "AmoCRM %s %s: %s; retry %s in %.2fs", method, short, error.title, attempt, delay
                )
                time.sleep(delay)
                continue
            status = response.status_code
            request_id = response.headers.get("X-Request-Id", "")
            logger.debug(
                "AmoCRM %s %s -> %s in %.0f ms (request id %s)",
                method,
                short,
                status,
                (time.monotonic() - started) * 1000,
                request_id,
            )
            if status < 300:
                return self._decode(response, method, short, create)
            error = error_from_response(
                status=status,
                text=response.text,
                content_type=response.headers.get("Content-Type", ""),
                request_id=request_id,
                method=method,
                path=short,
                redact_fn=self._redact,
            )
            if status == 401 and not self.connection.long_lived and not refreshed:
                refreshed = True
                self.connection = oauth.token_refresh(
                    connection_id=self.connection.pk, expected_access_token=self.connection.access_token
                )
                continue
            if status == 401 and self.connection.long_lived:
                raise self._trip(
                    CircuitOpen(
                        title="The long-lived token expired or was revoked: generate a new one",
                        state=AmoConnection.State.REVOKED,
                        method=method,
                        path=short,
                        status=status,
                        request_id=request_id,
                        excerpt=error.excerpt,
                    )
                )
            if isinstance(error, CircuitOpen):
                raise self._trip(error)
            if isinstance(error, AuthError):
                connection_record_error(connection_id=self.connection.pk, text=error.title)
                raise error
            if isinstance(error, RateLimited):
                attempt += 1
                wait = error.retry_after if error.retry_after is not None else self._backoff(attempt)
                if attempt > self.max_retries or wait > self.retry_after_cap:
                    raise error
                logger.warning("AmoCRM %s %s: 429, waiting %.2fs (retry %s)", method, short, wait, attempt)
                time.sleep(wait)
                continue
            if isinstance(error, TransientError):
                if create:
                    raise self._unknown(error)
                attempt += 1
                if attempt > self.max_retries:
                    raise error
                delay = self._backoff(attempt)
                logger.warning("AmoCRM %s %s: %s; retry %s in %.2fs", method, short, status, attempt, delay)
                time.sleep(delay)
                continue
            raise error

    @staticmethod
    def _unknown(error: AmoCRMError) -> UnknownOutcome:
        return UnknownOutcome(
            method=error.method,
            path=error.path,
            status=error.status,
            request_id=error.request_id,
            excerpt=error.excerpt,
        )

    def _transport_error(self, exc: Exception, method: str, path: str, create: bool) -> TransientError:
        """A timeout or a connection failure as a typed error (``UnknownOutcome``: a create may exist)."""
        # Refused or timed out while connecting: the request never left. Anything else may have arrived.
        reason = getattr(exc.args[0], "reason", None) if exc.args else None
        not_sent = isinstance(exc, requests.ConnectTimeout) or isinstance(reason, ConnectTimeoutError)
        error = TransientError(
            title=f"AmoCRM did not answer ({type(exc).__name__})",
            method=method,
            path=path,
            excerpt=self._redact(str(exc))[:300],
        )
        if create and not not_sent:
            return self._unknown(error)
        return error

    def _decode(self, response: requests.Response, method: str, path: str, create: bool) -> Any:
        self._success()
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
                excerpt=self._redact(response.text[:300]),
            )
            raise (self._unknown(error) if create else error) from None

    def _paginate(
        self, path: str, key: str, params: dict[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every item of a list endpoint, following ``_links.next`` until it is absent or a page is 204."""
        next_path: str | None = path
        next_params = params
        while next_path:
            body = self._request("GET", next_path, params=next_params)
            yield from _embedded(body, key)
            href = (
                ((body or {}).get("_links") or {}).get("next", {}).get("href")
                if isinstance(body, dict)
                else None
            )
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
            created = _embedded(body, key)
            by_request = {str(e.get("request_id")): e.get("id") for e in created}
            for i, item in enumerate(chunk):
                ids.append(
                    by_request.get(item["request_id"]) or (created[i].get("id") if i < len(created) else None)
                )
        return ids

    def _update_batches(self, path: str, key: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = []
        for start in range(0, len(items), BATCH_SIZE):
            body = self._request("PATCH", path, json=items[start : start + BATCH_SIZE])
            result.extend(_embedded(body, key))
        return result

    # --- account, pipelines, custom fields ---------------------------------------------------------------

    def get_account(self, with_: Iterable[str] = ()) -> dict[str, Any]:
        # §3.9 Account: GET /api/v4/account
        params = {"with": ",".join(with_)} if with_ else None
        return self._request("GET", "/api/v4/account", params=params) or {}

    def list_pipelines(self) -> list[dict[str, Any]]:
        # §3.8 Pipelines: GET /api/v4/leads/pipelines (statuses in _embedded.statuses)
        return list(self._paginate("/api/v4/leads/pipelines", "pipelines"))

    def list_custom_fields(self, entity: str) -> list[dict[str, Any]]:
        # §3.7 Custom fields: GET /api/v4/{entity}/custom_fields (entity may be "catalogs/{id}", §3.6)
        if not _CF_OWNER.match(entity):
            raise ValueError(f"unknown custom-field owner {entity!r}")
        return list(self._paginate(f"/api/v4/{entity}/custom_fields", "custom_fields", {"limit": PAGE_LIMIT}))

    def create_custom_fields(self, entity: str, fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # §3.7 Custom fields: POST /api/v4/{entity}/custom_fields (array)
        if not _CF_OWNER.match(entity):
            raise ValueError(f"unknown custom-field owner {entity!r}")
        created: list[dict[str, Any]] = []
        for start in range(0, len(fields), BATCH_SIZE):
            body = self._request(
                "POST",
                f"/api/v4/{entity}/custom_fields",
                json=fields[start : start + BATCH_SIZE],
                create=True,
            )
            created.extend(_embedded(body, "custom_fields"))
        return created

    def update_custom_fields(self, entity: str, fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # §3.7 Custom fields: PATCH /api/v4/{entity}/custom_fields (array, items carry id)
        if not _CF_OWNER.match(entity):
            raise ValueError(f"unknown custom-field owner {entity!r}")
        return self._update_batches(f"/api/v4/{entity}/custom_fields", "custom_fields", fields)

    # --- contacts and companies --------------------------------------------------------------------------

    def search(self, entity: str, query: str, *, limit: int = 50) -> list[dict[str, Any]]:
        # §7 Duplicates / §3.2: GET /api/v4/{entity}?query=... (full text over filled fields; 204 = none)
        body = self._request("GET", f"/api/v4/{_entity(entity)}", params={"query": query, "limit": limit})
        return _embedded(body, _entity(entity))

    def find_contact(self, phone: str | None = None, email: str | None = None) -> dict[str, Any] | None:
        # §7 Duplicates: GET /api/v4/contacts?query=..., confirmed in PHONE/EMAIL values (§3.3, §3.7)
        """The contact whose PHONE (any of the +7/8/10-digit forms) or EMAIL matches, else None.

        The phone is tried first; among several confirmed matches the oldest (lowest id) wins.
        """
        key = _phone_key(phone or "")
        for query in phone_digits_variants(phone or ""):
            hits = [
                c
                for c in self.search("contacts", query)
                if key in {_phone_key(v) for v in _cf_values(c, code="PHONE")}
            ]
            if hits:
                return min(hits, key=lambda c: c["id"])
        if email and email.strip():
            wanted = email.strip().casefold()
            hits = [
                c
                for c in self.search("contacts", email.strip())
                if wanted in {v.strip().casefold() for v in _cf_values(c, code="EMAIL")}
            ]
            if hits:
                return min(hits, key=lambda c: c["id"])
        return None

    def create_contacts(self, contacts: list[dict[str, Any]]) -> list[int]:
        # §3.3 Contacts: POST /api/v4/contacts (array, batches of 50)
        return self._create_batches("/api/v4/contacts", "contacts", contacts)

    def update_contacts(self, contacts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # §3.3 Contacts: PATCH /api/v4/contacts (array, items carry id)
        return self._update_batches("/api/v4/contacts", "contacts", contacts)

    def find_company(self, inn: str | None = None, name: str | None = None) -> dict[str, Any] | None:
        # §7 Duplicates: GET /api/v4/companies?query=..., INN confirmed in a custom field value, then name
        """The company with this INN in any custom field, else with exactly this name (case-insensitive)."""
        if inn and inn.strip():
            wanted = re.sub(r"\D", "", inn)
            hits = [
                c
                for c in self.search("companies", wanted)
                if any(
                    re.sub(r"\D", "", str(v.get("value", ""))) == wanted
                    for f in c.get("custom_fields_values") or []
                    for v in f.get("values") or []
                )
            ]
            if hits:
                return min(hits, key=lambda c: c["id"])
        if name and name.strip():
            wanted_name = " ".join(name.split()).casefold()
            hits = [
                c
                for c in self.search("companies", " ".join(name.split()))
                if " ".join(str(c.get("name", "")).split()).casefold() == wanted_name
            ]
            if hits:
                return min(hits, key=lambda c: c["id"])
        return None

    def create_companies(self, companies: list[dict[str, Any]]) -> list[int]:
        # §3.3 Companies: POST /api/v4/companies (array, batches of 50)
        return self._create_batches("/api/v4/companies", "companies", companies)

    def update_companies(self, companies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # §3.3 Companies: PATCH /api/v4/companies (array, items carry id)
        return self._update_batches("/api/v4/companies", "companies", companies)

    # --- leads -------------------------------------------------------------------------------------------

    def create_leads(self, leads: list[dict[str, Any]]) -> list[int]:
        # §3.2 Leads: POST /api/v4/leads (array, batches of 50; ids matched by the echoed request_id)
        return self._create_batches("/api/v4/leads", "leads", leads)

    def update_leads(self, leads: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # §3.2 Leads: PATCH /api/v4/leads (array, items carry id) -> [{id, updated_at}]
        return self._update_batches("/api/v4/leads", "leads", leads)

    def update_lead(self, lead_id: int, data: dict[str, Any]) -> dict[str, Any]:
        # §3.2 Leads: PATCH /api/v4/leads/{id} (one object) -> {id, updated_at} at the top level
        body = self._request("PATCH", f"/api/v4/leads/{int(lead_id)}", json=data) or {}
        embedded = _embedded(body, "leads")
        return embedded[0] if embedded and "id" not in body else body

    def create_leads_complex(self, leads: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # §3.2 Leads: POST /api/v4/leads/complex (≤ 50 per request)
        # -> [{id, contact_id, company_id, request_id, merged}]
        result: list[dict[str, Any]] = []
        for start in range(0, len(leads), BATCH_SIZE):
            chunk = [
                {**lead, "request_id": str(lead.get("request_id") or start + i)}
                for i, lead in enumerate(leads[start : start + BATCH_SIZE])
            ]
            try:
                body = self._request("POST", "/api/v4/leads/complex", json=chunk, create=True)
            except UnknownOutcome as exc:
                exc.created_ids = [r["id"] for r in result if r.get("id")]
                raise
            result.extend(body if isinstance(body, list) else _embedded(body, "leads"))
        return result

    def get_lead(self, lead_id: int, with_: Iterable[str] = ()) -> dict[str, Any] | None:
        # §3.2 Leads: GET /api/v4/leads/{id}?with=... (204 or 404 = no such lead -> None)
        params = {"with": ",".join(with_)} if with_ else None
        try:
            return self._request("GET", f"/api/v4/leads/{int(lead_id)}", params=params)
        except NotFound:
            return None

    def iter_leads(
        self,
        updated_since: Any = None,
        *,
        pipeline_id: int | None = None,
        with_: Iterable[str] = (),
        limit: int = PAGE_LIMIT,
    ) -> Iterator[dict[str, Any]]:
        # §3.2 Leads: GET /api/v4/leads?filter[updated_at][from]=...&order[updated_at]=asc (paginated)
        """Leads updated at or after ``updated_since`` (aware datetime or Unix seconds), oldest first."""
        params: dict[str, Any] = {"limit": min(limit, PAGE_LIMIT), "order[updated_at]": "asc"}
        if updated_since is not None:
            since = updated_since if isinstance(updated_since, (int, float)) else updated_since.timestamp()
            params["filter[updated_at][from]"] = int(since)
        if pipeline_id:
            params["filter[pipeline_id][]"] = [pipeline_id]
        if with_:
            params["with"] = ",".join(with_)
        return self._paginate("/api/v4/leads", "leads", params)

    def find_leads_by_custom_field(self, field_id: int, value: str) -> list[dict[str, Any]]:
        # §7 Duplicates / §3.2: GET /api/v4/leads?query=..., confirmed in custom_fields_values[field_id]
        """Leads whose custom field ``field_id`` has exactly ``value`` (the search matches any field)."""
        found = []
        for lead in self._paginate("/api/v4/leads", "leads", {"query": str(value), "limit": PAGE_LIMIT}):
            if str(value) in _cf_values(lead, field_id=int(field_id)):
                found.append(lead)
        return found

    # --- notes -------------------------------------------------------------------------------------------

    def add_notes(self, entity: str, notes: list[dict[str, Any]]) -> list[int]:
        # §3.4 Notes: POST /api/v4/{entity}/notes (array, items carry entity_id)
        return self._create_batches(f"/api/v4/{_entity(entity)}/notes", "notes", notes)

    # --- links -------------------------------------------------------------------------------------------

    def link(self, entity: str, entity_id: int, links: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # §3.5 Links: POST /api/v4/{entity}/{id}/link  [{to_entity_id, to_entity_type, metadata}]
        body = self._request("POST", f"/api/v4/{_entity(entity)}/{int(entity_id)}/link", json=links)
        return _embedded(body, "links")

    def unlink(self, entity: str, entity_id: int, links: list[dict[str, Any]]) -> None:
        # §3.5 Links: POST /api/v4/{entity}/{id}/unlink -> 204
        self._request("POST", f"/api/v4/{_entity(entity)}/{int(entity_id)}/unlink", json=links)

    def link_many(self, entity: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # §3.5 Links (mass): POST /api/v4/{entity}/link
        # [{entity_id, entity_type, to_entity_id, to_entity_type, metadata}]
        result: list[dict[str, Any]] = []
        for start in range(0, len(items), BATCH_SIZE):
            body = self._request(
                "POST", f"/api/v4/{_entity(entity)}/link", json=items[start : start + BATCH_SIZE]
            )
            result.extend(_embedded(body, "links"))
        return result

    def unlink_many(self, entity: str, items: list[dict[str, Any]]) -> None:
        # §3.5 Links (mass): POST /api/v4/{entity}/unlink
        for start in range(0, len(items), BATCH_SIZE):
            self._request("POST", f"/api/v4/{_entity(entity)}/unlink", json=items[start : start + BATCH_SIZE])

    def get_links(self, entity: str, entity_id: int) -> list[dict[str, Any]]:
        # §3.5 Links: GET /api/v4/{entity}/{id}/links
        return list(self._paginate(f"/api/v4/{_entity(entity)}/{int(entity_id)}/links", "links"))

    # --- catalogs (products) -----------------------------------------------------------------------------

    def list_catalogs(self) -> list[dict[str, Any]]:
        # §3.6 Catalogs: GET /api/v4/catalogs
        return list(self._paginate("/api/v4/catalogs", "catalogs"))

    def create_catalogs(self, catalogs: list[dict[str, Any]]) -> list[int]:
        # §3.6 Catalogs: POST /api/v4/catalogs (array)
        return self._create_batches("/api/v4/catalogs", "catalogs", catalogs)

    def ensure_products_catalog(self, name: str = "Товары") -> dict[str, int]:
        # §3.6 Catalogs: GET/POST /api/v4/catalogs (type "products"), /catalogs/{id}/custom_fields
        """The products catalog and its SKU and PRICE field ids, creating what is missing.

        Returns ``{"id"/"catalog_id", "sku_field_id", "price_field_id"}``. A second call only reads.
        """
        catalog = next((c for c in self.list_catalogs() if c.get("type") == "products"), None)
        catalog_id = (
            catalog["id"] if catalog else self.create_catalogs([{"name": name, "type": "products"}])[0]
        )
        owner = f"catalogs/{catalog_id}"
        fields = {f.get("code"): f["id"] for f in self.list_custom_fields(owner) if f.get("code")}
        wanted = [
            ("SKU", {"name": "Артикул", "type": "text", "code": "SKU"}),
            ("PRICE", {"name": "Цена", "type": "price", "code": "PRICE"}),
        ]
        missing = [spec for code, spec in wanted if code not in fields]
        if missing:
            for field in self.create_custom_fields(owner, missing):
                fields[field.get("code") or field.get("name")] = field["id"]
            if any(code not in fields for code, _spec in wanted):
                fields = {f.get("code"): f["id"] for f in self.list_custom_fields(owner) if f.get("code")}
        return {
            "id": catalog_id,
            "catalog_id": catalog_id,
            "sku_field_id": fields["SKU"],
            "price_field_id": fields["PRICE"],
        }

    def _product_field_ids(self, catalog_id: int) -> tuple[int, int]:
        c = self.connection
        if c.products_catalog_id == int(catalog_id) and c.product_sku_field_id and c.product_price_field_id:
            return int(c.product_sku_field_id), int(c.product_price_field_id)
        codes = {f.get("code"): f["id"] for f in self.list_custom_fields(f"catalogs/{int(catalog_id)}")}
        if "SKU" not in codes or "PRICE" not in codes:
            raise ValueError("the products catalog lacks SKU/PRICE fields: run account setup")
        return int(codes["SKU"]), int(codes["PRICE"])

    def iter_catalog_elements(self, catalog_id: int) -> Iterator[dict[str, Any]]:
        # §3.6 Catalog elements: GET /api/v4/catalogs/{id}/elements (paginated)
        return self._paginate(
            f"/api/v4/catalogs/{int(catalog_id)}/elements", "elements", {"limit": PAGE_LIMIT}
        )

    def upsert_catalog_elements(
        self,
        catalog_id: int,
        products: list[dict[str, Any]],
        *,
        sku_field_id: int | None = None,
        price_field_id: int | None = None,
    ) -> dict[str, int]:
        # §3.6 Catalog elements: GET, POST and PATCH /api/v4/catalogs/{id}/elements
        """Make the catalog hold ``products`` (``[{"sku", "name", "price"}]``): find elements by SKU, create
        the missing ones, update name/price where they changed. Returns ``{sku: element_id}``; unchanged
        elements cost no write. Field ids default to the connection's (account setup), else looked up by
        code.
        """
        if not (sku_field_id and price_field_id):
            sku_field_id, price_field_id = self._product_field_ids(catalog_id)

        def values(product: dict[str, Any]) -> list[dict[str, Any]]:
            return [
                {"field_id": sku_field_id, "values": [{"value": str(product["sku"])}]},
                {"field_id": price_field_id, "values": [{"value": _amo_number(product["price"])}]},
            ]

        existing: dict[str, dict[str, Any]] = {}
        for element in self.iter_catalog_elements(catalog_id):
            for sku in _cf_values(element, field_id=sku_field_id):
                existing.setdefault(sku, element)
        result: dict[str, int] = {}
        to_create, to_update = [], []
        for product in products:
            sku = str(product["sku"])
            element = existing.get(sku)
            if element is None:
                to_create.append(product)
                continue
            result[sku] = element["id"]
            prices = _cf_values(element, field_id=price_field_id)
            same_price = bool(prices) and Decimal(str(prices[0] or 0)) == Decimal(str(product["price"]))
            if not same_price or element.get("name") != product["name"]:
                to_update.append(
                    {"id": element["id"], "name": product["name"], "custom_fields_values": values(product)}
                )
        if to_create:
            path = f"/api/v4/catalogs/{int(catalog_id)}/elements"
            payload = [{"name": p["name"], "custom_fields_values": values(p)} for p in to_create]
            ids = self._create_batches(path, "elements", payload)
            result.update({str(p["sku"]): element_id for p, element_id in zip(to_create, ids, strict=True)})
        if to_update:
            self._update_batches(f"/api/v4/catalogs/{int(catalog_id)}/elements", "elements", to_update)
        return result

    # --- webhooks ----------------------------------------------------------------------------------------

    def list_webhooks(self, destination: str | None = None) -> list[dict[str, Any]]:
        # §6.1 Webhooks: GET /api/v4/webhooks[?filter[destination]=url]
        params = {"filter[destination]": destination} if destination else None
        return _embedded(self._request("GET", "/api/v4/webhooks", params=params), "webhooks")

    def subscribe_webhook(self, destination: str, settings_: list[str], sort: int = 10) -> dict[str, Any]:
        # §6.1 Webhooks: POST /api/v4/webhooks {destination, settings, sort} (by destination: re-sendable)
        body = {"destination": destination, "settings": list(settings_), "sort": sort}
        return self._request("POST", "/api/v4/webhooks", json=body) or {}

    def unsubscribe_webhook(self, destination: str) -> None:
        # §6.1 Webhooks: DELETE /api/v4/webhooks {destination} -> 204
        self._request("DELETE", "/api/v4/webhooks", json={"destination": destination})


def client_for_connection(connection_id: int | None = None, **kwargs: Any) -> AmoCRMClient:
    """A client for the installation's connection (or the given row)."""
    connection = AmoConnection.objects.get(pk=connection_id) if connection_id else AmoConnection.get_solo()
    return AmoCRMClient(connection, **kwargs)
