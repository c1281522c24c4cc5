"""Read-side queries of the sync engine for the console (the orders list, the sync log, failed syncs)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Count, Min, Q, QuerySet
from django.db.models.functions import Substr, TruncHour
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.conf import Conf
from django_q.models import OrmQ

from console.amocrm.api.errors import CIRCUIT_KINDS
from console.amocrm.models import AmoUser, OrderSync, OrderTask, SyncLog


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
    """Orders whose sync failed for good or waits for a retry, oldest problem first: the rows the pages show
    as failed (``web.sync_state``); one queued again by a manager (no retry time) waits for a worker and is
    no failure any more, so the page's counts and rows tell the same after a retry."""
    waiting = (
        OrderSync.objects.filter(state=OrderSync.State.QUEUED, next_retry_at__isnull=False)
        .exclude(error_kind="")
        .exclude(error_kind__in=CIRCUIT_KINDS)
    )
    failed = OrderSync.objects.filter(state=OrderSync.State.FAILED)
    return (failed | waiting).select_related("order", "order__customer").order_by("updated_at")


# --- the dashboard ------------------------------------------------------------------------------------------

FAILED_OUTCOMES = (SyncLog.Outcome.FAILED, SyncLog.Outcome.RETRY)
SYNCED_OUTCOMES = (SyncLog.Outcome.OK, SyncLog.Outcome.NOOP)


def sync_failures_by_kind(*, since: datetime) -> list[tuple[str, int]]:
    """``[(error kind, attempts)]`` of the sync attempts that failed (or will retry) since ``since``, most
    first; attempts of no recorded kind count as "other"."""
    rows = (
        SyncLog.objects.filter(started_at__gte=since, outcome__in=FAILED_OUTCOMES)
        .values("error_kind")
        .annotate(n=Count("id"))
        .order_by("-n", "error_kind")
    )
    counts: dict[str, int] = {}
    for row in rows:
        kind = row["error_kind"] or "other"
        counts[kind] = counts.get(kind, 0) + row["n"]
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def _hour() -> Substr | TruncHour:
    """The hour of ``started_at``. SQLite would run Django's ``TruncHour`` as a Python function per row (about
    a second for 60,000 rows on the benchmark machine); there the hour is cut from the stored UTC text
    ("YYYY-MM-DD HH…", Django's SQLite format), which names the same hours as local time in any zone whose
    offset is whole hours (Moscow: +3), and :func:`_as_hour` reads it back as a UTC moment."""
    if connection.vendor == "sqlite":
        return Substr("started_at", 1, 13)
    return TruncHour("started_at", tzinfo=timezone.get_current_timezone())


def _as_hour(value: datetime | str) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.strptime(value, "%Y-%m-%d %H").replace(tzinfo=UTC)


def sync_outcomes_per_hour(*, since: datetime) -> dict[datetime, tuple[int, int]]:
    """``{hour (an aware moment): (synced, failed)}`` of the sync attempts since ``since``:
    synced = done or nothing to do, failed = failed or will retry; a manager's controls (skip, unlink, …)
    are not attempts."""
    rows = (
        SyncLog.objects.filter(started_at__gte=since)
        .exclude(event="manager")
        .annotate(hour=_hour())
        .values("hour")
        .annotate(
            synced=Count("id", filter=Q(outcome__in=SYNCED_OUTCOMES)),
            failed=Count("id", filter=Q(outcome__in=FAILED_OUTCOMES)),
        )
        .order_by()
    )
    return {_as_hour(row["hour"]): (row["synced"], row["failed"]) for row in rows}


@dataclass(frozen=True)
class QueueHealth:
    """The task queue: ``depth`` tasks waiting, ``running`` taken by a worker, the oldest waiting one's age
    (None when unknown, e.g. with Redis, or when nothing waits)."""

    broker: str
    depth: int
    running: int | None
    oldest_age: timedelta | None


def sync_queue_health() -> QueueHealth:
    """The django-q2 queue's depth and its oldest waiting task's age: one query with the ORM broker (a task
    waits while its ``lock`` is in the past and is taken while it is in the future); Redis tells the depth
    only."""
    if not Conf.ORM:
        return QueueHealth(broker="redis", depth=get_broker().queue_size(), running=None, oldest_age=None)
    now = timezone.now()
    waiting = Q(lock__lte=now)
    row = (
        OrmQ.objects.using(Conf.ORM)
        .filter(key=Conf.CLUSTER_NAME)
        .aggregate(
            depth=Count("id", filter=waiting),
            running=Count("id", filter=Q(lock__gt=now)),
            oldest=Min("lock", filter=waiting),
        )
    )
    oldest = now - row["oldest"] if row["oldest"] else None
    return QueueHealth(broker="orm", depth=row["depth"], running=row["running"], oldest_age=oldest)


def order_tasks_shown(order_id: int) -> list[dict[str, Any]]:
    """The order's amoCRM tasks for its page: kind label, due, the manager's name (amoCRM user), done/open."""
    rows = list(OrderTask.objects.filter(order_id=order_id).order_by("due"))
    names = dict(
        AmoUser.objects.filter(
            amo_id__in=[r.responsible_amo_id for r in rows if r.responsible_amo_id]
        ).values_list("amo_id", "name")
    )
    return [
        {
            "kind": row.get_kind_display(),
            "due": row.due,
            "manager": names.get(row.responsible_amo_id, ""),
            "completed": row.completed,
            "closed": not row.wanted,
            "amo_id": row.amo_id,
        }
        for row in rows
    ]
