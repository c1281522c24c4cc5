"""``manage.py amocrm_refresh_token``: refresh the token pair now, or create the daily refresh schedule."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from console.amocrm.account.oauth import token_refresh, token_refresh_if_due
from console.amocrm.api.errors import AmoCRMError
from console.amocrm.models import AmoConnection
from console.amocrm.schedules import schedules_ensure


class Command(BaseCommand):
    help = (
        "Refresh the amoCRM token (--if-due: only when the scheduled job would) or --schedule the daily job."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--if-due", action="store_true")
        parser.add_argument("--schedule", action="store_true", help="only create the django-q2 schedule")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["schedule"]:
            schedules_ensure()
            self.stdout.write("token refresh schedule present")
            return
        connection = AmoConnection.get_solo()
        try:
            if options["if_due"]:
                done = token_refresh_if_due(connection_id=connection.pk)
            else:
                token_refresh(connection_id=connection.pk, force=True)
                done = True
        except AmoCRMError as exc:
            raise CommandError(f"refresh failed: {exc.title}") from None
        self.stdout.write("refreshed" if done else "not due")
