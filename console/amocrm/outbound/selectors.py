"""Read-side queries of the sync engine for the console (the orders list, the sync log, failed syncs)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet

from console.amocrm.models import OrderSync, SyncLog


def order_sync_states(*, order_ids: Iterable[int]) -> dict[int, OrderSync]:
    """``{order_id: OrderSync}`` for the given orders (orders never seen by the sync are absent)."""
    return {s.order_id: s for s in OrderSync.objects.filter(order_id__in=list(order_ids))}


def sync_log_list(*, order_id: int | None = None, outcome: str = "", trigger: str = "") -> QuerySet[SyncLog]:
    """Sync log rows, newest first, optionally for one order, one outcome, or a trigger prefix."""
    rows = SyncLog.objects.select_related("order")
    if order_id:
        rows = rows.filter(order_id=order_id)
    if outcome in SyncLog.Outcome.values:
        rows = rows.filter(outcome=outcome)
    if trigger:
        rows = rows.filter(trigger__startswith=trigger)
    return rows


def sync_failed_list() -> QuerySet[OrderSync]:
    """Orders whose sync failed for good or waits for a retry, oldest problem first."""
    waiting = OrderSync.objects.filter(state=OrderSync.State.QUEUED).exclude(last_error_title="")
    failed = OrderSync.objects.filter(state=OrderSync.State.FAILED)
    return (failed | waiting).select_related("order", "order__customer").order_by("updated_at")
