"""Who may do what: three roles and one rule (:func:`can`), the single table both the console
(``console.web.permissions``) and the /api/v1/ API (``console.api_permissions``) read.

Roles are Django groups created by a migration: ``manager`` (orders: create, edit, status changes;
customers and companies: create, edit; the sync controls push, skip, unskip, unlink, link), ``support``
(reads everything, retries failed syncs, replays webhooks, reads what a sync sent to amoCRM and what it
answered; reads the stage map and the connection page but changes neither) and ``admin`` (everything, plus
the connection, the account setup, the stage map, pausing the sync and the users). A superuser is an admin.
``is_staff`` grants nothing here: it only opens the Django admin's login.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

ROLES = ("manager", "support", "admin")
ROLE_LABELS = {
    "manager": gettext_lazy("manager"),
    "support": gettext_lazy("support"),
    "admin": gettext_lazy("administrator"),
}
ACTIONS: dict[str, frozenset[str]] = {
    "view": frozenset(ROLES),
    "orders.edit": frozenset({"manager", "admin"}),
    "customers.edit": frozenset({"manager", "admin"}),
    "sync.control": frozenset({"manager", "admin"}),
    "sync.retry": frozenset({"manager", "support", "admin"}),
    "webhooks.replay": frozenset({"support", "admin"}),
    "sync.exchanges": frozenset({"support", "admin"}),  # what a sync sent to amoCRM and what it answered
    "setup.view": frozenset({"support", "admin"}),
    "setup": frozenset({"admin"}),
}


def roles_of(user: Any) -> frozenset[str]:
    """The console roles of ``user`` (cached on the user object for the request)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return frozenset()
    cached = getattr(user, "_console_roles", None)
    if cached is None:
        cached = frozenset(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
        if user.is_superuser:
            cached |= {"admin"}
        user._console_roles = cached
    return cached


def role_holders(role: str) -> QuerySet:
    """The active users holding ``role`` (a superuser holds ``admin``), as :func:`roles_of` judges them."""
    holds = Q(groups__name=role)
    if role == "admin":
        holds |= Q(is_superuser=True)
    return get_user_model().objects.filter(holds, is_active=True).distinct()


def can(user: Any, action: str) -> bool:
    """True when ``user`` holds a role allowed to do ``action`` (a key of ``ACTIONS``)."""
    return bool(roles_of(user) & ACTIONS[action])


def needs_role_message(action: str) -> str:
    """The 403 text for ``action``, naming the roles allowed it ("This needs the role: ...")."""
    roles = ", ".join(str(ROLE_LABELS[role]) for role in ROLES if role in ACTIONS[action])
    return _("This needs the role: %(roles)s.") % {"roles": roles}
