"""The webhook health check: is our subscription registered in amoCRM, with our events, and enabled?

https://www.amocrm.ru/developers/content/crm_platform/webhooks-api: ``GET /api/v4/webhooks`` with
``filter[destination]`` lists our subscription (204 when there is none), ``POST`` upserts it by destination
(and re-enables a disabled one), ``DELETE`` removes it. amoCRM disables a webhook whose deliveries keep
failing. The check repairs what it finds wrong: a missing subscription or missing events are posted again; a
disabled one is posted again and, if amoCRM still reports it disabled, deleted and created. What it found and
did is stored as reason codes in :class:`~console.amocrm.models.WebhookHealth` (the connection page and the
dashboard say it).
"""

from __future__ import annotations

import logging
from typing import Any

from django.utils import timezone

from console.amocrm import queue
from console.amocrm.account.access import account_client
from console.amocrm.account.setup import WEBHOOK_EVENTS, webhook_destination
from console.amocrm.api.client import AmoCRMClient
from console.amocrm.api.errors import AmoCRMError
from console.amocrm.models import AmoConnection, WebhookHealth
from console.amocrm.reasons import Code, Reason, reason

logger = logging.getLogger(__name__)

State = WebhookHealth.State


HEALTH_TASK = "console.amocrm.tasks.webhook_health_task"


def webhook_health_enqueue(*, connection_id: int = 1) -> None:
    """Run the check in the cluster (an admin's "check now") once the current transaction commits."""
    queue.enqueue_on_commit(HEALTH_TASK, connection_id)


def webhook_health(connection_id: int = 1) -> WebhookHealth | None:
    """The stored health of the connection's webhook (None before the first check)."""
    return WebhookHealth.objects.filter(connection_id=connection_id).first()


def webhook_health_check(
    *, connection_id: int = 1, base_url: str | None = None, client: AmoCRMClient | None = None
) -> WebhookHealth:
    """Check our subscription and repair it (see the module docstring); store and return the result. Not
    checked (state ``unchecked``) while the account is not connected or its setup has not run."""
    connection = AmoConnection.objects.get(pk=connection_id)
    health, _created = WebhookHealth.objects.get_or_create(connection=connection)
    if connection.state != AmoConnection.State.CONNECTED or not connection.setup_completed_at:
        return health
    destination = webhook_destination(connection=connection, base_url=base_url)
    if not destination:
        state, reasons = State.BROKEN, [reason(Code.WEBHOOK_NO_BASE_URL)]
    else:
        try:
            state, reasons = _check_and_repair(client or account_client(connection), destination)
        except AmoCRMError as exc:
            state = State.BROKEN
            reasons = [reason(Code.WEBHOOK_CHECK_ERROR, error=exc.title, http_status=exc.status)]
    _store(health, state, reasons)
    if state != State.OK:
        logger.warning("AmoCRM webhook check: %s %s", state, [r["code"] for r in reasons])
    return health


def _store(health: WebhookHealth, state: str, reasons: list[Reason]) -> None:
    now = timezone.now()
    health.state, health.reasons, health.checked_at = state, reasons, now
    if state == State.REPAIRED:
        health.repaired_at = now
    if state == State.BROKEN:
        health.broken_since = health.broken_since or now
    else:
        health.broken_since = None
    health.save()


def _ours(client: AmoCRMClient, destination: str) -> dict[str, Any] | None:
    hooks = client.list_webhooks(destination)
    # The filter is exact in amoCRM; compare anyway so a looser server cannot hand us another subscription.
    return next((h for h in hooks if h.get("destination") == destination), None)


def _problems(hook: dict[str, Any] | None) -> list[Reason]:
    """What is wrong with our subscription as amoCRM lists it (empty: nothing)."""
    if hook is None:
        return [reason(Code.WEBHOOK_MISSING)]
    problems = []
    missing = [e for e in WEBHOOK_EVENTS if e not in (hook.get("settings") or [])]
    if missing:
        problems.append(reason(Code.WEBHOOK_EVENTS_MISSING, events=", ".join(missing)))
    if hook.get("disabled"):
        problems.append(reason(Code.WEBHOOK_DISABLED))
    return problems


def _subscribe(client: AmoCRMClient, destination: str, hook: dict[str, Any] | None) -> None:
    """Post our events, keeping any other event the subscription already has."""
    extra = [e for e in (hook or {}).get("settings") or [] if e not in WEBHOOK_EVENTS]
    client.subscribe_webhook(destination, WEBHOOK_EVENTS + extra)


def _check_and_repair(client: AmoCRMClient, destination: str) -> tuple[str, list[Reason]]:
    hook = _ours(client, destination)
    done = _problems(hook)
    if not done:
        return State.OK, [reason(Code.WEBHOOK_OK)]
    _subscribe(client, destination, hook)
    after = _ours(client, destination)
    if after is not None and after.get("disabled"):
        client.unsubscribe_webhook(destination)
        _subscribe(client, destination, after)
        done.append(reason(Code.WEBHOOK_RECREATED))
        after = _ours(client, destination)
    left = _problems(after)
    if left:
        return State.BROKEN, done + [reason(Code.WEBHOOK_STILL_WRONG), *left]
    return State.REPAIRED, done
