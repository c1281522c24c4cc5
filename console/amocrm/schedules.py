"""Every django-q2 schedule of the integration, declared once.

``migrate`` creates the missing ones (post_migrate), ``manage.py amocrm_schedules`` does it by hand. An
existing schedule keeps its next run; a schedule counted in minutes follows its setting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connections
from django_q.models import Schedule

from console.amocrm.queue import schedule_once

TASKS = "console.amocrm.tasks"


@dataclass(frozen=True)
class ScheduleSpec:
    """One repeating task: its name in the admin, the task it runs, how often, and its first run."""

    name: str
    func: str
    timing: dict[str, Any]
    first_run_in: timedelta = field(default=timedelta(0))


def schedule_specs() -> list[ScheduleSpec]:
    """The integration's schedules (the reconciliation every ``AMOCRM_RECONCILE_MINUTES``)."""
    minutes = int(getattr(settings, "AMOCRM_RECONCILE_MINUTES", 10) or 10)
    webhook_minutes = int(getattr(settings, "AMOCRM_WEBHOOK_CHECK_MINUTES", 15) or 15)
    alert_minutes = int(getattr(settings, "ALERT_CHECK_MINUTES", 5) or 5)
    return [
        ScheduleSpec(
            "AmoCRM sync retries",
            f"{TASKS}.sync_due_retries",
            {"schedule_type": Schedule.MINUTES, "minutes": 1},
        ),
        ScheduleSpec("AmoCRM sync log prune", f"{TASKS}.prune_sync_log", {"schedule_type": Schedule.DAILY}),
        ScheduleSpec(
            "AmoCRM token refresh",
            f"{TASKS}.refresh_token_task",
            {"schedule_type": Schedule.DAILY},
            first_run_in=timedelta(minutes=5),
        ),
        ScheduleSpec(
            "AmoCRM reconciliation",
            f"{TASKS}.reconcile_task",
            {"schedule_type": Schedule.MINUTES, "minutes": minutes},
        ),
        ScheduleSpec(
            "AmoCRM users refresh",
            f"{TASKS}.users_refresh_task",
            {"schedule_type": Schedule.HOURLY},
            first_run_in=timedelta(minutes=2),
        ),
        ScheduleSpec(
            "AmoCRM loss reasons refresh",
            f"{TASKS}.loss_reasons_refresh_task",
            {"schedule_type": Schedule.HOURLY},
            first_run_in=timedelta(minutes=3),
        ),
        ScheduleSpec(
            "AmoCRM webhook inbox prune",
            f"{TASKS}.webhook_inbox_prune_task",
            {"schedule_type": Schedule.DAILY},
            first_run_in=timedelta(hours=1),
        ),
        ScheduleSpec(
            "AmoCRM webhook health",
            f"{TASKS}.webhook_health_task",
            {"schedule_type": Schedule.MINUTES, "minutes": webhook_minutes},
            first_run_in=timedelta(minutes=2),
        ),
        ScheduleSpec(
            "AmoCRM alerts",
            f"{TASKS}.alerts_check_task",
            {"schedule_type": Schedule.MINUTES, "minutes": alert_minutes},
            first_run_in=timedelta(minutes=1),
        ),
    ]


def schedules_ensure() -> list[str]:
    """Create the missing schedules; returns the names created now."""
    return [
        spec.name
        for spec in schedule_specs()
        if schedule_once(name=spec.name, func=spec.func, first_run_in=spec.first_run_in, **spec.timing)
    ]


def schedules_after_migrate(sender: Any, using: str = "default", **kwargs: Any) -> None:
    """post_migrate receiver: create the schedules once django-q2's table exists."""
    if "django_q_schedule" in connections[using].introspection.table_names():
        schedules_ensure()
