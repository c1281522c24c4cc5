"""Deals created in amoCRM become draft orders: the sandbox fires real add_lead webhooks at a live console."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from console.amocrm.account.setup import account_setup
from console.amocrm.inbound.reconcile import leads_reconcile, watermark_get
from console.amocrm.models import (
    CatalogElementLink,
    CustomerAmoLink,
    OrderSync,
    Party,
    PartyField,
    WebhookInbox,
)
from console.amocrm.outbound.controls import PushResult, order_push
from console.amocrm.reasons import codes
from console.customers.models import Customer
from console.customers.normalize import normalize_phone
from console.orders.models import Order
from console.orders.services import DEAL_LINE_SKU, order_confirm
from tests.fixtures.builders import unique_phone
from tests.fixtures.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)
# Seconds to wait for webhooks in flight (the live server answers slower on a busy machine).
SLOW = 30.0


@pytest.fixture
def wired(amo_connection: Any, live_server: Any, sandbox: Any) -> Any:
    report = account_setup(connection_id=amo_connection.pk, webhook_base_url=live_server.url)
    assert report.webhook == "subscribed"
    amo_connection.refresh_from_db()
    return amo_connection


def settled(sandbox: Any) -> None:
    """The sandbox delivered every webhook and the console processed every delivery."""
    idle = lambda: sandbox.control("GET", "webhooks")["pending"] == 0  # noqa: E731
    wait_until(idle, timeout=SLOW, what="the sandbox's webhooks")
    wait_until(
        lambda: not WebhookInbox.objects.filter(outcome="pending").exists(), timeout=SLOW, what="the inbox"
    )


@pytest.fixture
def synced_order(wired: Any, make_order: Callable[..., Order], products: list, sandbox: Any) -> Order:
    """An order of ours in the sandbox: its products are catalog elements there (linked by element id)."""
    order = make_order(items=[(products[0], 2), (products[1], 1)])
    wait_until(
        lambda: OrderSync.objects.filter(order=order, state="synced", lead_id__isnull=False).exists(),
        what="the order's lead",
    )
    settled(sandbox)
    return order


def new_contact(sandbox: Any, name: str, phone: str) -> int:
    contact = {"name": name, "custom_fields_values": [{"field_code": "PHONE", "values": [{"value": phone}]}]}
    return sandbox.control("POST", "contacts", contact)["id"]


def new_deal(sandbox: Any, contact_id: int, **fields: Any) -> int:
    lead = {"name": "Свадьба в саду", "_embedded": {"contacts": [{"id": contact_id, "is_main": True}]}}
    return sandbox.control("POST", "leads", lead | fields)["id"]


def draft_of(lead_id: int) -> Order:
    sync = wait_until(
        lambda: OrderSync.objects.filter(lead_id=lead_id).select_related("order").first(),
        timeout=SLOW,
        what="a draft",
    )
    return sync.order


def element_of(product: Any) -> int:
    return CatalogElementLink.objects.get(sku=product.sku).element_id


def add_result(lead_id: int) -> dict[str, Any] | None:
    """What processing made of the deal's add_lead item."""
    for row in WebhookInbox.objects.filter(events__contains="leads[add]"):
        for item in row.results or []:
            if item.get("id") == lead_id and item.get("action") == "add":
                return item
    return None


def lead_requests(sandbox: Any, method: str) -> list[dict[str, Any]]:
    return [r for r in sandbox.requests()["requests"] if r["method"] == method and "/leads" in r["path"]]


def test_a_deal_with_a_contact_and_products_becomes_a_draft_for_the_matched_customer(
    synced_order: Order, sandbox: Any, make_customer: Callable[..., Customer], products: list
) -> None:
    known = make_customer(phone=unique_phone())
    contact_id = new_contact(sandbox, "Мария Кузнецова", known.phone)
    elements = [
        {"id": element_of(products[0]), "quantity": 3},
        {"id": element_of(products[1]), "quantity": 1},
    ]
    lead_id = new_deal(sandbox, contact_id, price=9999, catalog_elements=elements)

    draft = draft_of(lead_id)
    assert draft.is_draft and draft.source == "amocrm"
    assert draft.customer_id == known.pk
    assert CustomerAmoLink.objects.get(customer=known).contact_id == contact_id
    lines = {item.product.sku: (item.quantity, item.unit_price) for item in draft.items.all()}
    assert lines == {
        products[0].sku: (3, products[0].unit_price),
        products[1].sku: (1, products[1].unit_price),
    }
    settled(sandbox)
    result = add_result(lead_id)
    assert result is not None and result["outcome"] == "applied"
    assert codes(result["reasons"]) == ["draft_created"]
    assert result["order_id"] == draft.pk


def test_a_deal_without_products_becomes_one_line_of_its_price_and_a_new_customer(
    wired: Any, sandbox: Any
) -> None:
    phone = unique_phone()
    contact_id = new_contact(sandbox, "Пётр Смирнов", phone)
    lead_id = new_deal(sandbox, contact_id, price=15000)

    draft = draft_of(lead_id)
    [line] = list(draft.items.all())
    assert line.product.sku == DEAL_LINE_SKU and line.quantity == 1
    assert draft.total_amount == Decimal("15000.00")
    assert draft.customer.phone_normalized == normalize_phone(phone)
    assert draft.customer.first_name == "Пётр Смирнов"
    assert Customer.objects.filter(phone_normalized=normalize_phone(phone)).count() == 1
    assert CustomerAmoLink.objects.get(customer=draft.customer).contact_id == contact_id
    agreed = PartyField.objects.filter(party=Party.CONTACT, object_id=draft.customer_id)
    assert dict(agreed.values_list("field", "value"))["first_name"] == "Пётр Смирнов"


