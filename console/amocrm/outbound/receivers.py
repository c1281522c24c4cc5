"""Receivers of the orders app's domain signal: an order changed, so its deal must follow.

``order_changed`` is sent once per committed operation. The receiver marks the order's sync row (queued, or
skipped/unskipped when the "do not sync" flag moved) and enqueues one task per burst of changes; it never
calls amoCRM.
"""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from console.amocrm.outbound.controls import order_sync_toggle
from console.amocrm.outbound.queueing import order_sync_request
from console.orders.signals import order_changed

# Changes amoCRM itself made that need no push back (the webhook processor records them as pushed).
AMOCRM_ECHO_FIELDS = frozenset({"status"})


def _trigger(origin: str, actor: str) -> str:
    if origin == "manager":
        return f"manager:{actor}" if actor else "manager"
    if origin == "amocrm":
        return "webhook"
    return origin or "system"


@receiver(order_changed, dispatch_uid="amocrm.order_changed")
def order_changed_enqueue_sync(
    sender: Any,
    *,
    order_id: int,
    action: str,
    changed: frozenset[str] = frozenset(),
    origin: str = "",
    actor: str = "",
    **kwargs: Any,
) -> None:
    """Queue a sync of the order (bursts collapse into one task) unless amoCRM itself moved its stage.

    A change of ``sync_disabled`` skips or unskips the order.
    """
    changed = frozenset(changed or ())
    if origin == "amocrm" and changed <= AMOCRM_ECHO_FIELDS and action in {"updated", "cancelled"}:
        return
    trigger = _trigger(origin, actor)
    if (
        "sync_disabled" in changed
        and action == "updated"
        and order_sync_toggle(order_id=order_id, trigger=trigger)
    ):
        return
    order_sync_request(order_id=order_id, trigger=trigger, event=action)
