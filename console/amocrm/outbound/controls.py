"""A manager's controls over an order's sync: push, skip, unskip, unlink, link to an existing deal, and the
same for many orders at once. Each is logged in the order's sync log; none calls amoCRM in the caller's
request except :func:`order_link_to_lead`, which runs in the cluster (``order_link_request`` enqueues it)."""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import F
from django.utils import timezone

from console.amocrm import queue
from console.amocrm.account.access import account_client
from console.amocrm.api.errors import AmoCRMError, NotFound, error_detail, error_title
from console.amocrm.api.redaction import redact
from console.amocrm.models import OrderSync, SyncLog
from console.amocrm.outbound.job import control_log
from console.amocrm.outbound.products import lead_products
from console.amocrm.outbound.queueing import enqueue_bulk, order_sync_request, order_sync_state
from console.orders.models import Order

State = OrderSync.State
LINK_TASK = "console.amocrm.tasks.order_link_task"


def order_push(*, order_id: int, trigger: str) -> bool:
    """Push now: a full sync of the order (an unlinked one gets a new deal). Not for skipped orders.

    Returns True when a sync was queued.
    """
    sync = order_sync_state(order=Order.objects.get(pk=order_id))
    if sync.state == State.SKIPPED:
        return False
    # Forget what we believe was pushed: the deal's fields and stage are sent again and its product links
    # are re-read from amoCRM (``products.pushed_products_reread``), so manual edits in amoCRM are put right.
    OrderSync.objects.filter(pk=sync.pk).update(
        attempts=0, pushed_lead_hash="", payload_hash="", pushed_pipeline_id=None, pushed_status_id=None
    )
    return order_sync_request(order_id=order_id, trigger=trigger, event="push", force=True)


def order_skip(*, order_id: int, trigger: str) -> None:
    """Never sync this order (until unskipped). The deal, if any, stays as it is in amoCRM."""
    sync = order_sync_state(order=Order.objects.get(pk=order_id))
    OrderSync.objects.filter(pk=sync.pk).update(state=State.SKIPPED, next_retry_at=None, task_pending=False)
    control_log(order_id, "skip", trigger, sync)


def order_unskip(*, order_id: int, trigger: str) -> bool:
    """Sync this order again: leaves ``skipped`` and queues a push."""
    sync = order_sync_state(order=Order.objects.get(pk=order_id))
    if sync.state == State.SKIPPED:
        OrderSync.objects.filter(pk=sync.pk).update(
            state=State.NOT_SYNCED if not sync.lead_id else State.SYNCED
        )
    control_log(order_id, "unskip", trigger, sync)
    return order_push(order_id=order_id, trigger=trigger)


def order_unlink(*, order_id: int, trigger: str) -> None:
    """Forget the deal link without touching amoCRM (state ``unlinked``); the sync log keeps the history."""
    sync = order_sync_state(order=Order.objects.get(pk=order_id))
    control_log(order_id, "unlink", trigger, sync)
    OrderSync.objects.filter(pk=sync.pk).update(
        state=State.UNLINKED,
        lead_id=None,
        pushed_pipeline_id=None,
        pushed_status_id=None,
        payload_hash="",
        pushed_lead_hash="",
        pushed_products={},
        note_added=False,
        create_pending=False,
        next_retry_at=None,
        task_pending=False,
        lead_deleted_at=None,
        last_amo_modified=None,
    )


def _lead_owned_elsewhere(order_id: int, lead_id: int) -> None:
    if OrderSync.objects.filter(lead_id=lead_id).exclude(order_id=order_id).exists():
        raise ValueError(f"Lead {lead_id} is already linked to another order.")


