"""Every django-q2 schedule of the integration, created once and kept (idempotent).

- sync retries (every minute) and the sync-log prune (daily): ``sync.sync_schedules_ensure``;
- the token refresh (daily): ``connection.token_refresh_schedule_ensure``;
- the reconciliation (every ``AMOCRM_RECONCILE_MINUTES``): ``reconcile.reconcile_schedule_ensure``;
- the webhook inbox prune (daily): ``webhooks.inbox_prune_schedule_ensure``.

``migrate`` runs this (post_migrate), so a fresh installation has its schedules;
``manage.py amocrm_schedules`` runs it by hand.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import connections
from django.utils import timezone


def schedule_once(*, name: str, func: str, first_run_in: timedelta = timedelta(0), **timing: Any) -> bool:
    """Create the repeating django-q2 schedule ``name`` calling ``func`` unless it exists (an existing one
    keeps its timing); ``timing``: ``schedule_type`` and, for minutes, ``minutes``. True when created now."""
    from django_q.models import Schedule

    _schedule, created = Schedule.objects.get_or_create(
        name=name,
        defaults={"func": func, "repeats": -1, "next_run": timezone.now() + first_run_in, **timing},
    )
    return created


def schedules_ensure() -> list[str]:
    """Create the missing schedules; returns the names of the sync and prune schedules created now."""
    from console.amocrm.connection import token_refresh_schedule_ensure
    from console.amocrm.reconcile import reconcile_schedule_ensure
    from console.amocrm.sync import sync_schedules_ensure
    from console.amocrm.webhooks import INBOX_PRUNE_SCHEDULE, inbox_prune_schedule_ensure

    created = sync_schedules_ensure()
    token_refresh_schedule_ensure()
    reconcile_schedule_ensure()
    if inbox_prune_schedule_ensure():
        created.append(INBOX_PRUNE_SCHEDULE)
    return created


def schedules_after_migrate(sender: Any, using: str = "default", **kwargs: Any) -> None:
    """post_migrate receiver: create the schedules once django-q2's table exists."""
    if "django_q_schedule" in connections[using].introspection.table_names():
        schedules_ensure()