def test_a_contact_phone_the_console_refuses_gives_way_to_its_email(wired: Any, sandbox: Any) -> None:
    fields = [
        {"field_code": "PHONE", "values": [{"value": "звонить вечером"}]},
        {"field_code": "EMAIL", "values": [{"value": "Fedor@Example.com"}]},
    ]
    contact_id = sandbox.control("POST", "contacts", {"name": "Фёдор", "custom_fields_values": fields})["id"]
    draft = draft_of(new_deal(sandbox, contact_id, price=100))
    assert (draft.customer.first_name, draft.customer.phone, draft.customer.email) == (
        "Фёдор",
        "",
        "fedor@example.com",
    )


def test_a_contact_with_neither_a_usable_phone_nor_an_email_makes_no_draft(wired: Any, sandbox: Any) -> None:
    lead_id = new_deal(sandbox, new_contact(sandbox, "Фёдор", "звонить вечером"), price=100)
    settled(sandbox)
    result = add_result(lead_id)
    assert result is not None and codes(result["reasons"]) == ["draft_no_contact"]
    assert not OrderSync.objects.filter(lead_id=lead_id).exists()


def test_our_own_deal_coming_back_by_add_lead_makes_no_draft(synced_order: Order, sandbox: Any) -> None:
    add_hooks = [d for d in sandbox.webhooks() if d["event"] == "add_lead"]
    assert add_hooks, "the sandbox fired no add_lead for our deal"
    assert Order.objects.filter(source="amocrm").count() == 0
    assert OrderSync.objects.filter(lead_id=synced_order.amo_sync.lead_id).count() == 1


def test_an_echo_racing_our_own_create_is_told_by_its_order_number(
    wired: Any, sandbox: Any, make_customer: Callable[..., Customer]
) -> None:
    """A deal carrying an order number (made by the console, its id not stored yet) makes no draft."""
    contact_id = new_contact(sandbox, "Анна", unique_phone())
    field_id = wired.lead_field_ids["order_number"]
    cfv = [{"field_id": field_id, "values": [{"value": "R-999999"}]}]
    lead_id = new_deal(sandbox, contact_id, custom_fields_values=cfv)
    settled(sandbox)
    assert not OrderSync.objects.filter(lead_id=lead_id).exists()
    result = add_result(lead_id)
    assert result is not None and result["outcome"] == "echo"
    assert codes(result["reasons"]) == ["draft_own_deal"]
    assert result["http_calls"] == 0


def test_a_draft_is_not_pushed_and_confirming_it_updates_its_deal_without_a_second_one(
    wired: Any, sandbox: Any
) -> None:
    contact_id = new_contact(sandbox, "Ольга", unique_phone())
    lead_id = new_deal(sandbox, contact_id, price=5000)
    draft = draft_of(lead_id)
    settled(sandbox)
    assert lead_requests(sandbox, "PATCH") == [], "a draft was pushed before it was confirmed"
    assert OrderSync.objects.get(order=draft).last_synced_at is None
    assert order_push(order_id=draft.pk, trigger="manager:admin") == PushResult.DRAFT
    leads_before = sandbox.stats()["leads"]
    sandbox.control("POST", "/_sandbox/requests/clear")

    order_confirm(order=draft, actor="admin")

    wait_until(
        lambda: OrderSync.objects.filter(order=draft, state="synced", last_synced_at__isnull=False).exists(),
        what="the confirmed order's sync",
    )
    assert sandbox.stats()["leads"] == leads_before
    creates = [
        r["path"]
        for r in lead_requests(sandbox, "POST")
        if r["path"].rstrip("/").endswith(("/leads", "/complex"))
    ]
    assert creates == [], [r["path"] for r in lead_requests(sandbox, "POST")]
    assert [r["path"] for r in lead_requests(sandbox, "PATCH")] != []
    lead = sandbox.api("GET", f"leads/{lead_id}").json()
    field_id = wired.lead_field_ids["order_number"]
    numbers = [
        v["value"] for cf in lead["custom_fields_values"] if cf["field_id"] == field_id for v in cf["values"]
    ]
    assert numbers == [Order.objects.get(pk=draft.pk).number]
    assert OrderSync.objects.get(order=draft).lead_id == lead_id


def test_a_deal_whose_add_lead_was_lost_becomes_a_draft_at_the_next_reconciliation(
    synced_order: Order, sandbox: Any, products: list
) -> None:
    first = leads_reconcile(trigger="test")
    assert watermark_get() is not None and first.counts.get("applied", 0) == 0
    sandbox.configure(webhooks_enabled=False)
    contact_id = new_contact(sandbox, "Игорь", unique_phone())
    lead_id = new_deal(
        sandbox, contact_id, price=700, catalog_elements=[{"id": element_of(products[1]), "quantity": 4}]
    )
    assert not OrderSync.objects.filter(lead_id=lead_id).exists()

    report = leads_reconcile(trigger="test")

    draft = draft_of(lead_id)
    assert draft.is_draft
    assert [(i.product.sku, i.quantity) for i in draft.items.all()] == [(products[1].sku, 4)]
    assert report.counts.get("applied") == 1  # our own order's deal, read again, is an echo
    again = leads_reconcile(trigger="test")
    assert again.counts.get("applied", 0) == 0
    assert OrderSync.objects.filter(lead_id=lead_id).count() == 1
    assert Order.objects.filter(source="amocrm").count() == 1
