"""The webhook intake: ``POST /amocrm/webhook/<secret>/``, a plain Django view.

It authenticates the delivery (the URL secret, compared in constant time, and the body's ``account[id]`` /
``account[subdomain]`` against the connected account), stores it raw in the inbox and answers 200; the
processing is enqueued when the row commits. It never calls amoCRM nor changes an order. A wrong secret or
account answers 404 and stores nothing but a counter. A body we cannot read is stored as ``invalid`` and
answered 200, so amoCRM does not send garbage again; so is a body larger than ``WEBHOOK_MAX_BODY``, which
is not even read. amoCRM waits 2 seconds for an answer and disables a hook that fails too often
(https://www.amocrm.ru/developers/content/crm_platform/webhooks-api), so nothing here answers 500: an
unexpected error is logged, counted and answered 200, and the reconciliation picks the change up from the
API within one interval.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from console.amocrm.inbound.formparse import FormParseError, parse_form
from console.amocrm.inbound.inbox import counter_increment, inbox_store
from console.amocrm.inbound.items import as_int, webhook_items
from console.amocrm.models import AmoConnection
from console.amocrm.reasons import Code, Reason, reason

logger = logging.getLogger(__name__)

_STORED_HEADERS_SKIP = {"HTTP_COOKIE", "HTTP_AUTHORIZATION"}


def _headers(request: HttpRequest, secret: str) -> dict[str, str]:
    """The request's headers as sent (no cookies or credentials; the URL secret blanked if a proxy echoed the
    path into a header such as ``X-Original-Uri`` or ``Referer``)."""
    headers = {}
    for key, value in request.META.items():
        if key.startswith("HTTP_") and key not in _STORED_HEADERS_SKIP:
            headers[key[5:].replace("_", "-").title()] = str(value)[:500].replace(secret, "***")
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if request.META.get(key):
            headers[key.replace("_", "-").title()] = str(request.META[key])
    return headers


def _secret_ok(given: str, connection: AmoConnection | None) -> bool:
    expected = connection.webhook_secret if connection is not None else ""
    # Compare even without a connection so the answer time does not tell whether one exists.
    return hmac.compare_digest(given.encode(), (expected or "\0" * 43).encode()) and bool(expected)


def account_matches(account: dict[str, Any], connection: AmoConnection) -> bool:
    """True when the body's account is the connected one: every identity both sides know agrees, and at
    least one is compared (``account[id]`` with ``account_id``, ``account[subdomain]`` with ``subdomain``)."""
    compared = False
    given_id = as_int(account.get("id"))
    if given_id is not None and connection.account_id is not None:
        if given_id != connection.account_id:
            return False
        compared = True
    given_sub = str(account.get("subdomain") or "").strip().lower()
    if given_sub and connection.subdomain:
        if given_sub != connection.subdomain.strip().lower():
            return False
        compared = True
    return compared


def _content_length(request: HttpRequest) -> int:
    """The declared body size; Django reads no more than this (a body without one is read as empty)."""
    try:
        return max(0, int(request.META.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0


def _reject(reason: str) -> HttpResponse:
    counter_increment(key=f"rejected:{reason}")
    return HttpResponseNotFound()


def _invalid(
    why: Reason, store: dict[str, Any], account: dict[str, Any] | None = None, items: Any = ()
) -> HttpResponse:
    inbox_store(account=account or {}, items=list(items), invalid_reason=why, **store)
    return HttpResponse("invalid")


def _intake(request: HttpRequest, secret: str) -> HttpResponse:
    connection = AmoConnection.objects.only("webhook_secret", "account_id", "subdomain").filter(pk=1).first()
    if not _secret_ok(secret, connection):
        return _reject("secret")
    store: dict[str, Any] = {
        "headers": _headers(request, secret),
        "remote_addr": request.META.get("REMOTE_ADDR"),
    }
    declared = _content_length(request)
    if declared > settings.WEBHOOK_MAX_BODY:
        # Not read at all: a body over the bound never reaches memory (nor the inbox).
        too_large = reason(Code.BODY_TOO_LARGE, size=declared, limit=settings.WEBHOOK_MAX_BODY)
        return _invalid(too_large, {**store, "body": b""})
    try:
        body = store["body"] = request.body
    except RequestDataTooBig:
        return _invalid(reason(Code.BODY_TOO_LARGE), {**store, "body": b""})
    try:
        data = parse_form(body)
    except FormParseError as exc:
        return _invalid(reason(Code.UNPARSEABLE, error=str(exc)), store)
    account = data.get("account") if isinstance(data.get("account"), dict) else {}
    items = webhook_items(data)
    if not account:
        return _invalid(reason(Code.NO_ACCOUNT), store, items=items)
    if not account_matches(account, connection):
        return _reject("account")
    if not items:
        return _invalid(reason(Code.NO_ITEMS), store, account=account)
    inbox_store(account=account, items=items, **store)
    return HttpResponse("ok")


@csrf_exempt
@require_POST
def webhook_intake(request: HttpRequest, secret: str) -> HttpResponse:
    """``POST /amocrm/webhook/<secret>/``: 404 for a wrong secret or account, else 200 (stored, queued)."""
    try:
        return _intake(request, secret)
    except Exception:
        logger.exception("webhook intake failed; the delivery is left to the reconciliation")
        try:
            counter_increment(key="intake:error")
        except Exception:
            logger.exception("webhook intake cannot count its failure")
        return HttpResponse("accepted")
