"""Context for every console page: the navigation, built from the pages that exist and the user may open,
what the user may do, and the connection banner."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext_lazy as _

from console.amocrm.models import AmoConnection
from console.roles import ACTIONS, can

State = AmoConnection.State

# (url name, label, the action that shows it); a page that does not exist (yet) is left out.
NAV = [
    ("web:dashboard", _("Dashboard"), "view"),
    ("web:orders", _("Orders"), "view"),
    ("web:customers", _("Customers"), "view"),
    ("web:sync_log", _("Sync log"), "view"),
    ("web:sync_failed", _("Failed syncs"), "view"),
    ("web:webhooks", _("Webhooks"), "view"),
    ("web:stage_map", _("Stage map"), "setup.view"),
    ("web:connection", _("AmoCRM connection"), "setup.view"),
    ("web:users", _("Users"), "setup"),
    ("api:docs", _("API"), "view"),
    ("admin:index", _("Admin"), "setup"),
]

# What happened and what to do, for every state in which nothing is sent to amoCRM although the account was
# connected (the banner on every page, the status panel of the connection page).
CONNECTION_NOTICES = {
    State.PAUSED: _(
        "The amoCRM sync is paused by an administrator. Nothing is sent to amoCRM; changes are recorded and "
        "queued, and go out once the sync is resumed on the connection page."
    ),
    State.BLOCKED: _(
        "AmoCRM blocked requests from this console (HTTP 403). Nothing is sent to amoCRM; changes are "
        "recorded and queued. An administrator asks amoCRM support to lift the block, then presses Resume "
        "on the connection page."
    ),
    State.UNPAID: _(
        "The amoCRM account is not paid (HTTP 402). Nothing is sent to amoCRM; changes are recorded and "
        "queued. Renew the subscription in amoCRM, then an administrator presses Resume on the connection "
        "page."
    ),
    State.REVOKED: _(
        "AmoCRM revoked the console's access (the token is no longer valid). Nothing is sent to amoCRM; "
        "changes are recorded and queued. An administrator connects the account again on the connection "
        "page."
    ),
    State.REJECTED: _(
        "AmoCRM rejected the integration's id or secret key. Nothing is sent to amoCRM; changes are "
        "recorded and queued. An administrator copies both again from amoCRM (Settings → Integrations), "
        "saves them on the connection page and connects again."
    ),
}


def _nav(request: HttpRequest) -> list[dict[str, Any]]:
    items = []
    for name, label, action in NAV:
        if not can(request.user, action) or (name == "admin:index" and not request.user.is_staff):
            continue
        try:
            url = reverse(name)
        except NoReverseMatch:
            continue
        active = request.path == url if url == "/" else request.path.startswith(url)
        items.append({"url": url, "label": label, "active": active})
    return items


def connection_banner() -> dict[str, Any]:
    """The banner's facts (one query), or ``{}`` while the connection is fine or was never made."""
    row = (
        AmoConnection.objects.filter(pk=1, state__in=list(CONNECTION_NOTICES))
        .values("state", "paused_reason", "paused_by", "paused_at")
        .first()
    )
    if row is None:
        return {}
    return {**row, "label": State(row["state"]).label, "text": CONNECTION_NOTICES[row["state"]]}


def console_nav(request: HttpRequest) -> dict[str, Any]:
    """``console_nav``: a list of {url, label, active} for the signed-in user; ``console_can``: what the user
    may do, by action with dots as underscores (``console_can.sync_control``); ``console_banner``: the
    connection's trouble (see :func:`connection_banner`), read only when a template shows it."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"console_nav": [], "console_can": {}, "console_banner": {}}
    allowed = {action.replace(".", "_"): can(user, action) for action in ACTIONS}
    banner = SimpleLazyObject(connection_banner) if allowed["view"] else {}
    return {"console_nav": _nav(request), "console_can": allowed, "console_banner": banner}
