"""Context for every console page: the navigation, built from the pages that exist and the user may open."""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from console.web.decorators import is_admin

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
    """``console_nav``: a list of {url, label, active} for the signed-in user."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"console_nav": []}
    items = []
    for name, label, who in NAV:
        if who == "admin" and not is_admin(user):
            continue
        try:
            url = reverse(name)
        except NoReverseMatch:
            continue
        active = request.path == url if url == "/" else request.path.startswith(url)
        items.append({"url": url, "label": label, "active": active})
    return {"console_nav": items}
