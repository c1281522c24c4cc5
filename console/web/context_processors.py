"""Context for every console page: the navigation, built from the pages that exist and the user may open."""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from console.web.permissions import ACTIONS, can

# (url name, label, who may see it: "staff" or "admin")
NAV = [
    ("web:orders", _("Orders"), "staff"),
    ("web:sync_log", _("Sync log"), "staff"),
    ("web:sync_failed", _("Failed syncs"), "staff"),
    ("web:webhooks", _("Webhooks"), "staff"),
    ("web:stage_map", _("Stage map"), "admin"),
    ("web:connection", _("AmoCRM connection"), "admin"),
    ("api:docs", _("API"), "staff"),
    ("admin:index", _("Admin"), "admin"),
]


def console_nav(request: HttpRequest) -> dict:
    """``console_nav``: a list of {url, label, active} for the signed-in user; ``console_can``: what the user
    may do, by action with dots as underscores (``console_can.sync_control``)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"console_nav": [], "console_can": {}}
    items = []
    for name, label, who in NAV:
        if not can(user, "setup" if who == "admin" else "view"):
            continue
        try:
            url = reverse(name)
        except NoReverseMatch:
            continue
        active = request.path == url if url == "/" else request.path.startswith(url)
        items.append({"url": url, "label": label, "active": active})
    allowed = {action.replace(".", "_"): can(user, action) for action in ACTIONS}
    return {"console_nav": items, "console_can": allowed}
