"""OAuth 2.0 with amoCRM for the connected account: authorize URL, code exchange, refresh, long-lived tokens.

https://www.amocrm.ru/developers/content/oauth/step-by-step

Refresh runs under a row lock on the connection (``SELECT ... FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE``
on SQLite) and re-reads the row after taking it: a worker that finds the token already rotated by another
worker uses the new one, so a refresh token is never spent twice. The rotated pair is saved in the same
transaction. The HTTP request itself is ``console.amocrm.api.oauth.token_request``.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from console.amocrm import queue
from console.amocrm.account.connection import REAL_HOST_SUFFIXES, connection_set_state, is_real_amocrm
from console.amocrm.account.ratelimit import get_rate_limiter
from console.amocrm.api.errors import AmoCRMError, AuthError, CircuitOpen, NotFound
from console.amocrm.api.oauth import account_domain, token_request
from console.amocrm.models import AmoConnection

logger = logging.getLogger(__name__)

DISCONNECT_TASK = "console.amocrm.tasks.account_disconnect_task"
# Refresh this long before the access token expires.
REFRESH_MARGIN = timedelta(minutes=5)
# The scheduled job refreshes when the pair is older than this (refresh tokens die after 3 months unused) ...
SCHEDULED_REFRESH_AGE = timedelta(days=30)
# ... or when the access token expires within this.
SCHEDULED_REFRESH_SOON = timedelta(hours=2)


class OAuthStateMismatch(AmoCRMError):
    default_title = "The authorization answer does not match the request we started (state mismatch)"


# --- Authorize URL ----------------------------------------------------------------------------------------


def authorize_url_build(*, connection: AmoConnection, mode: str = "post_message") -> str:
    """The consent page URL with a fresh random ``state`` stored on the connection.

    The sandbox (or any non-amoCRM host) serves its own ``/oauth`` page; real accounts use
    ``settings.AMOCRM_AUTHORIZE_URL``.
    """
    state = secrets.token_urlsafe(24)
    AmoConnection.objects.filter(pk=connection.pk).update(oauth_state=state)
    connection.oauth_state = state
    base = connection.base_url.rstrip("/")
    page = settings.AMOCRM_AUTHORIZE_URL if (not base or is_real_amocrm(base)) else f"{base}/oauth"
    return f"{page}?{urlencode({'client_id': connection.client_id, 'state': state, 'mode': mode})}"


# --- Token endpoint ---------------------------------------------------------------------------------------


def _secrets_of(connection: AmoConnection) -> list[str]:
    return [
        connection.client_secret,
        connection.access_token,
        connection.refresh_token,
        connection.webhook_secret,
    ]


def _token_post(*, connection: AmoConnection, payload: dict[str, str]) -> dict[str, Any]:
    """The token endpoint with the connection's credentials and ``payload`` (the grant)."""
    body = {
        "client_id": connection.client_id,
        "client_secret": connection.client_secret,
        "redirect_uri": connection.redirect_uri,
        **payload,
    }
    return token_request(
        base_url=connection.base_url, body=body, secrets=_secrets_of(connection), limiter=get_rate_limiter()
    )


def _expires_at(data: dict[str, Any]) -> datetime:
    return timezone.now() + timedelta(seconds=int(data.get("expires_in") or 86400))


# --- Code exchange ----------------------------------------------------------------------------------------


def _account_host_from_referer(referer: str) -> str | None:
    """``https://{referer}`` when ``referer`` is an amoCRM/Kommo account host, else None (trust no other)."""
    host = (urlsplit(f"//{referer.strip()}").hostname or "").lower()
    if host and any(host.endswith(suffix) for suffix in REAL_HOST_SUFFIXES):
        return f"https://{host}"
    return None


