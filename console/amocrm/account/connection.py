"""Services on the connection row: credentials, the circuit state, the admin's pause, the webhook secret, and
the audit of every change an admin makes to it.

Every write here is a targeted ``UPDATE`` of the named columns, never a ``save()`` of a possibly stale
instance, so a state change can never overwrite tokens another worker has just rotated.

Pausing (:func:`connection_pause`) puts the circuit in the ``paused`` state: the client's
``ConnectionAccess.credentials()`` refuses every call for any state but ``connected``, so order syncs wait
in the queue and webhook deliveries that need amoCRM stay pending; :func:`connection_unpause` closes it
again. ``paused`` is left only by unpausing, ``blocked`` and ``unpaid`` only by :func:`connection_resume`.

An admin's change is recorded by :func:`connection_audited` as a ``ConfigChange`` (area ``connection``):
who, a summary, and the fields that changed before and after. Secrets are never recorded, only whether one
is stored.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from console.amocrm import queue
from console.amocrm.api.redaction import redact
from console.amocrm.models import AmoConnection, ConfigChange, SyncLog, new_webhook_secret

State = AmoConnection.State
# Audit summaries are stored in English and translated when shown.
AUDIT_SAVED = gettext_noop("Credentials saved")
AUDIT_SAVED_WITH_SECRET = gettext_noop("Credentials saved with a new secret key")
AUDIT_CONNECTED = gettext_noop("Connected through amoCRM's consent page")
AUDIT_LONG_LIVED = gettext_noop("Connected with a long-lived token")
AUDIT_DISCONNECTED = gettext_noop("Disconnected")
AUDIT_RESUMED = gettext_noop("Resumed after a block or an unpaid account")
AUDIT_PAUSED = gettext_noop("Sync paused")
AUDIT_UNPAUSED = gettext_noop("Sync resumed after a pause")
AUDIT_SETUP_RUN = gettext_noop("Account setup queued")
AUDIT_WEBHOOK_SECRET_ROTATED = gettext_noop("Webhook secret rotated")
# The connection's fields an audit entry shows (no secret among them).
AUDITED_FIELDS = (
    "state",
    "base_url",
    "client_id",
    "redirect_uri",
    "account_name",
    "subdomain",
    "long_lived",
    "paused_reason",
    "webhook_destination_hint",
)

logger = logging.getLogger(__name__)

SETUP_TASK = "console.amocrm.tasks.account_setup_task"
ALERTS_TASK = "console.amocrm.tasks.alerts_check_task"
# amoCRM refused us, or a call failed for good: syncing is stopped until someone acts (an alert incident).
BROKEN_STATES = frozenset({State.BLOCKED, State.UNPAID, State.REVOKED, State.REJECTED, State.ERROR})
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
    if state in BROKEN_STATES:
        # The administrators hear of a break at once, not at the next scheduled check.
        queue.enqueue_on_commit(ALERTS_TASK)


def connection_record_error(*, connection_id: int, text: str) -> None:
    AmoConnection.objects.filter(pk=connection_id).update(
        last_error=redact(text)[:2000], last_error_at=timezone.now()
    )


def connection_record_success(*, connection_id: int) -> None:
    AmoConnection.objects.filter(pk=connection_id).update(last_success_at=timezone.now())


def connection_snapshot(connection: AmoConnection) -> dict[str, Any]:
    """What the audit may show of ``connection``: ``AUDITED_FIELDS`` and whether a secret key and a token
    are stored (never their values)."""
    snapshot = {name: getattr(connection, name) for name in AUDITED_FIELDS}
    snapshot.update(secret_key=bool(connection.client_secret), token=bool(connection.access_token))
    return snapshot


@contextmanager
def connection_audited(*, connection_id: int, actor: str, summary: str) -> Iterator[None]:
    """Record what the block changes on the connection row as one ``ConfigChange`` (area ``connection``):
    the snapshot fields that differ, before and after. Nothing is recorded when the block raises."""
    before = connection_snapshot(AmoConnection.objects.get(pk=connection_id))
    yield
    after = connection_snapshot(AmoConnection.objects.get(pk=connection_id))
    changed = [name for name in after if before[name] != after[name]]
    ConfigChange.objects.create(
        area=ConfigChange.Area.CONNECTION,
        actor=actor[:150],
        summary=summary[:300],
        before={name: before[name] for name in changed},
        after={name: after[name] for name in changed},
    )


def connection_save_credentials(
    *,
    connection: AmoConnection,
    base_url: str,
    client_id: str,
    client_secret: str,
    redirect_uri: str,
    actor: str = "",
) -> AmoConnection:
    """Store the integration's credentials; an empty ``client_secret`` keeps the stored one (write-only).
    Audited as done by ``actor``."""
    summary = AUDIT_SAVED_WITH_SECRET if client_secret.strip() else AUDIT_SAVED
    with connection_audited(connection_id=connection.pk, actor=actor, summary=summary):
        return _credentials_store(connection, base_url, client_id, client_secret, redirect_uri)


def _credentials_store(
    connection: AmoConnection, base_url: str, client_id: str, client_secret: str, redirect_uri: str
) -> AmoConnection:
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


def connection_resume(*, connection_id: int, actor: str = "") -> AmoConnection:
    """An admin says the block / payment problem is resolved: close the circuit again (needs tokens).

    Not for a paused sync (that is :func:`connection_unpause`): raises ``ValueError`` with the reason."""
    connection = AmoConnection.objects.get(pk=connection_id)
    if not connection.access_token:
        raise ValueError(_("There is no token to resume with: connect the account first."))
    if connection.state == State.REVOKED:
        raise ValueError(_("Access was revoked: connect the account again instead of resuming."))
    if connection.state == State.REJECTED:
        raise ValueError(_("The integration's id or secret key was rejected: fix them and connect again."))
    if connection.state == State.PAUSED:
        raise ValueError(_("The sync was paused by an administrator: resume it with “Resume the sync”."))
    with connection_audited(connection_id=connection_id, actor=actor, summary=AUDIT_RESUMED):
        connection_set_state(connection_id=connection_id, state=State.CONNECTED, detail="")
    connection.refresh_from_db()
    return connection


def connection_pause(*, connection_id: int, reason: str, actor: str) -> AmoConnection:
    """Stop every call to amoCRM until :func:`connection_unpause`; changes stay recorded and queued.

    Only a connected account can be paused, and ``reason`` (shown on every page) must be given; otherwise
    ``ValueError`` with the reason and nothing changes."""
    reason = reason.strip()
    if not reason:
        raise ValueError(_("Say why the sync is paused."))
    now = timezone.now()
    with connection_audited(connection_id=connection_id, actor=actor, summary=AUDIT_PAUSED):
        paused = AmoConnection.objects.filter(pk=connection_id, state=State.CONNECTED).update(
            state=State.PAUSED,
            state_detail=redact(f"Paused by {actor}: {reason}")[:2000],
            state_changed_at=now,
            paused_reason=reason[:2000],
            paused_by=actor[:150],
            paused_at=now,
        )
        if not paused:
            raise ValueError(_("Only a connected account can be paused."))
    logger.warning("AmoCRM sync paused by %s", actor)
    return AmoConnection.objects.get(pk=connection_id)


def connection_unpause(*, connection_id: int, actor: str) -> AmoConnection:
    """Let calls go out again after :func:`connection_pause`; the queued syncs follow on the retry schedule
    (within a minute) and pending webhook deliveries with the next reconciliation. ``ValueError`` unless
    the sync is paused (a blocked or unpaid account is resumed by :func:`connection_resume`)."""
    with connection_audited(connection_id=connection_id, actor=actor, summary=AUDIT_UNPAUSED):
        resumed = AmoConnection.objects.filter(pk=connection_id, state=State.PAUSED).update(
            state=State.CONNECTED,
            state_detail="",
            state_changed_at=timezone.now(),
            paused_reason="",
            paused_by="",
            paused_at=None,
        )
        if not resumed:
            raise ValueError(_("The sync is not paused."))
    logger.warning("AmoCRM sync resumed by %s", actor)
    return AmoConnection.objects.get(pk=connection_id)


def connection_rotate_webhook_secret(*, connection_id: int, actor: str = "") -> None:
    """A new webhook secret; run account setup afterwards to re-subscribe the new URL (old one is removed).
    Audited as done by ``actor``."""
    with connection_audited(connection_id=connection_id, actor=actor, summary=AUDIT_WEBHOOK_SECRET_ROTATED):
        connection = AmoConnection.objects.get(pk=connection_id)
        connection.webhook_secret = new_webhook_secret()
        connection.save(update_fields=["webhook_secret", "updated_at"])


def connection_calls_recently(*, window: timedelta = timedelta(minutes=1)) -> int:
    """amoCRM requests the sync log recorded for runs started within ``window`` (order syncs, webhook reads,
    reconciliation); calls made outside it (account setup, token refresh) are not counted."""
    since = timezone.now() - window
    return SyncLog.objects.filter(started_at__gte=since).aggregate(calls=Sum("http_calls"))["calls"] or 0


def setup_enqueue(*, connection_id: int) -> None:
    """Run account setup in the cluster once the current transaction commits."""
    queue.enqueue_on_commit(SETUP_TASK, connection_id)
