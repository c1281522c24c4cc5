"""``manage.py amocrm_schedules``: create the django-q2 schedules of the integration (migrate does too)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django_q.models import Schedule

from console.amocrm.schedules import schedules_ensure


class Command(BaseCommand):
    help = "Create the AmoCRM schedules (retries, log and inbox prunes, token refresh, reconciliation) once."

    def handle(self, *args: Any, **options: Any) -> None:
        created = schedules_ensure()
        for schedule in Schedule.objects.filter(name__startswith="AmoCRM").order_by("name"):
            mark = "created" if schedule.name in created else "present"
            self.stdout.write(
                f"{schedule.name}: {schedule.func} ({mark}, next run {schedule.next_run:%Y-%m-%d %H:%M})"
            )
