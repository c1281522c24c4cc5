"""Typed errors of the amoCRM client, and how an error is read back as a title and a detail.

amoCRM's error answers: https://www.amocrm.ru/developers/content/api/recommendations

Every error carries what the sync log and the console need to show it: the request (method, path), the
HTTP status, amoCRM's ``X-Request-Id``, a short redacted excerpt of the response, the parsed validation
errors and a human ``title``. ``permanent`` says whether retrying the same request can ever help.
"""

from __future__ import annotations

import json
from typing import Any

from console.amocrm.api.redaction import redact


class AmoCRMError(Exception):
    """Base of every error the client raises. ``permanent`` errors must not be retried as they are."""

    permanent = True
    default_title = "AmoCRM request failed"

    def __init__(
        self,
        message: str = "",
        *,
        method: str = "",
        path: str = "",
        status: int | None = None,
        request_id: str = "",
        excerpt: str = "",
        validation_errors: list[dict[str, Any]] | None = None,
        title: str = "",
    ) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.request_id = request_id
        self.excerpt = excerpt
        self.validation_errors = validation_errors or []
        self.title = title or self._title_from_validation() or self.default_title
        super().__init__(message or self.title)

    def _title_from_validation(self) -> str:
        if not self.validation_errors:
            return ""
        return "; ".join(describe_validation_error(item) for item in self.validation_errors[:5])

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly record of the error (already redacted), for sync logs and status panels."""
        return {
            "type": type(self).__name__,
            "title": self.title,
            "message": str(self),
            "permanent": self.permanent,
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "request_id": self.request_id,
            "excerpt": self.excerpt,
            "validation_errors": self.validation_errors,
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.method} {self.path} -> {self.status}: {self.title!r})"


class TransientError(AmoCRMError):
    """A 5xx answer, a timeout or a dropped connection: the same request may succeed later."""

    permanent = False
    default_title = "AmoCRM is temporarily unavailable"


class UnknownOutcome(TransientError):
    """A create whose answer was lost (timeout after sending, dropped connection, gateway error).

    The entities may or may not exist now: the caller must look them up before creating them again.
    ``created_ids`` holds the ids of earlier batches of the same call that did succeed.
    """

    default_title = "AmoCRM did not confirm the create; look the entity up before creating it again"

    def __init__(self, *args: Any, created_ids: list[int] | None = None, **kwargs: Any) -> None:
        self.created_ids = created_ids or []
        super().__init__(*args, **kwargs)


class RateLimited(TransientError):
    """429 Too Many Requests that the client did not wait out; ``retry_after`` in seconds when amoCRM said."""

    default_title = "AmoCRM rate limit reached"

    def __init__(self, *args: Any, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(*args, **kwargs)


class AuthError(AmoCRMError):
    """401 even after a token refresh, or a token grant amoCRM refused for a reason other than revocation.

    Not permanent: the data is not at fault, so an order retries on the sync schedule while the connection
    page shows the error (a revoked token opens the circuit instead, see ``CircuitOpen``)."""

    permanent = False
    default_title = "AmoCRM rejected our credentials"


class ValidationError(AmoCRMError):
    """400 with ``validation-errors``: the payload is wrong and will stay wrong."""

    default_title = "AmoCRM rejected the data"


class NotFound(AmoCRMError):
    """404, or 204 for a single entity that does not exist."""

    default_title = "Not found in AmoCRM"


class CircuitOpen(AmoCRMError):
    """The connection is blocked, unpaid, revoked or not connected: no call is made until an admin acts."""

    default_title = "AmoCRM connection is stopped until an administrator acts"

    def __init__(self, *args: Any, state: str = "", **kwargs: Any) -> None:
        self.state = state
        super().__init__(*args, **kwargs)


_CODE_TEXT = {
    "NotSupportedChoice": "is not one of the allowed choices",
    "InvalidType": "has the wrong type",
    "NotBlank": "must not be blank",
    "NotNull": "must not be empty",
    "Length": "has the wrong length",
    "Range": "is out of range",
}


def describe_validation_error(item: dict[str, Any]) -> str:
    """One validation error as a sentence: ``item 0, field custom_fields_values.0.field_id: <detail>``."""
    parts = []
    if item.get("request_id") not in (None, ""):
        parts.append(f"item {item['request_id']}")
    if item.get("path"):
        parts.append(f"field {item['path']}")
    where = ", ".join(parts)
    detail = (
        item.get("detail") or _CODE_TEXT.get(item.get("code", ""), "") or item.get("code", "") or "invalid"
    )
    code = item.get("code")
    text = f"{detail} ({code})" if code and code not in detail else detail
    return f"{where}: {text}" if where else text


def parse_validation_errors(body: Any) -> list[dict[str, Any]]:
    """Flatten amoCRM's ``validation-errors`` into ``[{request_id, code, path, detail}]``."""
    if not isinstance(body, dict):
        return []
    flat = []
    for group in body.get("validation-errors") or []:
        if not isinstance(group, dict):
            continue
        for error in group.get("errors") or []:
            if isinstance(error, dict):
                flat.append(
                    {
                        "request_id": str(group.get("request_id", "")),
                        "code": str(error.get("code", "")),
                        "path": str(error.get("path", "")),
                        "detail": str(error.get("detail", "")),
                    }
                )
    return flat


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _looks_like_html(content_type: str, text: str) -> bool:
    return "html" in content_type.lower() or text.lstrip()[:1] == "<"


