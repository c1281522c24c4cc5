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


@pytest.mark.django_db
def test_new_contacts_and_companies_are_created_on_the_orders_responsible_in_the_same_requests(
    amo: Any,
    make_order: Callable[..., Order],
    make_customer: Callable[..., Any],
    make_company: Callable[..., Any],
    products: list,
) -> None:
    anna = make_user("anna", email="anna@example.com")
    boris = make_user("boris", email="boris@example.com")
    users_refresh()
    alone = make_customer()  # one new order: contact and deal in one /leads/complex call
    twice = make_customer()  # two orders: its contact created apart, then the deals
    business = make_customer(customer_type="business", company=make_company())
    orders = [make_order(customer=c, items=[(products[0], 1)]) for c in (alone, twice, twice, business)]
    Order.objects.filter(pk__in=[o.pk for o in orders]).update(responsible=anna)
    Order.objects.filter(pk=orders[3].pk).update(responsible=boris)
    clear(amo)

    with committed():
        controls.orders_push_bulk(order_ids=[o.pk for o in orders], trigger="bulk:anna")

    assert set(OrderSync.objects.values_list("state", flat=True)) == {"synced"}
    contacts = {c["id"]: c["responsible_user_id"] for c in entities(amo, "contacts")}
    sync = {s.order_id: s for s in OrderSync.objects.all()}
    assert contacts[sync[orders[0].pk].contact_id] == 100002
    assert contacts[sync[orders[1].pk].contact_id] == 100002
    assert contacts[sync[orders[3].pk].contact_id] == 100003
    company = amo.api("GET", f"companies/{sync[orders[3].pk].company_id}").json()
    assert company["responsible_user_id"] == 100003
    seen = calls(amo)
    assert seen.get("POST /api/v4/leads/complex", 0) == 1
    assert seen.get("POST /api/v4/contacts", 0) == 1 and seen.get("POST /api/v4/companies", 0) == 1

    clear(amo)
    Order.objects.filter(pk=orders[1].pk).update(responsible=boris)
    with committed():
        controls.orders_push_bulk(order_ids=[orders[1].pk], trigger="bulk:anna")
    assert amo.api("GET", f"leads/{sync[orders[1].pk].lead_id}").json()["responsible_user_id"] == 100003
    assert not any(route.startswith("PATCH /api/v4/contacts") for route in calls(amo)), "contact kept as is"
