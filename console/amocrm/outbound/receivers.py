"""Receivers of the orders app's domain signal: an order changed, so its deal must follow.

``order_changed`` is sent once per committed operation. The receiver marks the order's sync row (queued, or
skipped/unskipped when the "do not sync" flag moved) and enqueues one task per burst of changes; it never
calls amoCRM. An order deleted outright (not soft-deleted) takes its sync row with it, so its deal is written
down for closing before the delete (``pre_delete``: by ``post_delete`` the cascade has removed the row).
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import pre_delete
from django.dispatch import receiver

from console.amocrm.models import OrderSync, Party
from console.amocrm.outbound.contacts import company_update_request, contact_update_request
from console.amocrm.outbound.controls import order_sync_toggle
from console.amocrm.outbound.detached import Reason, detached_lead_request
from console.amocrm.outbound.queueing import order_sync_request
from console.amocrm.parties import fields_edited
from console.customers.signals import company_changed, customer_changed
from console.orders.models import Order
from console.orders.signals import order_changed

# Changes amoCRM itself made that need no push back (the webhook processor records them as pushed; the
# deal already has the responsible amoCRM set).
AMOCRM_ECHO_FIELDS = frozenset({"status", "paid_amount", "payment_status", "responsible"})


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


@receiver(pre_delete, sender=Order, dispatch_uid="amocrm.order_deleted")
def order_deleted_close_lead(sender: Any, instance: Order, **kwargs: Any) -> None:
    """An order deleted outright: its deal (unless the order was never to be synced) is closed later."""
    lead_id = (
        OrderSync.objects.filter(order_id=instance.pk, lead_id__isnull=False)
        .exclude(state=OrderSync.State.SKIPPED)
        .values_list("lead_id", flat=True)
        .first()
    )
    if lead_id:
        detached_lead_request(lead_id=lead_id, order_number=instance.number or "", reason=Reason.DELETED)


@receiver(customer_changed, dispatch_uid="amocrm.customer_changed")
def customer_changed_push(
    sender: Any, *, customer_id: int, changed: frozenset[str] = frozenset(), **kwargs: Any
) -> None:
    """A customer edited here: its amoCRM contact (once it has one) is updated, no order change needed."""
    origin, actor, action = kwargs.get("origin", ""), kwargs.get("actor", ""), kwargs.get("action", "")
    if origin != "amocrm" and action != "created":
        fields_edited(party=Party.CONTACT, object_id=customer_id, changed=changed)
        contact_update_request(
            customer_ids=[customer_id], changed=frozenset(changed), trigger=_trigger(origin, actor)
        )


@receiver(company_changed, dispatch_uid="amocrm.company_changed")
def company_changed_push(
    sender: Any, *, company_id: int, changed: frozenset[str] = frozenset(), **kwargs: Any
) -> None:
    """A company edited here: its amoCRM company is updated (requisites included)."""
    origin, actor, action = kwargs.get("origin", ""), kwargs.get("actor", ""), kwargs.get("action", "")
    if origin != "amocrm" and action != "created":
        fields_edited(party=Party.COMPANY, object_id=company_id, changed=changed)
        company_update_request(
            company_id=company_id, changed=frozenset(changed), trigger=_trigger(origin, actor)
        )