BLOCKED_TITLE = (
    "AmoCRM blocked requests from this installation (HTTP 403). Ask amoCRM support to lift the block, "
    "then press Resume on the connection page."
)
UNPAID_TITLE = "The amoCRM account is not paid (HTTP 402). Renew the subscription, then press Resume."
REVOKED_TITLE = "AmoCRM revoked our access (refresh token). Connect the account again on the connection page."
REJECTED_TITLE = (
    "AmoCRM rejected the integration's id or secret key (HTTP 401, «Некорректный клиент»). Copy both again "
    "from the integration's settings in amoCRM, save them on the connection page and connect again."
)


def error_from_response(
    *, status: int, text: str, content_type: str, request_id: str, method: str, path: str, redact_fn: Any
) -> AmoCRMError:
    """The typed error for a non-success answer; ``redact_fn`` cleans the excerpt of secrets.

    HTML bodies (amoCRM's gateway answers 403/429 that way) are never parsed as JSON.
    """
    html = _looks_like_html(content_type, text)
    body = None if html else _json_or_none(text)
    excerpt = redact_fn(" ".join(text.split())[:300])
    common = {"method": method, "path": path, "status": status, "request_id": request_id, "excerpt": excerpt}
    detail = ""
    if isinstance(body, dict):
        detail = str(body.get("hint") or body.get("detail") or body.get("title") or "")
    detail = redact_fn(detail)
    if status == 400:
        validation = parse_validation_errors(body)
        if validation:
            return ValidationError(validation_errors=validation, **common)
        return ValidationError(title=f"AmoCRM rejected the request: {detail or 'bad request'}", **common)
    if status == 401:
        return AuthError(title=f"AmoCRM rejected our access token ({detail or 'unauthorized'})", **common)
    if status == 402:
        return CircuitOpen(title=UNPAID_TITLE, state="unpaid", **common)
    if status == 403 and (html or body is None):
        return CircuitOpen(title=BLOCKED_TITLE, state="blocked", **common)
    if status == 403:
        return AmoCRMError(
            title=f"AmoCRM denied access: {detail or 'forbidden'} (admin rights needed?)", **common
        )
    if status == 404:
        return NotFound(title=f"Not found in AmoCRM: {detail or path}", **common)
    if status == 429:
        retry_after = None
        if isinstance(body, dict) and isinstance(body.get("retry_after"), (int, float)):
            retry_after = float(body["retry_after"])
        return RateLimited(retry_after=retry_after, **common)
    if status >= 500:
        return TransientError(title=f"AmoCRM server error {status}: {detail or 'try again later'}", **common)
    return AmoCRMError(title=f"AmoCRM answered {status}: {detail or 'unexpected answer'}", **common)


