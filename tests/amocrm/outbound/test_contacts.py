"""Customer and company edits reach their amoCRM contact and company with no order change, batched."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from console.amocrm.models import AmoConnection, CustomerAmoLink, SyncLog
from console.customers.models import Customer
from console.customers.services import company_create, company_update, customer_create, customer_update
from console.orders.models import Order
from tests.fixtures.sync import calls, committed, lead_of, state


def cf(entity: dict[str, Any], *, code: str = "", field_id: int = 0) -> list[str]:
    return [
        str(v["value"])
        for f in entity.get("custom_fields_values") or []
        if (code and f.get("field_code") == code) or (field_id and f["field_id"] == field_id)
        for v in f["values"] or []
    ]


@pytest.mark.django_db
def test_a_customer_email_change_with_three_orders_is_one_request(
    amo: Any, make_order: Callable[..., Order], customer: Customer
) -> None:
    with committed():
        orders = [make_order(customer=customer) for _ in range(3)]
    contact_id = CustomerAmoLink.objects.get(customer=customer).contact_id
    amo.control("POST", "requests/clear")

    with committed():
        customer_update(
            customer=customer, data={"email": "new.mail@example.com"}, origin="manager", actor="anna"
        )

    assert calls(amo) == {"PATCH /api/v4/contacts": 1}
    contact = amo.api("GET", f"contacts/{contact_id}").json()
    assert cf(contact, code="EMAIL") == ["new.mail@example.com"]
    rows = SyncLog.objects.filter(action="contact_update", outcome="ok")
    assert sorted(rows.values_list("order_id", flat=True)) == sorted(o.pk for o in orders)
    assert sum(rows.values_list("http_calls", flat=True)) == 1
    amo.control("POST", "requests/clear")
    with committed():  # the same value again: nothing to send
        customer_update(
            customer=customer, data={"email": "new.mail@example.com"}, origin="manager", actor="anna"
        )
    assert calls(amo) == {}


@pytest.mark.django_db
def test_a_company_rename_and_its_requisites_reach_amocrm_with_no_order_change(
    amo: Any, make_order: Callable[..., Order]
) -> None:
    company = company_create(data={"name": "Ромашка", "inn": "7707083893", "legal_name": "ООО «Ромашка»"})
    client = customer_create(
        data={"first_name": "Ольга", "phone": "+79990001122", "customer_type": "business", "company": company}
    )
    with committed():
        order = make_order(customer=client)
    link = CustomerAmoLink.objects.get(customer=client)
    ids = AmoConnection.get_solo().company_field_ids
    created = amo.api("GET", f"companies/{link.company_id}").json()
    assert cf(created, field_id=ids["company_inn"]) == ["7707083893"]
    assert cf(created, field_id=ids["company_legal_name"]) == ["ООО «Ромашка»"]

    amo.control("POST", "requests/clear")
    with committed():
        company_update(company=company, data={"name": "Ромашка-Люкс", "kpp": "773601001"}, origin="manager")

    company_row = amo.api("GET", f"companies/{link.company_id}").json()
    assert company_row["name"] == "Ромашка-Люкс"
    assert cf(company_row, field_id=ids["company_kpp"]) == ["773601001"]
    seen = calls(amo)
    assert seen["PATCH /api/v4/companies"] == 1
    assert state(order).state == "synced" and lead_of(amo, order)["id"] == state(order).lead_id


@pytest.mark.django_db
def test_a_name_change_also_renames_the_deals(amo: Any, make_order: Callable[..., Order], customer: Customer):
    with committed():
        order = make_order(customer=customer)
    with committed():
        customer_update(customer=customer, data={"last_name": "Новикова"}, origin="manager", actor="anna")
    assert "Новикова" in lead_of(amo, order)["name"]
