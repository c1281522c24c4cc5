"""``manage.py api_token create <username>``: a new API token for a user with a console role, printed once.

The API follows the console's roles (``console.roles``): the token reads what the user's role reads and
writes what it writes; ``is_staff`` is neither needed nor given.

The token is stored as a digest (django-rest-knox), so it cannot be shown again: a lost token is revoked
(``api_token revoke <username>`` removes every token of the user) and a new one created. The client sends
``Authorization: Token <token>`` (or ``Bearer <token>``) to /api/v1/.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from knox.models import AuthToken
from knox.settings import knox_settings

from console.roles import can


class Command(BaseCommand):
    help = "Create (printed once) or revoke the API tokens of a user with a console role."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("action", choices=["create", "revoke"])
        parser.add_argument("username")
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help="lifetime (default API_TOKEN_TTL_DAYS; 0: none)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"no user {options['username']!r}")
        if options["action"] == "revoke":
            count, _by_model = AuthToken.objects.filter(user=user).delete()
            self.stdout.write(f"{count} token(s) of {user.username} revoked")
            return
        if not can(user, "view"):
            raise CommandError(
                f"{user.username} is not an active user with a console role: the API would refuse the token"
            )
        days = options["days"]
        expiry = knox_settings.TOKEN_TTL if days is None else (timedelta(days=days) if days > 0 else None)
        instance, token = AuthToken.objects.create(user=user, expiry=expiry)
        until = f"until {instance.expiry:%Y-%m-%d %H:%M %Z}" if instance.expiry else "with no expiry"
        self.stderr.write(f"API token of {user.username}, valid {until}; it is shown only now:")
        self.stdout.write(token)
