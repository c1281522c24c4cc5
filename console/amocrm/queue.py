"""Background work at the bottom of the integration: enqueueing django-q2 tasks and creating schedules.

Every task the integration runs is enqueued here, named by its dotted path in ``console.amocrm.tasks``.
A change that asks for work enqueues it with :func:`enqueue_on_commit`, so a worker never looks for a row the
request has not committed yet (https://docs.djangoproject.com/en/5.2/topics/db/transactions/#performing-actions-after-commit).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import async_task


def enqueue(func: str, *args: Any, **options: Any) -> str:
    """Enqueue ``func(*args)`` for the cluster now; ``options`` are django-q2's (``task_name``, ``group``)."""
    return async_task(func, *args, **options)


def enqueue_on_commit(func: str, *args: Any, **options: Any) -> None:
    """Enqueue ``func(*args)`` when the current transaction commits (at once outside a transaction)."""
    transaction.on_commit(lambda: enqueue(func, *args, **options))


def schedule_once(*, name: str, func: str, first_run_in: timedelta = timedelta(0), **timing: Any) -> bool:
    """Create the repeating schedule ``name`` calling ``func`` unless it exists; True when created now.

    ``timing``: ``schedule_type`` and, for minutes, ``minutes``. An existing schedule keeps its next run;
    its ``minutes`` follow ``timing``."""
    schedule, created = Schedule.objects.get_or_create(
        name=name,
        defaults={"func": func, "repeats": -1, "next_run": timezone.now() + first_run_in, **timing},
    )
    minutes = timing.get("minutes")
    if not created and minutes and schedule.minutes != minutes:
        Schedule.objects.filter(pk=schedule.pk).update(minutes=minutes)
    return created
