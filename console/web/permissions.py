"""Who may do what in the console: three roles, one rule (:func:`can`), used by views, templates and the
navigation alike.

Roles are Django groups created by a migration: ``manager`` (orders: create, edit, status changes; the sync
controls push, skip, unskip, unlink, link), ``support`` (reads everything, retries failed syncs, replays
webhooks; no stage map or connection changes) and ``admin`` (everything, plus the connection, the account
setup, the stage map, pausing the sync and the users). A superuser is an admin. A user without a role sees
nothing but the login page and a friendly 403.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

ROLES = ("manager", "support", "admin")
ACTIONS: dict[str, frozenset[str]] = {
    "view": frozenset(ROLES),
    "orders.edit": frozenset({"manager", "admin"}),
    "sync.control": frozenset({"manager", "admin"}),
    "sync.retry": frozenset({"manager", "support", "admin"}),
    "webhooks.replay": frozenset({"support", "admin"}),
    "setup": frozenset({"admin"}),
}

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


def requires(action: str) -> Callable[[View], View]:
    """View decorator: anonymous visitors go to the login page; users without the right get 403."""
    if action not in ACTIONS:
        raise ValueError(f"unknown console action {action!r}")

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not can(request.user, action):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return login_required(wrapper)

    return decorator