def order_link_to_lead(*, order_id: int, lead_id: int, trigger: str) -> OrderSync:
    """Link the order to an existing deal (checked in amoCRM), then queue a push making it match the order.

    Raises ``NotFound`` when amoCRM has no such deal, ``ValueError`` when another order already owns it.
    """
    order = Order.objects.get(pk=order_id)
    _lead_owned_elsewhere(order_id, lead_id)
    if OrderSync.objects.filter(order=order, state=State.SYNCING).exists():
        raise ValueError("The order is being synced right now; try again in a moment.")
    client = account_client()
    lead = client.get_lead(int(lead_id))
    if not lead:
        raise NotFound(title=f"Lead {lead_id} does not exist in AmoCRM", status=204)
    products = lead_products(client, int(lead_id))
    sync = order_sync_state(order=order)
    OrderSync.objects.filter(pk=sync.pk).update(
        state=State.SYNCED,
        lead_id=int(lead_id),
        pushed_pipeline_id=lead.get("pipeline_id"),
        pushed_status_id=lead.get("status_id"),
        payload_hash="",
        pushed_lead_hash="",
        pushed_products={str(k): v for k, v in products.items()},
        contact_id=None,  # so the push attaches our contact and company to this deal
        company_id=None,
        note_added=True,
        create_pending=False,
        lead_deleted_at=None,
        last_amo_modified=None,
        attempts=0,
        next_retry_at=None,
    )
    sync.refresh_from_db()
    control_log(order_id, "link_to_lead", trigger, sync, calls=client.calls)
    order_sync_request(order_id=order_id, trigger=trigger, event="link")
    sync.refresh_from_db()
    return sync


def order_link_request(*, order_id: int, lead_id: int, trigger: str) -> None:
    """Ask for the order to be linked to deal ``lead_id``.

    Checks now what needs no amoCRM call and leaves the lookup in amoCRM to the cluster (``order_link_run``).
    Raises ``ValueError`` when another order owns the deal.
    """
    Order.objects.get(pk=order_id)
    _lead_owned_elsewhere(order_id, lead_id)
    queue.enqueue_on_commit(LINK_TASK, order_id, lead_id, trigger)


def order_link_run(*, order_id: int, lead_id: int, trigger: str) -> str:
    """The background half of ``order_link_request``: link, or log why not (shown in the order's sync log)."""
    started = timezone.now()
    try:
        order_link_to_lead(order_id=order_id, lead_id=lead_id, trigger=trigger)
    except (AmoCRMError, ValueError) as exc:
        error = exc if isinstance(exc, AmoCRMError) else None
        SyncLog.objects.create(
            order_id=order_id,
            event="manager",
            action="link_to_lead",
            trigger=trigger[:160],
            started_at=started,
            outcome=SyncLog.Outcome.FAILED,
            lead_id=lead_id,
            error_title=redact(error_title(exc) if error else str(exc))[:500],
            error_detail=error_detail(exc),
            error_status=getattr(error, "status", None),
            request_id=(getattr(error, "request_id", "") or "")[:100],
            resolved=True,  # a refused link is an answer, not a failure waiting for a retry
        )
        return "failed"
    return "linked"


def orders_push_bulk(*, order_ids: Sequence[int], trigger: str) -> int:
    """Queue a bulk sync of many orders (batch calls), skipped ones left out; returns how many were queued."""
    ids = []
    for order in Order.objects.filter(pk__in=list(order_ids)):
        sync = order_sync_state(order=order)
        if sync.state == State.SKIPPED:
            continue
        taken = (
            OrderSync.objects.filter(pk=sync.pk)
            .exclude(state=State.SYNCING)
            .update(
                task_pending=True,
                state=State.QUEUED,
                next_retry_at=None,
                attempts=0,
                pending_trigger=trigger[:160],
                pending_event="bulk",
                change_seq=F("change_seq") + 1,
                updated_at=timezone.now(),
            )
        )
        if taken:
            ids.append(order.pk)
    enqueue_bulk(order_ids=ids, trigger=trigger)
    return len(ids)


def order_sync_toggle(*, order_id: int, trigger: str) -> bool:
    """The order's "do not sync" flag changed: skip it, or unskip it (which queues a push).

    Returns True when the flag decided what happens (the caller queues nothing more).
    """
    order = Order.objects.get(pk=order_id)
    sync = order_sync_state(order=order)
    if order.sync_disabled and sync.state != State.SKIPPED:
        order_skip(order_id=order_id, trigger=trigger)
        return True
    if not order.sync_disabled and sync.state == State.SKIPPED:
        order_unskip(order_id=order_id, trigger=trigger)
        return True
    return False
