"""The Content-Security-Policy header on every answer (settings ``CONTENT_SECURITY_POLICY``).

Django 5.2 has no CSP of its own (6.0 adds one); this middleware sets the policy the settings give unless
the view set one already. The console's pages load only their own scripts and styles (static/), with no
inline script, event handler or style attribute, and htmx configured by a meta tag not to eval or inject a
<style>. https://developer.mozilla.org/en-US/docs/Web/HTTP/Headers/Content-Security-Policy
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

HEADER = "Content-Security-Policy"


class ContentSecurityPolicyMiddleware:
    """Adds ``CONTENT_SECURITY_POLICY`` (when not empty) to every response that has no policy yet."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        policy = settings.CONTENT_SECURITY_POLICY
        if policy and HEADER not in response:
            response[HEADER] = policy
        return response
