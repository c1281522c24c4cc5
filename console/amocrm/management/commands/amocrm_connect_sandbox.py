"""``manage.py amocrm_connect_sandbox --url URL``: connect to a running sandbox without the consent page.

Mints an authorization code through the sandbox's control API, exchanges it through the normal code-exchange
service (``account.oauth.code_exchange``), then runs account setup. For the demo and local development only.
"""

from __future__ import annotations

from typing import Any

import requests
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from console.amocrm.account.connection import connection_save_credentials
from console.amocrm.account.oauth import code_exchange
from console.amocrm.account.setup import account_setup
from console.amocrm.api.errors import AmoCRMError
from console.amocrm.models import AmoConnection

DEFAULT_CLIENT_ID = "sandbox-client-id"
DEFAULT_SECRET = "sandbox-client-secret"
DEFAULT_REDIRECT = "http://127.0.0.1:8000/amocrm/oauth/callback/"


class Command(BaseCommand):
    help = "Connect the console to an AmoCRM sandbox (mint a code via its control API, exchange it, set up)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--url", required=True, help="the sandbox root, e.g. http://127.0.0.1:8765")
        parser.add_argument("--client-id", default=settings.AMOCRM_CLIENT_ID or DEFAULT_CLIENT_ID)
        parser.add_argument("--client-secret", default=settings.AMOCRM_CLIENT_SECRET or DEFAULT_SECRET)
        parser.add_argument("--redirect-uri", default=settings.AMOCRM_REDIRECT_URI or DEFAULT_REDIRECT)
        parser.add_argument("--webhook-base-url", default=None, help="overrides AMOCRM_WEBHOOK_BASE_URL")
        parser.add_argument("--no-setup", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        url = options["url"].rstrip("/")
        connection = connection_save_credentials(
            connection=AmoConnection.get_solo(),
            base_url=url,
            client_id=options["client_id"],
            client_secret=options["client_secret"],
            redirect_uri=options["redirect_uri"],
        )
        try:
            answer = requests.post(
                f"{url}/_sandbox/oauth/code", json={"client_id": options["client_id"]}, timeout=10
            )
            answer.raise_for_status()
            code = answer.json()["code"]
        except (requests.RequestException, ValueError, KeyError) as exc:
            raise CommandError(f"the sandbox at {url} did not mint a code: {type(exc).__name__}") from None
        try:
            code_exchange(connection=connection, code=code, state=None)
            self.stdout.write(self.style.SUCCESS(f"connected to the sandbox at {url}"))
            if not options["no_setup"]:
                report = account_setup(
                    connection_id=connection.pk, webhook_base_url=options["webhook_base_url"]
                )
                self.stdout.write(self.style.SUCCESS(report.summary()))
        except AmoCRMError as exc:
            raise CommandError(exc.title) from None
