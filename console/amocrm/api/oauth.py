"""amoCRM's OAuth 2.0 token endpoint over HTTP: one request, its answer, or a typed error.

https://www.amocrm.ru/developers/content/oauth/step-by-step (authorization code and refresh token grants).
What to store and when to refresh is the account's business (``console.amocrm.account.oauth``).
"""

from __future__ import annotations

from typing import Any

import requests
from django.conf import settings

from console.amocrm.api.errors import REVOKED_TITLE, CircuitOpen, TransientError, error_from_response
from console.amocrm.api.ratelimit import get_rate_limiter
from console.amocrm.api.redaction import redact

TOKEN_PATH = "/oauth2/access_token"
# Words of amoCRM's answer to a refresh token that will never work again.
_REVOKED_HINTS = ("revoked", "invalid refresh token", "refresh token", "expired")


def token_request(*, base_url: str, body: dict[str, str], secrets: list[str]) -> dict[str, Any]:
    """POST ``body`` to the account's token endpoint and return the token answer.

    Rate-limited like every call; errors are typed and redacted of ``secrets`` and of the body's values. A
    refresh grant answered "revoked" raises ``CircuitOpen`` with state ``revoked``.
    """
    hidden = [*secrets, *body.values()]
    get_rate_limiter().acquire()
    try:
        response = requests.post(
            f"{base_url.rstrip('/')}{TOKEN_PATH}",
            json=body,
            timeout=(settings.AMOCRM_CONNECT_TIMEOUT, settings.AMOCRM_READ_TIMEOUT),
        )
    except requests.RequestException as exc:
        raise TransientError(
            title=f"AmoCRM token endpoint unreachable: {type(exc).__name__}",
            method="POST",
            path=TOKEN_PATH,
            excerpt=redact(str(exc), hidden)[:300],
        ) from None
    if response.status_code == 200:
        return _token_answer(response)
    error = error_from_response(
        status=response.status_code,
        text=response.text,
        content_type=response.headers.get("Content-Type", ""),
        request_id=response.headers.get("X-Request-Id", ""),
        method="POST",
        path=TOKEN_PATH,
        redact_fn=lambda text: redact(text, hidden),
    )
    revoked = any(word in error.excerpt.lower() for word in _REVOKED_HINTS)
    if body.get("grant_type") == "refresh_token" and response.status_code in (400, 401) and revoked:
        raise CircuitOpen(
            title=REVOKED_TITLE,
            state="revoked",
            **{k: getattr(error, k) for k in ("method", "path", "status", "request_id", "excerpt")},
        )
    raise error


def _token_answer(response: requests.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict) and data.get("access_token"):
        return data
    raise TransientError(
        title="AmoCRM token endpoint gave an unreadable answer", method="POST", path=TOKEN_PATH
    )
