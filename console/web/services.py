"""Services and selectors of the console's own pages: the console users and their roles, and the list of
set-up changes (``ConfigChange``) shown on the connection and stage map pages.

A user's console role is one of the groups in ``permissions.ROLES``; a superuser is always an admin. The
rules that keep the console manageable: nobody takes away their own admin role or deactivates themselves,
and a superuser's role is not changed here (it is an admin whatever its groups say).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from console.amocrm.account.users import users_link_set
from console.amocrm.models import AmoUser, ConfigChange
from console.orders.services import storefront_manager_set
from console.roles import ROLES
from console.web.passwords import password_set_by_admin

logger = logging.getLogger(__name__)

# How many set-up changes a page lists.
CHANGES_SHOWN = 20


# --- users ------------------------------------------------------------------------------------------------


def user_role(user: Any) -> str:
    """The user's console role ("admin", "support", "manager"), the highest when it holds several; "" for
    none. Reads ``user.groups.all()`` (prefetch it for a list)."""
    if user.is_superuser:
        return "admin"
    names = {group.name for group in user.groups.all()}
    return next((role for role in reversed(ROLES) if role in names), "")


def user_list() -> list[Any]:
    """Every user account, by user name, with its groups prefetched for :func:`user_role` (and its amoCRM
    user and storefront mark joined)."""
    users = get_user_model().objects.select_related("amo_user", "storefront_manager")
    return list(users.prefetch_related("groups").order_by("username"))


def _role_check(role: str) -> None:
    if role not in ROLES:
        raise ValidationError({"role": [_("Choose one of the roles.")]})


def _role_set(user: Any, role: str) -> None:
    user.groups.remove(*Group.objects.filter(name__in=ROLES).exclude(name=role))
    user.groups.add(Group.objects.get(name=role))


def user_create(
    *,
    username: str,
    password: str,
    role: str,
    actor: Any,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
) -> Any:
    """A new, active console user with ``role`` and an initial ``password``, which its owner must change
    at the first login (``console.web.passwords``).

    The user is not staff: the Django admin stays for superusers. ``ValidationError`` by field when the
    role is unknown or the user name is taken."""
    _role_check(role)
    model = get_user_model()
    try:
        with transaction.atomic():
            user = model.objects.create_user(
                username, email=email, password=password, first_name=first_name, last_name=last_name
            )
            _role_set(user, role)
            password_set_by_admin(user=user)
    except IntegrityError:
        raise ValidationError({"username": [_("This user name is taken.")]}) from None
    logger.info("console user %s created with role %s by %s", username, role, actor.get_username())
    return user


def _user_for_change(user_id: int, actor: Any) -> Any:
    user = get_user_model().objects.get(pk=user_id)
    if user.pk == actor.pk:
        raise ValidationError(_("You cannot change your own account here: ask another administrator."))
    return user


def user_set_role(*, user_id: int, role: str, actor: Any) -> Any:
    """Give the user ``role`` instead of the console role(s) it holds; ``ValidationError`` for an unknown
    role, the actor's own account, or a superuser (always an admin)."""
    _role_check(role)
    user = _user_for_change(user_id, actor)
    if user.is_superuser:
        raise ValidationError(_("A superuser is always an administrator; change it in the Django admin."))
    _role_set(user, role)
    logger.info("console user %s given role %s by %s", user.get_username(), role, actor.get_username())
    return user


def user_set_active(*, user_id: int, active: bool, actor: Any) -> Any:
    """Deactivate (``active=False``: the user can no longer log in; its history stays) or reactivate a user;
    ``ValidationError`` for the actor's own account."""
    user = _user_for_change(user_id, actor)
    user.is_active = active
    user.save(update_fields=["is_active"])
    logger.info("console user %s active=%s by %s", user.get_username(), active, actor.get_username())
    return user


def user_link_amo(*, user_id: int, amo_user: AmoUser | None, actor: Any) -> Any:
    """Link the console user to ``amo_user`` (its deals, contacts and companies go to that amoCRM user),
    or unlink it (``None``); an admin's choice, which a refresh of amoCRM's users keeps."""
    user = get_user_model().objects.get(pk=user_id)
    current = AmoUser.objects.filter(console_user=user).first()
    if amo_user is None:
        if current is not None:
            users_link_set(amo_user=current, console_user=None)
    elif current is None or current.pk != amo_user.pk or not current.linked_by_admin:
        users_link_set(amo_user=amo_user, console_user=user)
    logger.info(
        "console user %s linked to amoCRM user %s by %s",
        user.get_username(),
        getattr(amo_user, "amo_id", None),
        actor.get_username(),
    )
    return user


def user_set_storefront(*, user_id: int, takes_orders: bool, actor: Any) -> Any:
    """Mark the user as taking storefront orders (in turn with the others marked), or not."""
    user = get_user_model().objects.get(pk=user_id)
    storefront_manager_set(user=user, takes_orders=takes_orders)
    logger.info(
        "console user %s takes storefront orders=%s by %s",
        user.get_username(),
        takes_orders,
        actor.get_username(),
    )
    return user


# --- set-up changes ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChangeLine:
    """One changed item of a set-up change: its label, the value before and after, as shown."""

    label: str
    before: str
    after: str


def config_changes(
    *, area: str, label: Callable[[str], str], show: Callable[[str, Any], str], limit: int = CHANGES_SHOWN
) -> list[tuple[ConfigChange, list[ChangeLine]]]:
    """The newest ``limit`` changes of ``area``, each with one line per changed key (``label`` names a key,
    ``show(key, value)`` renders a stored value)."""
    listed = []
    for change in ConfigChange.objects.filter(area=area)[:limit]:
        keys = dict.fromkeys([*change.before, *change.after])
        lines = [
            ChangeLine(label(key), show(key, change.before.get(key)), show(key, change.after.get(key)))
            for key in keys
        ]
        listed.append((change, lines))
    return listed
