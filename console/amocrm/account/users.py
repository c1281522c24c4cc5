"""The account's amoCRM users, refreshed into ``AmoUser`` and linked to console users by e-mail.

``GET /api/v4/users`` (https://www.amocrm.ru/developers/content/crm_platform/users-api) needs an admin; for a
non-admin connecting user amoCRM answers 403, and the refresh falls back to the current user of
``GET /api/v4/account`` (https://www.amocrm.ru/developers/content/crm_platform/account-info), so at least the
connecting user is known.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from console.amocrm.account.access import account_client
from console.amocrm.api.client import AmoCRMClient
from console.amocrm.api.errors import AmoCRMError
from console.amocrm.models import AmoUser


@dataclass
class UsersReport:
    """What a refresh saw: users stored, console users newly linked, whether the list was the full one."""

    stored: int = 0
    linked: int = 0
    full_list: bool = True


def _fetch(client: AmoCRMClient) -> tuple[list[dict[str, Any]], bool]:
    """The account's users (full list) or, when amoCRM refuses the list (403), the current user alone."""
    try:
        return list(client.iter_users()), True
    except AmoCRMError as exc:
        if exc.status != 403:
            raise
    account = client.get_account(with_=("users",))
    current = account.get("current_user_id")
    users = (account.get("_embedded") or {}).get("users") or []
    mine = [u for u in users if u.get("id") == current] or ([{"id": current}] if current else [])
    return mine, False


def _rights(user: dict[str, Any]) -> dict[str, Any]:
    return user.get("rights") or {}


def users_store(users: list[dict[str, Any]]) -> int:
    """Upsert ``users`` (amoCRM's user objects) into ``AmoUser``; returns how many were stored."""
    now = timezone.now()
    for user in users:
        if not isinstance(user.get("id"), int):
            continue
        rights = _rights(user)
        defaults: dict[str, Any] = {"refreshed_at": now}
        for key, value in (("name", user.get("name")), ("email", user.get("email"))):
            if value is not None:
                defaults[key] = str(value)[:255]
        if "is_active" in rights:
            defaults["is_active"] = bool(rights["is_active"])
        if "is_admin" in rights:
            defaults["is_admin"] = bool(rights["is_admin"])
        AmoUser.objects.update_or_create(amo_id=user["id"], defaults=defaults)
    return sum(1 for u in users if isinstance(u.get("id"), int))


def users_link_by_email() -> int:
    """Link every unlinked amoCRM user to the console user with the same lower-cased e-mail (an admin's
    choice is never overridden, a console user is linked at most once); returns how many were linked."""
    taken = set(AmoUser.objects.exclude(console_user=None).values_list("console_user_id", flat=True))
    by_email: dict[str, Any] = {}
    for user in get_user_model().objects.filter(is_active=True).exclude(email=""):
        by_email.setdefault(user.email.strip().lower(), user)
    linked = 0
    for amo_user in AmoUser.objects.filter(console_user=None, linked_by_admin=False).exclude(email=""):
        match = by_email.get(amo_user.email.strip().lower())
        if match is not None and match.pk not in taken:
            amo_user.console_user = match
            amo_user.save(update_fields=["console_user"])
            taken.add(match.pk)
            linked += 1
    return linked


def users_refresh(client: AmoCRMClient | None = None) -> UsersReport:
    """Fetch the account's users, store them and link console users by e-mail; raises the client's errors."""
    users, full = _fetch(client or account_client())
    return UsersReport(stored=users_store(users), linked=users_link_by_email(), full_list=full)


def users_link_set(*, amo_user: AmoUser, console_user: Any | None) -> None:
    """An admin's link of ``amo_user`` to ``console_user`` (``None`` unlinks); a refresh keeps it."""
    if console_user is not None:
        AmoUser.objects.filter(console_user=console_user).exclude(pk=amo_user.pk).update(console_user=None)
    amo_user.console_user = console_user
    amo_user.linked_by_admin = True
    amo_user.save(update_fields=["console_user", "linked_by_admin"])
