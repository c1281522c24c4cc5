"""Asking for an order to be synced: its sync row, and one task per burst of changes.

Every change bumps ``OrderSync.change_seq``; a compare-and-set of ``task_pending`` lets only the first change
of a burst enqueue a task, and a change made while the order is being pushed makes the running sync queue one
more when it ends (see ``outbound.outcomes``). Tasks are enqueued when the transaction commits.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import F
from django.utils import timezone

from console.amocrm import queue
from console.amocrm.models import OrderSync
from console.orders.models import Order

State = OrderSync.State
SYNC_TASK = "console.amocrm.tasks.order_sync_task"
BULK_TASK = "console.amocrm.tasks.orders_sync_bulk_task"
# Orders per bulk task: 200 new orders of new customers take about 40 s at 7 req/s, well inside Q_TIMEOUT.
BULK_CHUNK = 200


def order_sync_state(*, order: Order) -> OrderSync:
    """The order's sync row, created on first use (``skipped`` for an order marked "do not sync")."""
    initial = State.SKIPPED if order.sync_disabled else State.NOT_SYNCED
    sync, _created = OrderSync.objects.get_or_create(order=order, defaults={"state": initial})
    return sync


def order_sync_request(*, order_id: int, trigger: str, event: str = "updated", force: bool = False) -> bool:
    """Ask for a sync of ``order_id``'s latest state; enqueue a task unless one is already pending.

    Skipped and unlinked orders are left alone unless ``force`` (a manager's explicit push), and a draft (a
    deal made in amoCRM, not confirmed yet) always: its deal exists and nothing of ours goes to it before a
    manager confirms it. Returns True when a task was enqueued by this call. The task is enqueued when the
    current transaction commits.
    """
    order = Order.objects.filter(pk=order_id).first()
    if order is None or order.is_draft:
        return False
    sync = order_sync_state(order=order)
    if sync.state in (State.SKIPPED, State.UNLINKED) and not force:
        return False
    rows = OrderSync.objects.filter(pk=sync.pk)
    rows.update(change_seq=F("change_seq") + 1, pending_trigger=trigger[:160], pending_event=event[:40])
    if force:
        rows.filter(state__in=(State.SKIPPED, State.UNLINKED)).update(state=State.QUEUED, next_retry_at=None)
    return enqueue_if_idle(sync_pk=sync.pk, order_id=order_id)


def enqueue_if_idle(*, sync_pk: int, order_id: int) -> bool:
    """Compare-and-set ``task_pending`` and enqueue after commit; a syncing row re-queues itself."""
    claimed = (
        OrderSync.objects.filter(pk=sync_pk, task_pending=False)
        .exclude(state__in=(State.SYNCING, State.SKIPPED, State.UNLINKED))
        .update(task_pending=True, state=State.QUEUED, next_retry_at=None, updated_at=timezone.now())
    )
    if claimed:
        queue.enqueue_on_commit(SYNC_TASK, order_id)
    return bool(claimed)


def enqueue_bulk(*, order_ids: Sequence[int], trigger: str) -> None:
    """One bulk task per ``BULK_CHUNK`` orders, chunked by customer: the orders of one customer land in one
    task, so parallel bulk tasks do not wait on each other's per-customer contact lease."""
    by_customer = dict(Order.objects.filter(pk__in=list(order_ids)).values_list("pk", "customer_id"))
    ordered = sorted(order_ids, key=lambda pk: (by_customer.get(pk, 0), pk))
    for start in range(0, len(ordered), BULK_CHUNK):
        queue.enqueue_on_commit(BULK_TASK, ordered[start : start + BULK_CHUNK], trigger)
