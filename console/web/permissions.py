"""The console's view rules over the role table of ``console.roles`` (roles, actions, :func:`can`): the
decorators views use, and the friendly 403 that names the role needed and the administrators to ask. A user
without a role sees nothing but the login page and that 403.
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

from console.roles import ACTIONS, can, needs_role_message

# How many administrators the 403 page names.
ADMINS_NAMED = 5
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

View = Callable[..., HttpResponse]


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
    message = needs_role_message(action)
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
