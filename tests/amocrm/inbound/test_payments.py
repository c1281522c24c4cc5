"""Payments recorded in amoCRM reach the order (webhook and reconciliation); our own push coming back and a
payment changed here but not pushed yet do not."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from console.amocrm.inbound.reconcile import leads_reconcile
from console.amocrm.models import AmoConnection, OrderSync
from console.amocrm.reasons import codes
from console.orders.models import Order
from console.orders.services import order_set_payment
from tests.amocrm.inbound.hookbodies import T0, hook_body, last_row, lead_item
from tests.fixtures.sync import committed, state

pytestmark = pytest.mark.django_db


@pytest.fixture
def payment_fields(connection: AmoConnection) -> dict[str, int]:
    AmoConnection.objects.filter(pk=connection.pk).update(
        lead_field_ids={"paid_amount": 501, "payment_status": 502},
        lead_field_enums={"payment_status": {"not_paid": 601, "prepaid": 602, "paid": 603}},
    )
    return {"paid": 501, "status": 502}


def paid_item(lead_id: int, amount: str, enum: int, modified: int) -> dict[str, Any]:
    fields = [
        {"id": 501, "name": "Оплачено, ₽", "values": [{"value": amount}]},
        {"id": 502, "name": "Статус оплаты", "values": [{"value": "Оплачено", "enum": enum}]},
    ]
    return lead_item(lead_id, "new", modified, custom_fields=fields)


def test_a_payment_entered_in_amocrm_reaches_the_order(
    post: Callable[..., Any], link: Callable[..., Order], payment_fields: dict
) -> None:
    order = link(5001)
    post(hook_body({"leads": {"update": [paid_item(5001, "2500", 603, T0)]}}))
    order.refresh_from_db()
    assert (order.paid_amount, order.payment_status) == (Decimal("2500.00"), "paid")
    row = OrderSync.objects.get(order=order)
    assert row.pushed_payment == {"paid_amount": "2500.00", "payment_status": "paid"}
    assert row.state == "synced"  # recorded as pushed: nothing is sent back


def test_our_own_push_coming_back_changes_nothing(
    post: Callable[..., Any], link: Callable[..., Order], payment_fields: dict
) -> None:
    order = link(5001, pushed_payment={"paid_amount": "0.00", "payment_status": "not_paid"})
    post(hook_body({"leads": {"update": [paid_item(5001, "0", 601, T0)]}}))

    assert last_row().outcome in {"echo", "ignored"}
    order.refresh_from_db()
    assert order.paid_amount == 0


def test_a_payment_changed_here_and_not_pushed_yet_wins(
    post: Callable[..., Any], link: Callable[..., Order], payment_fields: dict
) -> None:
    order = link(5001, pushed_payment={"paid_amount": "0.00", "payment_status": "not_paid"})
    order_set_payment(order=order, paid_amount="1000", payment_status="prepaid", origin="manager", actor="m")
    post(hook_body({"leads": {"update": [paid_item(5001, "300", 602, T0)]}}))

    assert last_row().outcome == "stale" and "payment_local_wins" in codes(last_row().reasons)
    order.refresh_from_db()
    assert order.paid_amount == Decimal("1000.00")


def test_a_payment_changed_in_the_sandbox_reaches_the_order_by_reconciliation(
    amo: Any, make_order: Callable[..., Order]
) -> None:
    with committed():
        order = make_order()
    connection = AmoConnection.get_solo()
    paid_field = connection.lead_field_ids["paid_amount"]
    status_field = connection.lead_field_ids["payment_status"]
    prepaid = connection.lead_field_enums["payment_status"]["prepaid"]
    lead = {
        "custom_fields_values": [
            {"field_id": paid_field, "values": [{"value": 4200}]},
            {"field_id": status_field, "values": [{"enum_id": prepaid}]},
        ]
    }
    assert amo.api("PATCH", f"leads/{state(order).lead_id}", json=lead).status_code == 200

    leads_reconcile(trigger="test")

    order.refresh_from_db()
    assert (order.paid_amount, order.payment_status) == (Decimal("4200.00"), "prepaid")
    assert state(order).state == "synced"
