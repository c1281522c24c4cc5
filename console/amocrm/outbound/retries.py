"""When a failed sync is tried again, and the scheduled jobs that keep the queue moving.

- :func:`retry_delay`: 30 s, 2 min, 10 min, 1 h, 6 h, 12 h, 24 h (± 20 %) after attempts 1, 2, …; an order
  fails for good after ``MAX_ATTEMPTS``.
- :func:`sync_due_retries` (every minute): enqueues the orders whose retry is due, and takes back tasks that
  were lost and claims whose worker died.
- :func:`prune_sync_log` (daily): drops sync log rows older than 90 days, except unresolved failures.
"""

from __future__ import annotations

import random
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from console.amocrm import queue
from console.amocrm.models import AmoConnection, OrderSync, SyncLog
from console.amocrm.outbound.queueing import SYNC_TASK, enqueue_bulk

State = OrderSync.State
RETRY_DELAYS = (30, 120, 600, 3600, 6 * 3600, 12 * 3600, 24 * 3600)  # seconds after attempt 1, 2, ...
MAX_ATTEMPTS = 8
JITTER = 0.2  # +- 20 %
# Longer than the cluster's task timeout (Q_TIMEOUT, 120 s by default): an older claim's worker is dead.
CLAIM_TIMEOUT = timedelta(minutes=5)
LOG_RETENTION = timedelta(days=90)


def retry_delay(attempt: int, *, jitter: float = JITTER) -> timedelta:
    """Delay before retry ``attempt`` (1-based): 30 s, 2 min, 10 min, 1 h, 6 h, 12 h, 24 h, +- jitter."""
    base = RETRY_DELAYS[min(max(attempt, 1), len(RETRY_DELAYS)) - 1]
    return timedelta(seconds=base * (1 + random.uniform(-jitter, jitter)))


def connection_is_healthy() -> bool:
    """True when the connection is connected (the circuit is closed)."""
    return AmoConnection.objects.filter(pk=1, state=AmoConnection.State.CONNECTED).exists()


def sync_due_retries() -> int:
    """Enqueue every order whose retry is due (and re-enqueue lost tasks and dead claims). Returns the count.

    Nothing is enqueued while the connection's circuit is open: the orders wait, then resume.
    """
    if not connection_is_healthy():
        return 0
    now = timezone.now()
    OrderSync.objects.filter(state=State.SYNCING, claimed_at__lt=now - CLAIM_TIMEOUT).update(
        state=State.QUEUED, task_pending=False, next_retry_at=now
    )
    OrderSync.objects.filter(
        state=State.QUEUED, task_pending=True, updated_at__lt=now - CLAIM_TIMEOUT
    ).update(task_pending=False, next_retry_at=now)
    due = OrderSync.objects.filter(state=State.QUEUED, task_pending=False).filter(
        Q(next_retry_at__lte=now) | Q(next_retry_at__isnull=True)
    )
    ids = list(due.values_list("order_id", flat=True)[:1000])
    taken = list(
        OrderSync.objects.filter(order_id__in=ids, task_pending=False, state=State.QUEUED).values_list(
            "order_id", flat=True
        )
    )
    OrderSync.objects.filter(order_id__in=taken).update(
        task_pending=True, pending_trigger="schedule", updated_at=now
    )
    if len(taken) == 1:
        queue.enqueue_on_commit(SYNC_TASK, taken[0], "schedule")
    elif taken:
        enqueue_bulk(order_ids=taken, trigger="schedule")
    return len(taken)


def prune_sync_log(*, older_than: timedelta = LOG_RETENTION) -> int:
    """Delete sync log rows older than ``older_than`` except unresolved failures; returns the count."""
    cutoff = timezone.now() - older_than
    old = SyncLog.objects.filter(started_at__lt=cutoff).exclude(
        outcome=SyncLog.Outcome.FAILED, resolved=False
    )
    deleted, _ = old.delete()
    return deleted
