"""An order's loss reason both ways: a manager's choice on cancelling rides on the lost stage's PATCH
(``loss_reason_id``), and a deal closed lost in amoCRM with a reason brings it back to the order.

https://www.amocrm.ru/developers/content/crm_platform/leads-api: ``loss_reason_id`` on a lead; ``with=
loss_reason`` embeds the reason (an object ``{id, name}`` in the table of the docs, an array of one reason in
their example: both are read). amoCRM sends no webhook field for it: a deal moved to the lost status is read
once with ``with=loss_reason``.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from console.amocrm.models import LossReason, OrderLossReason
from console.orders.models import Order

LOST = 143  # amoCRM's "closed lost" status, the same id in every pipeline


def loss_reason_choices() -> list[LossReason]:
    """The account's reasons as last read, in amoCRM's order."""
    return list(LossReason.objects.all())


def order_loss_reason_set(*, order: Order, reason: LossReason, origin: str, actor: str = "") -> bool:
    """Record ``reason`` as the order's; False (nothing written) when it already is."""
    current = OrderLossReason.objects.filter(order=order).first()
    if current is not None and current.reason_id == reason.pk and current.name == reason.name:
        return False
    OrderLossReason.objects.update_or_create(
        order=order,
        defaults={
            "reason": reason,
            "name": reason.name,
            "origin": origin,
            "actor": actor,
            "set_at": timezone.now(),
        },
    )
    return True


def loss_reason_to_send(order: Order) -> int | None:
    """The reason id to send with the lost stage: the order's, while amoCRM still has it (as last read)."""
    try:
        chosen = order.amo_loss_reason
    except OrderLossReason.DoesNotExist:
        return None
    return chosen.reason_id


def lead_loss_reason(lead: dict[str, Any]) -> tuple[int, str] | None:
    """The reason of a lead read with ``with=loss_reason`` (id and name; the name from our list when the
    lead does not embed it), or None when it has none."""
    reason_id = lead.get("loss_reason_id")
    if not isinstance(reason_id, int) or isinstance(reason_id, bool) or reason_id <= 0:
        return None
    embedded = (lead.get("_embedded") or {}).get("loss_reason")
    if isinstance(embedded, list):
        embedded = embedded[0] if embedded else None
    name = embedded.get("name") if isinstance(embedded, dict) else None
    if not name:
        known = LossReason.objects.filter(pk=reason_id).values_list("name", flat=True).first()
        name = known or str(reason_id)
    return reason_id, str(name)[:255]
