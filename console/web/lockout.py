"""Login throttling hooks for django-axes (settings ``AXES_CLIENT_IP_CALLABLE``, ``AXES_LOCKOUT_CALLABLE``).

https://django-axes.readthedocs.io/en/latest/4_configuration.html
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from rest_framework.throttling import BaseThrottle


def client_address(request: HttpRequest) -> str:
    """The client's address by the API throttles' rule (``TRUSTED_PROXY_COUNT`` -> DRF's ``NUM_PROXIES``), so
    a login lock and a throttle agree on who the client is and neither trusts a forged X-Forwarded-For."""
    return BaseThrottle().get_ident(request)


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict | None = None
) -> HttpResponse:
    """The login page again, answered 429, saying that logging in is locked and for how long."""
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    context: dict[str, Any] = {
        "form": AuthenticationForm(request, initial={"username": username}),
        "locked_out": True,
        "lockout_minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
        "next": request.POST.get("next", ""),
    }
    return render(request, "registration/login.html", context, status=429)