def error_title(exc: Exception) -> str:
    """A one-line title for any exception a sync step raises (an amoCRM error's title, else its type)."""
    if isinstance(exc, AmoCRMError):
        return exc.title
    return f"Internal error: {type(exc).__name__}"


def error_detail(exc: Exception | None) -> str:
    """Readable, redacted detail of an error: the request, the validation errors, the response excerpt."""
    if exc is None:
        return ""
    if not isinstance(exc, AmoCRMError):
        return redact(str(exc))[:2000]
    lines = []
    if exc.method or exc.path:
        lines.append(f"{exc.method} {exc.path} -> {exc.status or 'no answer'}".strip())
    lines += [describe_validation_error(item) for item in exc.validation_errors]
    if exc.excerpt:
        lines.append(exc.excerpt)
    if str(exc) and str(exc) != exc.title:
        lines.append(str(exc))
    return redact("\n".join(lines))[:4000]


# What went wrong, as one word the console groups failures by and explains (``error_kind``). This is the one
# list of kinds: ``console.web.errors`` keys its messages by it, ``console.web.sync_state`` reads the circuit
# kinds from it.
# Kinds of a sync that met an open circuit (``CircuitOpen``): a pause, not a failed attempt.
CIRCUIT_KINDS = ("paused", "blocked", "unpaid", "revoked", "rejected", "not_connected")
DEAL_DELETED = "deal_deleted"  # the order's deal was deleted in amoCRM (written by the engine)
CUSTOMER_BUSY = "customer_busy"  # another run is creating the customer's contact or company
# The order waits for a lost create other than its deal's to settle before it is looked up (by the engine).
UNKNOWN_NOTE = "unknown_outcome_note"
UNKNOWN_ELEMENT = "unknown_outcome_element"
OTHER = "other"
ERROR_KINDS = (
    *CIRCUIT_KINDS,
    "rate_limited",
    "unknown_outcome",
    UNKNOWN_NOTE,
    UNKNOWN_ELEMENT,
    "server",
    "network",
    "auth",
    "validation",
    "not_found",
    "forbidden",
    DEAL_DELETED,
    CUSTOMER_BUSY,
    "internal",
    OTHER,
)
# Rows written before error kinds existed (or by code that does not set one): the kind from the HTTP status.
_KIND_BY_STATUS = {204: "not_found", 400: "validation", 401: "auth", 402: "unpaid", 403: "forbidden"}
_KIND_BY_STATUS |= {404: "not_found", 429: "rate_limited"}


def kind_of(kind: str, status: int | None = None) -> str:
    """``kind`` when it is one of ``ERROR_KINDS``, else the kind its HTTP ``status`` reads as (a 5xx is
    "server"), else "other": how a stored error is explained."""
    if kind in ERROR_KINDS:
        return kind
    if status is not None and status >= 500:
        return "server"
    return _KIND_BY_STATUS.get(status or 0, OTHER)


def error_kind(exc: Exception | None) -> str:
    """The kind of ``exc`` (one of ``ERROR_KINDS``): what the console says and groups failures by."""
    if exc is None:
        return ""
    if isinstance(exc, CircuitOpen):
        return exc.state if exc.state in CIRCUIT_KINDS else "not_connected"
    kinds: list[tuple[type[Exception], str]] = [
        (RateLimited, "rate_limited"),
        (UnknownOutcome, "unknown_outcome"),
        (AuthError, "auth"),
        (ValidationError, "validation"),
        (NotFound, "not_found"),
    ]
    for cls, kind in kinds:
        if isinstance(exc, cls):
            return kind
    if isinstance(exc, TransientError):
        return "server" if exc.status else "network"
    if isinstance(exc, AmoCRMError):
        return "forbidden" if exc.status == 403 else OTHER
    return "internal"
