"""``manage.py amocrm_reconcile``: run the AmoCRM reconciliation now, or install its schedule."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django_q.models import Schedule

from console.amocrm.inbound.reconcile import leads_reconcile
from console.amocrm.schedules import schedules_ensure


class Command(BaseCommand):
    help = (
        "Apply leads changed in amoCRM since the watermark to their orders (the webhook rules). "
        "--schedule creates or updates the django-q2 schedule instead (idempotent)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--schedule",
            action="store_true",
            help="create/update the schedule (every AMOCRM_RECONCILE_MINUTES) instead of running now",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["schedule"]:
            schedules_ensure()
            schedule = Schedule.objects.get(name="AmoCRM reconciliation")
            self.stdout.write(
                f"schedule {schedule.name!r}: every {schedule.minutes} min, next run {schedule.next_run}"
            )
            return
        report = leads_reconcile(trigger="manager:command")
        self.stdout.write(report.summary())
        if report.error:
            self.stderr.write(f"stopped early: {report.error}")
