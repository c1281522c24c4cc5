"""Every failure written to the sync log carries its kind (``errors.error_kind``), as the engine's do: the
dashboard counts failures by kind and the console explains them by it. These are the writers outside the
engine: a manager's link to a deal and the contact and company push."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from console.amocrm.models import OrderSync, SyncLog
from console.amocrm.outbound import controls
from console.customers.models import Customer
from console.customers.services import customer_update
from console.orders.models import Order
from tests.fixtures.sync import committed

pytestmark = pytest.mark.django_db


def test_a_link_to_a_deal_amocrm_does_not_have_is_logged_as_not_found(
    amo: Any, make_order: Callable[..., Order]
) -> None:
    order = make_order(sync_disabled=True)
    assert controls.order_link_run(order_id=order.pk, lead_id=999_999, trigger="manager:anna") == "failed"
    row = SyncLog.objects.get(order=order, action="link_to_lead")
    assert (row.outcome, row.error_kind) == ("failed", "not_found")


def test_a_link_the_console_refuses_is_not_logged_as_an_internal_error(
    amo: Any, make_order: Callable[..., Order]
) -> None:
    order, other = make_order(sync_disabled=True), make_order(sync_disabled=True)
    OrderSync.objects.update_or_create(order=other, defaults={"lead_id": 555, "state": "synced"})
    assert controls.order_link_run(order_id=order.pk, lead_id=555, trigger="manager:anna") == "failed"
    row = SyncLog.objects.get(order=order, action="link_to_lead")
    assert (row.error_title, row.error_kind) == ("Lead 555 is already linked to another order.", "other")


def test_a_contact_push_amocrm_fails_is_logged_with_its_kind(
    amo: Any, make_order: Callable[..., Order], customer: Customer
) -> None:
    with committed():
        order = make_order(customer=customer)
    amo.fault(kind="500", times=10, path="/api/v4/contacts", method="PATCH")
    with committed():
        customer_update(
            customer=customer, data={"email": "new.mail@example.com"}, origin="manager", actor="a"
        )
    row = SyncLog.objects.get(order=order, action="contact_update")
    assert (row.outcome, row.error_status, row.error_kind) == ("retry", 500, "server")
