"""A deal closed lost in amoCRM brings its loss reason to the order (``console.amocrm.loss``).

amoCRM's webhooks carry no loss reason (https://www.amocrm.ru/developers/content/crm_platform/webhooks-format):
when a webhook's stage moved the order to cancelled, the deal is read once with ``with=loss_reason``
(https://www.amocrm.ru/developers/content/crm_platform/leads-api) and its reason recorded on the order, shown
on the order page and in its history. The reconciliation records it from the leads it lists (every lead
carries ``loss_reason_id``), with no read of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction

from console.amocrm.account.access import account_client
from console.amocrm.inbound.rules import ItemResult, Outcome
from console.amocrm.loss import LOST, lead_loss_reason, order_loss_reason_set
from console.amocrm.models import LossReason, OrderLossReason, OrderSync
from console.amocrm.reasons import Code, reason
from console.orders.models import Order

ACTOR = "amocrm"


def loss_reason_observe(*, lead_id: int, client_factory: Callable[[], Any] | None) -> ItemResult:
    """Read the lost deal's reason and record it on its order (``applied``; ``ignored`` when the deal has
    none, or no order, or the order already has it)."""
    lead = (client_factory or account_client)().get_lead(lead_id, with_=("loss_reason",))
    result = (lead and loss_reason_record(lead=lead)) or ItemResult(outcome=Outcome.IGNORED, id=lead_id)
    result.http_calls += 1
    return result


def loss_reason_record(*, lead: dict[str, Any]) -> ItemResult | None:
    """Record the reason of a lost deal as read (a webhook's read, or the reconciliation's list) on its order,
    when that order is cancelled; None when there is nothing to record."""
    found = lead_loss_reason(lead)
    if found is None or lead.get("status_id") != LOST:
        return None
    reason_id, name = found
    lead_id = int(lead["id"])
    result = ItemResult(outcome=Outcome.IGNORED, id=lead_id)
    with transaction.atomic():
        sync = OrderSync.objects.select_related("order").filter(lead_id=lead_id).first()
        if sync is None or sync.order.status != Order.Status.CANCELLED:
            return None
        known, _ = LossReason.objects.get_or_create(id=reason_id, defaults={"name": name})
        result.order_id = sync.order_id
        origin = OrderLossReason.Origin.AMOCRM
        if order_loss_reason_set(order=sync.order, reason=known, origin=origin, actor=ACTOR):
            result.outcome = Outcome.APPLIED
            result.reasons = [reason(Code.LOSS_REASON_SET, reason=known.name)]
    return result