def code_exchange(
    *, connection: AmoConnection, code: str, state: str | None, referer: str = ""
) -> AmoConnection:
    """Exchange an authorization ``code`` for tokens and mark the connection connected.

    ``state`` must equal the one :func:`authorize_url_build` stored (``None`` skips the check: only for the
    control-API path of ``amocrm_connect_sandbox``). With a real amoCRM ``referer`` the account host becomes
    ``https://{referer}``; with the sandbox the configured base URL stays.
    """
    if state is not None:
        expected = connection.oauth_state
        if not expected or not secrets.compare_digest(expected, state):
            raise OAuthStateMismatch()
    AmoConnection.objects.filter(pk=connection.pk).update(oauth_state="")
    connection.oauth_state = ""
    if referer and (not connection.base_url or is_real_amocrm(connection.base_url)):
        host = _account_host_from_referer(referer)
        if host:
            connection.base_url = host
            connection.subdomain = host.removeprefix("https://").split(".")[0]
    data = _token_post(
        connection=connection, payload={"grant_type": "authorization_code", "code": code.strip()}
    )
    return _store_tokens(connection=connection, data=data, long_lived=False)


def _store_tokens(*, connection: AmoConnection, data: dict[str, Any], long_lived: bool) -> AmoConnection:
    now = timezone.now()
    connection.access_token = data["access_token"]
    connection.refresh_token = data.get("refresh_token", "")
    connection.expires_at = data["expires_at"] if "expires_at" in data else _expires_at(data)
    connection.token_refreshed_at = now
    connection.long_lived = long_lived
    connection.state = AmoConnection.State.CONNECTED
    connection.state_detail = ""
    connection.state_changed_at = now
    connection.save()
    logger.info("AmoCRM connected to %s (long-lived: %s)", connection.base_url, long_lived)
    return connection


# --- Long-lived token -------------------------------------------------------------------------------------


def jwt_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT (not verified: amoCRM verifies it), or ``{}`` when unreadable."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, TypeError):
        return {}
    return claims if isinstance(claims, dict) else {}


def jwt_expiry(token: str) -> datetime | None:
    """The ``exp`` claim of a JWT, or None when absent/unreadable."""
    try:
        return datetime.fromtimestamp(int(jwt_claims(token)["exp"]), tz=UTC)
    except (KeyError, ValueError, TypeError):
        return None


def long_lived_connect(*, connection: AmoConnection, token: str, base_url: str = "") -> AmoConnection:
    """Use a long-lived token (no refresh token, expiry read from the JWT ``exp`` claim).

    https://www.kommo.com/developers/content/oauth/long-lived-token
    """
    token = token.strip()
    if not token:
        raise ValueError(_("The long-lived token is empty."))
    if base_url:
        connection.base_url = base_url.strip().rstrip("/")
    if not connection.base_url:
        raise ValueError(_("Enter the account host first."))
    data = {"access_token": token, "refresh_token": "", "expires_at": jwt_expiry(token)}
    return _store_tokens(connection=connection, data=data, long_lived=True)


# --- Refresh ----------------------------------------------------------------------------------------------


def token_refresh(
    *, connection_id: int, expected_access_token: str | None = None, force: bool = False
) -> AmoConnection:
    """Rotate the token pair under a row lock and return the fresh connection row.

    ``expected_access_token``: the token the caller holds (e.g. the one that just got 401). If the row holds
    another one, another worker already refreshed and nothing is sent. Without it, the refresh happens only
    when the token expires within ``REFRESH_MARGIN`` (or ``force``). A revoked refresh token marks the
    connection ``revoked`` and raises ``CircuitOpen``.
    """
    failure: CircuitOpen | None = None
    # durable: the rotated pair must commit now. Inside a caller's transaction a rollback would lose the new
    # refresh token after the old one was spent, so calling the client inside ``atomic()`` is refused.
    with transaction.atomic(durable=True):
        connection = AmoConnection.objects.select_for_update().get(pk=connection_id)
        if connection.state != AmoConnection.State.CONNECTED:
            raise CircuitOpen(
                title=connection.state_detail or "AmoCRM is not connected", state=connection.state
            )
        if connection.long_lived or not connection.refresh_token:
            raise AuthError(title="The long-lived token cannot be refreshed: generate a new one in amoCRM")
        if expected_access_token is not None and connection.access_token != expected_access_token:
            return connection
        if (
            expected_access_token is None
            and not force
            and not connection.token_expires_within(REFRESH_MARGIN)
        ):
            return connection
        try:
            data = _refresh_grant(connection)
        except CircuitOpen as exc:
            failure = exc
        else:
            connection.access_token = data["access_token"]
            connection.refresh_token = data.get("refresh_token") or connection.refresh_token
            connection.expires_at = _expires_at(data)
            connection.token_refreshed_at = timezone.now()
            connection.save(
                update_fields=[
                    "access_token",
                    "refresh_token",
                    "expires_at",
                    "token_refreshed_at",
                    "updated_at",
                ]
            )
            logger.info("AmoCRM token refreshed for connection %s", connection_id)
    if failure is not None:
        connection_set_state(connection_id=connection_id, state=failure.state, detail=failure.title)
        raise failure
    return connection


