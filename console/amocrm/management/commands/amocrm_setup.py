"""``manage.py amocrm_setup``: run account setup now (fields, catalog, pipelines, stage map, webhook)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from console.amocrm.account.setup import account_setup
from console.amocrm.api.errors import AmoCRMError


class Command(BaseCommand):
    help = "Make the connected amoCRM account ready for the sync (idempotent: a second run only reads)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--webhook-base-url", default=None, help="overrides AMOCRM_WEBHOOK_BASE_URL")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = account_setup(webhook_base_url=options["webhook_base_url"])
        except AmoCRMError as exc:
            raise CommandError(f"account setup failed: {exc.title}") from None
        self.stdout.write(self.style.SUCCESS(report.summary()))
