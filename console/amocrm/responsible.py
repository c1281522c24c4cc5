"""Who is responsible for an order on amoCRM's side: a console user as an amoCRM user id, in one place.

Every payload that carries ``responsible_user_id`` (deals, new contacts and companies, tasks) asks here.
https://www.amocrm.ru/developers/content/crm_platform/users-api
"""

from __future__ import annotations

from typing import Any

from console.amocrm.models import AmoUser


def amo_user_id_for_console_user(user_id: int | None) -> int | None:
    """The amoCRM user id linked to the console user ``user_id`` (an active amoCRM user), else ``None``."""
    if not user_id:
        return None
    return (
        AmoUser.objects.filter(console_user_id=user_id, is_active=True)
        .values_list("amo_id", flat=True)
        .first()
    )


def amo_user_id_for_order(order: Any) -> int | None:
    """The amoCRM user id of the order's responsible manager, or ``None`` when it has none linked.

    ``None`` leaves the field out of the payload: amoCRM then makes the connecting user responsible.
    """
    return amo_user_id_for_console_user(getattr(order, "responsible_id", None))