def _refresh_grant(connection: AmoConnection) -> dict[str, Any]:
    """The refresh_token grant; when the account's host answers 404/401 the account may have moved to another
    domain (amoCRM ↔ Kommo): the grant is sent once more to where amoCRM says it lives now."""
    payload = {"grant_type": "refresh_token", "refresh_token": connection.refresh_token}
    try:
        return _token_post(connection=connection, payload=payload)
    except (NotFound, AuthError):
        if not _follow_moved_account(connection):
            raise
    return _token_post(connection=connection, payload=payload)


def _follow_moved_account(connection: AmoConnection) -> bool:
    """Ask amoCRM where the account lives now (the API domain is a claim of our access token); move the
    connection there. True when it moved."""
    api_domain = str(jwt_claims(connection.access_token).get("api_domain") or "")
    if not api_domain:
        return False
    scheme = urlsplit(connection.base_url).scheme or "https"
    try:
        info = account_domain(
            api_url=f"{scheme}://{api_domain}",
            refresh_token=connection.refresh_token,
            secrets=_secrets_of(connection),
            limiter=get_rate_limiter(),
        )
    except AmoCRMError as exc:
        logger.warning("AmoCRM account lookup failed: %s", exc.title)
        return False
    domain, subdomain = str(info["domain"]).strip().lower(), str(info.get("subdomain") or "").strip()
    if subdomain and ":" not in domain and not domain.startswith(f"{subdomain.lower()}."):
        domain = f"{subdomain.lower()}.{domain}"  # a bare "amocrm.ru" / "kommo.com"
    base_url = f"{scheme}://{domain}"
    if base_url == connection.base_url.rstrip("/"):
        return False
    logger.warning("AmoCRM account moved from %s to %s", connection.base_url, base_url)
    connection.base_url, connection.subdomain = base_url, subdomain or connection.subdomain
    connection.save(update_fields=["base_url", "subdomain", "updated_at"])
    return True


def token_refresh_if_due(*, connection_id: int) -> bool:
    """The scheduled job: refresh when the pair is 30+ days old or the access token expires within 2 hours.

    Keeps the 3-month refresh token alive on a quiet installation. Returns True when a refresh happened.
    """
    connection = AmoConnection.objects.filter(pk=connection_id).first()
    if connection is None or connection.state != AmoConnection.State.CONNECTED or connection.long_lived:
        return False
    old = (
        connection.token_refreshed_at is None
        or connection.token_refreshed_at < timezone.now() - SCHEDULED_REFRESH_AGE
    )
    if not (old or connection.token_expires_within(SCHEDULED_REFRESH_SOON)):
        return False
    before = connection.access_token
    refreshed = token_refresh(connection_id=connection_id, expected_access_token=before)
    return refreshed.access_token != before


# --- Disconnect -------------------------------------------------------------------------------------------


def disconnect(*, connection_id: int) -> None:
    """Stop all calls at once; in the cluster, remove our webhook from amoCRM, then forget the tokens.

    Credentials, field ids and the stage map stay (``account.setup.account_disconnect_finish``).
    """
    AmoConnection.objects.filter(pk=connection_id).update(
        oauth_state="",
        state=AmoConnection.State.NOT_CONNECTED,
        state_detail="Disconnected by an administrator",
        state_changed_at=timezone.now(),
    )
    queue.enqueue_on_commit(DISCONNECT_TASK, connection_id)


def tokens_forget(*, connection_id: int) -> None:
    """Wipe the tokens of a disconnected account (nothing more can be sent with them)."""
    AmoConnection.objects.filter(pk=connection_id).exclude(state=AmoConnection.State.CONNECTED).update(
        access_token="", refresh_token="", expires_at=None, long_lived=False
    )
