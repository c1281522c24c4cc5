"""``manage.py amocrm_schedules``: create the integration's django-q2 schedules (idempotent)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the AmoCRM schedules (sync retries, sync log prune, token refresh, reconciliation) once."

    def handle(self, *args: Any, **options: Any) -> None:
        from console.amocrm.sync import sync_schedules_ensure

        created = sync_schedules_ensure()
        for name, ensure in self._others():
            try:
                ensure()
            except Exception as exc:  # noqa: BLE001 -- another owner's schedule must not stop ours
                self.stderr.write(f"{name}: {exc}")
        from django_q.models import Schedule

        for schedule in Schedule.objects.filter(name__startswith="AmoCRM").order_by("name"):
            mark = "created" if schedule.name in created else "present"
            self.stdout.write(
                f"{schedule.name}: {schedule.func} ({mark}, next run {schedule.next_run:%Y-%m-%d %H:%M})"
            )

    def _others(self) -> list[tuple[str, Any]]:
        """Schedules owned by the connection and webhook sections, when those are installed."""
        found = []
        try:
            from console.amocrm.connection import token_refresh_schedule_ensure

            found.append(("token refresh", token_refresh_schedule_ensure))
        except ImportError:
            pass
        try:
            from console.amocrm.reconcile import reconcile_schedule_ensure

            found.append(("reconcile", reconcile_schedule_ensure))
        except ImportError:
            pass
        return found
