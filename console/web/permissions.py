"""Who may do what in the console: three roles, one rule (:func:`can`), used by views, templates and the
navigation alike.

Roles are Django groups created by a migration: ``manager`` (orders: create, edit, status changes; the sync
controls push, skip, unskip, unlink, link), ``support`` (reads everything, retries failed syncs, replays
webhooks; reads the stage map and the connection page but changes neither) and ``admin`` (everything, plus
the connection, the account setup, the stage map, pausing the sync and the users). A superuser is an admin.
A user without a role sees nothing but the login page and a friendly 403 that names the role needed and the
administrators to ask.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

ROLES = ("manager", "support", "admin")
ROLE_LABELS = {
    "manager": gettext_lazy("manager"),
    "support": gettext_lazy("support"),
    "admin": gettext_lazy("administrator"),
}
ACTIONS: dict[str, frozenset[str]] = {
    "view": frozenset(ROLES),
    "orders.edit": frozenset({"manager", "admin"}),
    "sync.control": frozenset({"manager", "admin"}),
    "sync.retry": frozenset({"manager", "support", "admin"}),
    "webhooks.replay": frozenset({"support", "admin"}),
    "setup.view": frozenset({"support", "admin"}),
    "setup": frozenset({"admin"}),
}
# How many administrators the 403 page names.
ADMINS_NAMED = 5
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

View = Callable[..., HttpResponse]


def roles_of(user: Any) -> frozenset[str]:
    """The console roles of ``user`` (cached on the user object for the request)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return frozenset()
    cached = getattr(user, "_console_roles", None)
    if cached is None:
        cached = frozenset(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
        if user.is_superuser:
            cached |= {"admin"}
        user._console_roles = cached
    return cached


def can(user: Any, action: str) -> bool:
    """True when ``user`` holds a role allowed to do ``action`` (a key of ``ACTIONS``)."""
    return bool(roles_of(user) & ACTIONS[action])


def admins_to_ask(*, limit: int = ADMINS_NAMED) -> list[str]:
    """Names of active console administrators (superusers included), for "ask ..." on the 403 page."""
    admins = (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | Q(groups__name="admin"))
        .distinct()
        .order_by("username")[:limit]
    )
    return [user.get_full_name() or user.get_username() for user in admins]


def denied(action: str) -> PermissionDenied:
    """The 403 for ``action``: its message names the roles that may do it and the administrators to ask."""
    roles = ", ".join(str(ROLE_LABELS[role]) for role in ROLES if role in ACTIONS[action])
    message = _("This needs the role: %(roles)s.") % {"roles": roles}
    names = admins_to_ask()
    if names:
        message += " " + _("Ask an administrator for it: %(names)s.") % {"names": ", ".join(names)}
    return PermissionDenied(message)


def _check(action: str, *, unsafe_only: bool) -> Callable[[View], View]:
    if action not in ACTIONS:
        raise ValueError(f"unknown console action {action!r}")

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            checked = not unsafe_only or request.method not in SAFE_METHODS
            if checked and not can(request.user, action):
                raise denied(action)
            return view(request, *args, **kwargs)

        return login_required(wrapper)

    return decorator


def requires(action: str) -> Callable[[View], View]:
    """View decorator: anonymous visitors go to the login page; users without the right get 403."""
    return _check(action, unsafe_only=False)


def requires_to_change(action: str) -> Callable[[View], View]:
    """View decorator for a page that one role reads and another changes: a POST (any unsafe method) needs
    ``action``; stack it under :func:`requires` with the right to read."""
    return _check(action, unsafe_only=True)
