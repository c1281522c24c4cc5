"""Token authentication of the /api/v1/ API: django-rest-knox tokens, stored as digests, never in clear.

A client sends ``Authorization: Token <token>`` (knox's convention) or ``Authorization: Bearer <token>``.
A manager gets a token with ``manage.py api_token create <username>``; it is printed once.
https://jazzband.github.io/django-rest-knox/auth/
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from knox.auth import TokenAuthentication
from rest_framework.authentication import get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

_PREFIXES = (b"token", b"bearer")


class ApiTokenAuthentication(TokenAuthentication):
    """knox's token authentication, accepting the ``Bearer`` prefix as well as ``Token``."""

    def authenticate(self, request: Request):  # noqa: ANN201 (DRF signature: (user, token) or None)
        auth = get_authorization_header(request).split()
        if not auth or auth[0].lower() not in _PREFIXES:
            return None  # no header, or one for another scheme (session, basic)
        if len(auth) != 2:
            raise AuthenticationFailed(
                _("Invalid token header: expected 'Token <token>' or 'Bearer <token>'.")
            )
        try:
            auth[1].decode("ascii")
        except UnicodeDecodeError:
            # knox decodes the token as UTF-8 and would raise; a real token is hex digits.
            raise AuthenticationFailed(_("Invalid token.")) from None
        return self.authenticate_credentials(auth[1])


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """The API schema's description of :class:`ApiTokenAuthentication`."""

    target_class = "console.orders.api_auth.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema):  # noqa: ANN001, ANN201 (drf-spectacular signature)
        return build_bearer_security_scheme_object(header_name="Authorization", token_prefix="Token")
