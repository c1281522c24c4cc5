"""The forced first password change (issue 22 defect 6): a password an admin set (a new user's initial
one, or one set in the Django admin) must be changed by its owner before the console shows anything else.

The flag lives on ``PasswordState``; at login it is copied into the session (:func:`copy_to_session`) so the
middleware asks the session, not the database, on every request. An admin who sets a password also
invalidates the user's sessions (Django's session auth hash), so the flag is always seen at the next login.
https://docs.djangoproject.com/en/5.2/topics/auth/default/#session-invalidation-on-password-change
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone

from console.web.models import PasswordState

SESSION_KEY = "console_password_must_change"
# Paths a user who must change the password still reaches: machines' endpoints, logging out, the assets.
OPEN_PREFIXES = ("/api/", "/amocrm/", "/healthz", "/metrics", "/i18n/", "/logout/", "/login/")


def password_set_by_admin(*, user: Any) -> None:
    """Record that an admin set ``user``'s password: the user must change it at the next login."""
    PasswordState.objects.update_or_create(
        user=user, defaults={"must_change": True, "set_by_admin_at": timezone.now()}
    )


def password_changed_by_user(*, user: Any) -> None:
    """Record the user's own change of its password: nothing more is forced."""
    PasswordState.objects.update_or_create(
        user=user, defaults={"must_change": False, "changed_at": timezone.now()}
    )


def must_change(user: Any) -> bool:
    """True when ``user``'s password is one an admin set and the user has not changed it since."""
    return PasswordState.objects.filter(user=user, must_change=True).exists()


@receiver(user_logged_in, dispatch_uid="web.passwords.login")
def copy_to_session(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """At login, note in the session whether the user must change its password first."""
    if request is None or not hasattr(request, "session"):
        return
    if must_change(user):
        request.session[SESSION_KEY] = True
    else:
        request.session.pop(SESSION_KEY, None)


class PasswordChangeRequiredMiddleware:
    """Sends a user who must change its password to the password page until it has (pages only)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self._held(request):
            target = reverse("web:password_change")
            if getattr(request, "htmx", False):
                response = HttpResponse(status=204)
                response["HX-Redirect"] = target
                return response
            return redirect(target)
        return self.get_response(request)

    def _held(self, request: HttpRequest) -> bool:
        session = getattr(request, "session", None)
        if session is None or not session.get(SESSION_KEY):
            return False
        if not getattr(request, "user", None) or not request.user.is_authenticated:
            return False
        path = request.path_info
        static = settings.STATIC_URL or "/static/"
        return not (
            path == reverse("web:password_change")
            or path.startswith(OPEN_PREFIXES)
            or path.startswith(static if static.startswith("/") else f"/{static}")
        )
