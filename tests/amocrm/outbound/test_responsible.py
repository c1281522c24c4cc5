"""The order's responsible manager rides on the deal as responsible_user_id, in the same requests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from console.amocrm.account.users import users_refresh
from console.amocrm.models import OrderSync
from console.amocrm.outbound import controls
from console.orders.models import Order
from tests.fixtures.builders import make_user
from tests.fixtures.sync import calls, clear, committed, entities


@pytest.mark.django_db
def test_a_deal_is_created_and_moved_on_the_orders_responsible(
    amo: Any, make_order: Callable[..., Order], make_customer: Callable[..., Any], products: list
) -> None:
    anna = make_user("anna", email="anna@example.com")
    boris = make_user("boris", email="boris@example.com")
    users_refresh()
    orders = [make_order(customer=make_customer(), items=[(products[0], 1)]) for _ in range(3)]
    Order.objects.filter(pk__in=[o.pk for o in orders]).update(responsible=anna)
    clear(amo)

    with committed():
        controls.orders_push_bulk(order_ids=[o.pk for o in orders], trigger="bulk:anna")

    assert set(OrderSync.objects.values_list("state", flat=True)) == {"synced"}
    leads = entities(amo, "leads")
    assert len(leads) == 3 and {lead["responsible_user_id"] for lead in leads} == {100002}
    assert calls(amo).get("POST /api/v4/leads", 0) + calls(amo).get("POST /api/v4/leads/complex", 0) <= 3

    clear(amo)
    Order.objects.filter(pk=orders[0].pk).update(responsible=boris)
    with committed():
        controls.orders_push_bulk(order_ids=[orders[0].pk], trigger="bulk:anna")
    lead_id = OrderSync.objects.get(order=orders[0]).lead_id
    assert amo.api("GET", f"leads/{lead_id}").json()["responsible_user_id"] == 100003
    assert sum(n for route, n in calls(amo).items() if route.startswith("PATCH /api/v4/leads")) == 1
