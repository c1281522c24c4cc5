"""Who may do what in the console: one rule per role, used by the views and the navigation alike.

- staff (managers, support): ``is_staff``;
- admins (the AmoCRM connection, the stage map, secrets): superusers, or staff holding the
  ``amocrm.change_amoconnection`` permission.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

View = Callable[..., HttpResponse]


def is_staff(user: Any) -> bool:
    return bool(user.is_authenticated and user.is_staff)


def is_admin(user: Any) -> bool:
    return bool(user.is_authenticated and (user.is_superuser or user.has_perm("amocrm.change_amoconnection")))


def _requires(rule: Callable[[Any], bool], view: View) -> View:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not rule(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return login_required(wrapper)


def staff_required(view: View) -> View:
    """Signed-in staff only: anonymous visitors go to the login page, other users get 403."""
    return _requires(is_staff, view)


def admin_required(view: View) -> View:
    """Signed-in admins only (see the module docstring): anonymous visitors log in, others get 403."""
    return _requires(is_admin, view)
