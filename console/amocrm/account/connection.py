"""Services on the connection row: credentials, the circuit state, the webhook secret.

Every write here is a targeted ``UPDATE`` of the named columns, never a ``save()`` of a possibly stale
instance, so a state change can never overwrite tokens another worker has just rotated.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone

from console.amocrm import queue
from console.amocrm.api.redaction import redact
from console.amocrm.models import AmoConnection, new_webhook_secret

logger = logging.getLogger(__name__)

SETUP_TASK = "console.amocrm.tasks.account_setup_task"
# amoCRM and Kommo account hosts (https://www.amocrm.ru/developers/content/oauth/step-by-step).
REAL_HOST_SUFFIXES = (".amocrm.ru", ".amocrm.com", ".kommo.com")


def is_real_amocrm(base_url: str) -> bool:
    """True when ``base_url`` is an amoCRM/Kommo account host (not the sandbox or another test server)."""
    host = (urlsplit(base_url).hostname or "").lower()
    return any(host.endswith(suffix) for suffix in REAL_HOST_SUFFIXES)


def connection_set_state(*, connection_id: int, state: str, detail: str = "") -> None:
    """Move the connection to ``state`` (the circuit breaker) and remember why (redacted)."""
    now = timezone.now()
    fields: dict[str, Any] = {"state": state, "state_detail": redact(detail)[:2000], "state_changed_at": now}
    if state != AmoConnection.State.CONNECTED:
        fields.update(last_error=redact(detail)[:2000], last_error_at=now)
    AmoConnection.objects.filter(pk=connection_id).update(**fields)
    logger.warning("AmoCRM connection %s -> %s: %s", connection_id, state, redact(detail)[:300])


def connection_record_error(*, connection_id: int, text: str) -> None:
    AmoConnection.objects.filter(pk=connection_id).update(
        last_error=redact(text)[:2000], last_error_at=timezone.now()
    )


def connection_record_success(*, connection_id: int) -> None:
    AmoConnection.objects.filter(pk=connection_id).update(last_success_at=timezone.now())


def connection_save_credentials(
    *, connection: AmoConnection, base_url: str, client_id: str, client_secret: str, redirect_uri: str
) -> AmoConnection:
    """Store the integration's credentials; an empty ``client_secret`` keeps the stored one (write-only)."""
    fields = {
        "base_url": base_url.strip().rstrip("/"),
        "client_id": client_id.strip(),
        "redirect_uri": redirect_uri.strip(),
    }
    for name, value in fields.items():
        setattr(connection, name, value)
    update = list(fields)
    if client_secret.strip():
        connection.client_secret = client_secret.strip()
        update.append("client_secret")
    connection.save(update_fields=[*update, "updated_at"])
    return connection


def connection_defaults_from_env() -> dict[str, str]:
    """The credentials the environment provides (the form's initial values); never includes the secret."""
    return {
        "base_url": settings.AMOCRM_BASE_URL,
        "client_id": settings.AMOCRM_CLIENT_ID,
        "redirect_uri": settings.AMOCRM_REDIRECT_URI,
    }


def connection_fill_from_env(*, connection: AmoConnection) -> AmoConnection:
    """Fill empty credential fields from the environment (client id, secret, redirect URI, account host)."""
    changed = []
    for name, value in {
        **connection_defaults_from_env(),
        "client_secret": settings.AMOCRM_CLIENT_SECRET,
    }.items():
        if value and not getattr(connection, name):
            setattr(connection, name, value.rstrip("/") if name == "base_url" else value)
            changed.append(name)
    if changed:
        connection.save(update_fields=[*changed, "updated_at"])
    return connection


def connection_resume(*, connection_id: int) -> AmoConnection:
    """An admin says the block / payment problem is resolved: close the circuit again (needs tokens)."""
    connection = AmoConnection.objects.get(pk=connection_id)
    if not connection.access_token:
        raise ValueError("There is no token to resume with: connect the account first.")
    if connection.state == AmoConnection.State.REVOKED:
        raise ValueError("Access was revoked: connect the account again instead of resuming.")
    if connection.state == AmoConnection.State.REJECTED:
        raise ValueError("The integration's id or secret key was rejected: fix them and connect again.")
    connection_set_state(connection_id=connection_id, state=AmoConnection.State.CONNECTED, detail="")
    connection.refresh_from_db()
    return connection


def connection_rotate_webhook_secret(*, connection_id: int) -> None:
    """A new webhook secret; run account setup afterwards to re-subscribe the new URL (old one is removed)."""
    connection = AmoConnection.objects.get(pk=connection_id)
    connection.webhook_secret = new_webhook_secret()
    connection.save(update_fields=["webhook_secret", "updated_at"])


def setup_enqueue(*, connection_id: int) -> None:
    """Run account setup in the cluster once the current transaction commits."""
    queue.enqueue_on_commit(SETUP_TASK, connection_id)
