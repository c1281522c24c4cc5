"""When a failed sync is tried again, when a claim counts as abandoned, and the scheduled jobs that keep the
queue moving.

- :func:`next_retry_delay` / :func:`next_retry_at`, the one retry schedule of everything the integration
  tries again (orders, detached deals): ``AMOCRM_RETRY_DELAYS`` (30 s, 2 min, 10 min, 1 h, 6 h, 12 h, 24 h by
  default; ± 20 %) after attempts 1, 2, …; an order, a detached deal or a webhook delivery fails for good
  after ``AMOCRM_MAX_ATTEMPTS`` (:func:`max_attempts`). While the circuit is open an order waits
  ``CIRCUIT_PAUSE`` at a time, no attempt counted.
- :func:`settled_at`: a create whose answer was lost is looked up only once amoCRM has had
  ``AMOCRM_UNCONFIRMED_SETTLE_SECONDS`` to carry it out.
- :func:`sync_due_retries` (every minute): enqueues the orders whose retry is due, and takes back claims whose
  worker died (a ``syncing`` order with no live lease: ``console.amocrm.leases``) and tasks that were lost
  with their cluster.
- :func:`prune_sync_log` (daily): drops sync log rows older than 90 days, except unresolved failures.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django_q.brokers import get_broker

from console.amocrm import queue
from console.amocrm.leases import ORDER, lease_exists, lease_seconds, leases_expire
from console.amocrm.models import AmoConnection, OrderSync, SyncLog
from console.amocrm.outbound.queueing import SYNC_TASK, enqueue_bulk

State = OrderSync.State
JITTER = 0.2  # +- 20 %
# A queued task not started after this long was lost (the Redis broker forgets the tasks a killed cluster had
# fetched; the ORM broker hands them out again after Q_RETRY, 180 s by default).
LOST_TASK_TIMEOUT = timedelta(minutes=5)
LOG_RETENTION = timedelta(days=90)
# How long an order waits while the connection's circuit is open before it looks again (no attempt counted).
CIRCUIT_PAUSE = timedelta(minutes=1)


def next_retry_delay(attempts: int, *, jitter: float = JITTER) -> timedelta:
    """Delay before the next try after ``attempts`` failed ones (1-based): ``AMOCRM_RETRY_DELAYS[attempts -
    1]`` (the last one for any later attempt), +- jitter."""
    delays = settings.AMOCRM_RETRY_DELAYS
    base = delays[min(max(attempts, 1), len(delays)) - 1]
    return timedelta(seconds=base * (1 + random.uniform(-jitter, jitter)))


def next_retry_at(attempts: int, *, unconfirmed: bool = False, now: datetime | None = None) -> datetime:
    """When to try again after ``attempts`` failed tries: now plus :func:`next_retry_delay`; with
    ``unconfirmed`` (a create whose answer was lost) not before it has settled in amoCRM (:func:`settled_at`),
    since a look-up sooner may miss it."""
    now = now or timezone.now()
    when = now + next_retry_delay(attempts)
    return max(when, settled_at(now)) if unconfirmed else when


def max_attempts() -> int:
    """Attempts after which a failing order fails for good (``AMOCRM_MAX_ATTEMPTS``)."""
    return int(settings.AMOCRM_MAX_ATTEMPTS)


def settled_at(sent_at: datetime | None) -> datetime | None:
    """When a create sent at ``sent_at`` whose answer was lost has been carried out or dropped by amoCRM
    (None when nothing is unconfirmed). Looking it up earlier may miss an entity amoCRM is still creating,
    and creating it again then makes a duplicate."""
    if sent_at is None:
        return None
    return sent_at + timedelta(seconds=settings.AMOCRM_UNCONFIRMED_SETTLE_SECONDS)


def connection_is_healthy() -> bool:
    """True when the connection is connected (the circuit is closed)."""
    return AmoConnection.objects.filter(pk=1, state=AmoConnection.State.CONNECTED).exists()


def _lost_tasks(now: datetime) -> Q:
    """Queued orders whose task was lost: waiting longer than ``LOST_TASK_TIMEOUT``, or longer than a claim
    may go without renewing its lease while the broker holds no task at all (nothing waits ahead of them:
    their task died with a killed cluster). A task that was only slow then runs as well, and finds nothing
    to do."""
    lost = Q(updated_at__lt=now - LOST_TASK_TIMEOUT)
    if get_broker().queue_size() == 0:
        lost |= Q(updated_at__lt=now - timedelta(seconds=lease_seconds()))
    return lost


def sync_due_retries() -> int:
    """Enqueue every order whose retry is due (and re-enqueue lost tasks and dead claims). Returns the count.

    Nothing is enqueued while the connection's circuit is open: the orders wait, then resume.
    """
    if not connection_is_healthy():
        return 0
    now = timezone.now()
    leases_expire(kind=ORDER)
    OrderSync.objects.filter(state=State.SYNCING).exclude(lease_exists(ORDER, "order_id")).update(
        state=State.QUEUED, task_pending=False, next_retry_at=now
    )
    OrderSync.objects.filter(_lost_tasks(now), state=State.QUEUED, task_pending=True).update(
        task_pending=False, next_retry_at=now
    )
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
