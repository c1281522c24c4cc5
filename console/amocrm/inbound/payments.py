"""Payments recorded in amoCRM come back to the order: the deal's "Оплачено, ₽" and "Статус оплаты" fields.

An ``update_lead`` webhook (legacy ``custom_fields[i][id|values][j][value|enum]``) or a lead read by the
reconciliation (``custom_fields_values``) is compared, by the account setup's field and option ids, with what
we last pushed (``OrderSync.pushed_payment``):

- the deal shows what we pushed -> nothing to do (our own push coming back, or no payment change);
- the order's payment changed here since our last push -> ``stale``: our push is on its way and wins;
- otherwise amoCRM's values are applied with ``order_set_payment(origin="amocrm")`` and recorded as
  pushed, so nothing is sent back -> ``applied``.

https://www.amocrm.ru/developers/content/crm_platform/webhooks-format,
https://www.amocrm.ru/developers/content/crm_platform/custom-fields
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from console.amocrm.inbound.formparse import as_list
from console.amocrm.inbound.items import as_int
from console.amocrm.inbound.rules import ACTOR, ItemResult, Outcome
from console.amocrm.models import AmoConnection, OrderSync
from console.amocrm.payment import order_payment
from console.amocrm.reasons import Code, reason
from console.orders.services import order_set_payment


def _amount(raw: Any) -> str | None:
    try:
        return str(Decimal(str(raw).replace(",", ".").replace(" ", "")).quantize(Decimal("0.01")))
    except (InvalidOperation, ValueError):
        return None


def _our_fields() -> tuple[int | None, int | None, dict[int, str]]:
    connection = AmoConnection.objects.only("lead_field_ids", "lead_field_enums").filter(pk=1).first()
    ids = (connection.lead_field_ids or {}) if connection else {}
    enums = ((connection.lead_field_enums or {}) if connection else {}).get("payment_status") or {}
    return (
        as_int(ids.get("paid_amount")),
        as_int(ids.get("payment_status")),
        {int(v): k for k, v in enums.items()},
    )


def payment_from_webhook(fields: dict[str, Any]) -> dict[str, str]:
    """Our payment fields in a webhook item (``custom_fields[i][id]``, ``[values][j][value|enum]``)."""
    return _payment(
        {as_int(f.get("id")): as_list(f.get("values")) for f in as_list(fields.get("custom_fields"))}
    )


def payment_from_api(lead: dict[str, Any]) -> dict[str, str]:
    """Our payment fields in a lead read from the API (``custom_fields_values``)."""
    values = {
        as_int(f.get("field_id")): f.get("values") or [] for f in lead.get("custom_fields_values") or []
    }
    return _payment(values)


def _payment(values: dict[int | None, list[Any]]) -> dict[str, str]:
    paid_id, status_id, options = _our_fields()
    found: dict[str, str] = {}
    paid = [v for v in values.get(paid_id, []) if isinstance(v, dict)] if paid_id else []
    if paid and (amount := _amount(paid[0].get("value"))) is not None:
        found["paid_amount"] = amount
    status = [v for v in values.get(status_id, []) if isinstance(v, dict)] if status_id else []
    if status:
        enum = as_int(status[0].get("enum") or status[0].get("enum_id"))
        if enum in options:
            found["payment_status"] = options[enum]
    return found


def payment_observe(*, lead_id: int, seen: dict[str, str]) -> ItemResult | None:
    """Apply the payment amoCRM shows for ``lead_id`` (``seen``: our keys present in the deal), by the rules
    of the module docstring; None when the deal carries none of our payment fields or nothing changed."""
    if not seen:
        return None
    with transaction.atomic():
        sync = OrderSync.objects.select_for_update().select_related("order").filter(lead_id=lead_id).first()
        if sync is None or not sync.order.is_active:
            return None
        pushed = sync.pushed_payment or order_payment(sync.order)
        amo = {**pushed, **seen}
        if amo == pushed:
            return None
        if order_payment(sync.order) != pushed:
            return ItemResult(
                outcome=Outcome.STALE,
                reasons=[reason(Code.PAYMENT_LOCAL_WINS)],
                id=lead_id,
                order_id=sync.order_id,
            )
        return _apply(sync, amo, lead_id)


def _apply(sync: OrderSync, amo: dict[str, str], lead_id: int) -> ItemResult:
    try:
        order_set_payment(
            order=sync.order,
            paid_amount=amo["paid_amount"],
            payment_status=amo["payment_status"],
            origin="amocrm",
            actor=ACTOR,
        )
    except ValidationError as exc:
        return ItemResult(
            outcome=Outcome.IGNORED,
            reasons=[reason(Code.PAYMENT_INVALID, errors=list(exc.messages))],
            id=lead_id,
            order_id=sync.order_id,
        )
    OrderSync.objects.filter(pk=sync.pk).update(pushed_payment=amo)
    return ItemResult(
        outcome=Outcome.APPLIED,
        reasons=[reason(Code.PAYMENT_SET, amount=amo["paid_amount"], payment=amo["payment_status"])],
        id=lead_id,
        order_id=sync.order_id,
    )


_RANK = [Outcome.FAILED, Outcome.APPLIED, Outcome.STALE, Outcome.ECHO, Outcome.IGNORED, Outcome.INVALID]


def combine(stage: ItemResult, payment: ItemResult | None) -> ItemResult:
    """One item's result from its stage and its payment: the more telling outcome, both reasons."""
    if payment is None:
        return stage
    best = min((stage, payment), key=lambda r: _RANK.index(r.outcome) if r.outcome in _RANK else 99)
    return ItemResult(
        outcome=best.outcome,
        reasons=[*stage.reasons, *payment.reasons],
        id=stage.id or payment.id,
        order_id=stage.order_id or payment.order_id,
        http_calls=stage.http_calls + payment.http_calls,
    )
