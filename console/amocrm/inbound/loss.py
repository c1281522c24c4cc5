"""A deal closed lost in amoCRM brings its loss reason to the order (``console.amocrm.loss``).

amoCRM's webhooks carry no loss reason (https://www.amocrm.ru/developers/content/crm_platform/webhooks-format):
when a webhook's stage moved the order to cancelled, the deal is read once with ``with=loss_reason``
(https://www.amocrm.ru/developers/content/crm_platform/leads-api) and its reason recorded on the order, shown
on the order page and in its history.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction

from console.amocrm.account.access import account_client
from console.amocrm.inbound.rules import ItemResult, Outcome
from console.amocrm.loss import lead_loss_reason, order_loss_reason_set
from console.amocrm.models import LossReason, OrderLossReason, OrderSync
from console.amocrm.reasons import Code, reason

ACTOR = "amocrm"


def loss_reason_observe(*, lead_id: int, client_factory: Callable[[], Any] | None) -> ItemResult:
    """Read the lost deal's reason and record it on its order (``applied``; ``ignored`` when the deal has
    none, or no order, or the order already has it)."""
    lead = (client_factory or account_client)().get_lead(lead_id, with_=("loss_reason",))
    found = lead_loss_reason(lead) if lead else None
    result = ItemResult(outcome=Outcome.IGNORED, id=lead_id, http_calls=1)
    if found is None:
        return result
    reason_id, name = found
    with transaction.atomic():
        sync = OrderSync.objects.select_related("order").filter(lead_id=lead_id).first()
        if sync is None:
            return result
        known, _ = LossReason.objects.get_or_create(id=reason_id, defaults={"name": name})
        result.order_id = sync.order_id
        origin = OrderLossReason.Origin.AMOCRM
        if order_loss_reason_set(order=sync.order, reason=known, origin=origin, actor=ACTOR):
            result.outcome = Outcome.APPLIED
            result.reasons = [reason(Code.LOSS_REASON_SET, reason=known.name)]
    return result
