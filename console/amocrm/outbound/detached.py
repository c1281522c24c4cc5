"""Deals no longer attached to an order, told so in amoCRM: no deal is left open, or silently orphaned.

- An order deleted outright (``Order.delete()``, not the soft delete): its deal goes to the "lost" stage with
  a note, as a soft-deleted order's deal does. Its sync row goes with the order, so the ``pre_delete``
  receiver writes the deal down first (:func:`detached_lead_request`).
- An order a manager unlinked from its deal: the deal gets a note saying so.

The cluster does it (:func:`detached_leads_run`), retrying transient errors on the sync schedule.

https://www.amocrm.ru/developers/content/crm_platform/leads-api (the stage),
https://www.amocrm.ru/developers/content/crm_platform/events-and-notes (the note)
"""

from __future__ import annotations

import logging

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone

from console.amocrm import queue
from console.amocrm.account.access import account_client
from console.amocrm.api.client import AmoCRMClient
from console.amocrm.api.errors import AmoCRMError, CircuitOpen, error_title
from console.amocrm.api.redaction import redact
from console.amocrm.models import DetachedLead, SyncLog
from console.amocrm.outbound import payloads
from console.amocrm.outbound.retries import max_attempts, next_retry_at
from console.amocrm.stagemap import StageMap

logger = logging.getLogger(__name__)

DETACHED_TASK = "console.amocrm.tasks.detached_leads_task"
Reason = DetachedLead.Reason


def detached_lead_request(*, lead_id: int, order_number: str, reason: str, actor: str = "") -> DetachedLead:
    """Write down that deal ``lead_id`` lost its order (``reason``); the cluster tells amoCRM after commit."""
    row = DetachedLead.objects.create(
        lead_id=lead_id, order_number=order_number[:32], reason=reason, actor=actor[:160]
    )
    queue.enqueue_on_commit(DETACHED_TASK)
    return row


def _due() -> list[DetachedLead]:
    now = timezone.now()
    waiting = DetachedLead.objects.filter(done_at__isnull=True, attempts__lt=max_attempts())
    due = waiting.filter(Q(next_retry_at__isnull=True) | Q(next_retry_at__lte=now))
    return list(due.order_by("id")[:100])


def detached_leads_due() -> bool:
    """True when a detached deal waits for its (first or next) attempt."""
    return bool(_due())


def person_name(actor: str) -> str:
    """Who ``actor`` (a sync trigger: "manager:anna") is, as people call them: the console user's full name,
    else the user name; "" for an actor that is no person (the system, a webhook)."""
    kind, _, username = actor.partition(":")
    if kind != "manager" or not username:
        return ""
    user = get_user_model().objects.filter(username=username).first()
    return (user.get_full_name().strip() or username) if user is not None else username


def _note(row: DetachedLead) -> str:
    number = row.order_number or "—"
    if row.reason == Reason.DELETED:
        return f"Заказ {number} удалён в консоли: сделка закрыта."
    name = person_name(row.actor)
    who = f" ({name})" if name else ""
    return f"Сделка отвязана от заказа {number} в консоли{who}; заказ больше не обновляет эту сделку."


def _tell(client: AmoCRMClient, row: DetachedLead, stage_map: StageMap) -> None:
    stage = stage_map.stage_for("cancelled", deleted=True) if row.reason == Reason.DELETED else None
    if stage is not None:
        client.update_lead(row.lead_id, {"pipeline_id": stage.pipeline_id, "status_id": stage.status_id})
    client.add_notes("leads", [payloads.note_payload(row.lead_id, _note(row))])


def detached_leads_run() -> int:
    """Tell amoCRM about every due detached deal; returns how many were done now."""
    rows = _due()
    if not rows:
        return 0
    client, stage_map, done = account_client(), StageMap.load(), 0
    for row in rows:
        calls = client.calls
        try:
            _tell(client, row, stage_map)
        except AmoCRMError as exc:
            _failed(row, exc)
            if isinstance(exc, CircuitOpen):
                break
            continue
        DetachedLead.objects.filter(pk=row.pk).update(done_at=timezone.now(), last_error="")
        SyncLog.objects.create(
            event=row.reason, action=f"lead_{row.reason}", trigger=row.actor or "system",
            outcome=SyncLog.Outcome.OK, lead_id=row.lead_id, http_calls=client.calls - calls,
        )  # fmt: skip
        done += 1
    return done


def _failed(row: DetachedLead, exc: AmoCRMError) -> None:
    attempts = row.attempts + 1
    permanent = exc.permanent and not isinstance(exc, CircuitOpen)
    DetachedLead.objects.filter(pk=row.pk).update(
        attempts=max_attempts() if permanent else attempts,
        next_retry_at=next_retry_at(attempts),
        last_error=redact(error_title(exc))[:2000],
    )
    logger.warning(
        "telling deal %s of order %s (%s) failed: %s", row.lead_id, row.order_number, row.reason, exc
    )
