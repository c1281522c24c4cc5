"""amoCRM's OAuth 2.0 endpoints: one request (``transport.send``), its answer, or a typed error.

https://www.amocrm.ru/developers/content/oauth/step-by-step (authorization code and refresh token grants).
What to store and when to refresh is the account's business (``console.amocrm.account.oauth``).
"""

from __future__ import annotations

from typing import Any

from requests import Response

from console.amocrm.api.errors import REJECTED_TITLE, REVOKED_TITLE, CircuitOpen, TransientError
from console.amocrm.api.ratelimit import RateLimiter
from console.amocrm.api.transport import refusal, send

TOKEN_PATH = "/oauth2/access_token"
# amoCRM's answer to a wrong client id or secret (a 401 with this title and no hint).
_CLIENT_REJECTED = "Некорректный клиент"
# Words of amoCRM's answer to a refresh token that will never work again.
_REVOKED_HINTS = ("revoked", "invalid refresh token", "refresh token", "expired")


def token_request(
    *, base_url: str, body: dict[str, str], secrets: list[str], limiter: RateLimiter
) -> dict[str, Any]:
    """POST ``body`` to the account's token endpoint and return the token answer.

    Sent like every call (``transport.send``: the rate limiter, timeouts, the log line); errors are typed and
    redacted of ``secrets`` and of the body's values. A refresh grant answered "revoked" raises
    ``CircuitOpen`` with state ``revoked``; a wrong client id or secret (any grant) raises ``CircuitOpen``
    with state ``rejected``.
    """
    hidden = [*secrets, *body.values()]
    url = f"{base_url.rstrip('/')}{TOKEN_PATH}"
    response = send("POST", url, limiter=limiter, hidden=hidden, json=body)
    if response.status_code == 200:
        return _token_answer(response)
    error = refusal(response, method="POST", path=TOKEN_PATH, hidden=hidden)
    circuit = {k: getattr(error, k) for k in ("method", "path", "status", "request_id", "excerpt")}
    if response.status_code == 401 and _body_title(response) == _CLIENT_REJECTED:
        raise CircuitOpen(title=REJECTED_TITLE, state="rejected", **circuit)
    revoked = any(word in error.excerpt.lower() for word in _REVOKED_HINTS)
    if body.get("grant_type") == "refresh_token" and response.status_code in (400, 401) and revoked:
        raise CircuitOpen(title=REVOKED_TITLE, state="revoked", **circuit)
    raise error


def account_domain(
    *, api_url: str, refresh_token: str, secrets: list[str], limiter: RateLimiter
) -> dict[str, Any]:
    # https://www.amocrm.ru/developers/content/oauth/step-by-step (an account whose domain changed):
    # GET {api domain}/oauth2/account/current/subdomain with the refresh token in X-Refresh-Token
    """Where the account lives now: ``{"id", "subdomain", "domain", ...}``; errors typed as for the token."""
    path = "/oauth2/account/current/subdomain"
    hidden = [*secrets, refresh_token]
    url = f"{api_url.rstrip('/')}{path}"
    response = send("GET", url, limiter=limiter, hidden=hidden, headers={"X-Refresh-Token": refresh_token})
    if response.status_code != 200:
        raise refusal(response, method="GET", path=path, hidden=hidden)
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not body.get("domain"):
        raise TransientError(title="AmoCRM account lookup gave an unreadable answer", method="GET", path=path)
    return body


def _body_title(response: Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("title") or "") if isinstance(body, dict) else ""


def _token_answer(response: Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict) and data.get("access_token"):
        return data
    raise TransientError(
        title="AmoCRM token endpoint gave an unreadable answer", method="POST", path=TOKEN_PATH
    )
