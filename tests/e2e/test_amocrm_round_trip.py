"""A deal's life across both sides, in Chromium: the storefront order becomes a deal, a manager moves the
deal on the AmoCRM (sandbox) board, the console shows the new status; a manager pushes an order."""

from __future__ import annotations

import datetime
import time
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from rest_framework.test import APIClient

from console.amocrm.account.setup import account_setup
from console.amocrm.inbound.rules import CLOCK_SKEW
from console.amocrm.models import OrderSync, StageMapping
from console.orders.models import Order
from tests.fixtures.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def checkout(product_sku: str, phone: str) -> Order:
    """A storefront checkout through the public API (anonymous)."""
    start = datetime.date.today() + datetime.timedelta(days=3)
    payload = {
        "customer": {"first_name": "Вера", "last_name": "Орлова", "phone": phone},
        "installation_date": str(start),
        "dismantle_date": str(start + datetime.timedelta(days=2)),
        "delivery_method": "pickup",
        "items": [{"sku": product_sku, "quantity": 2}],
    }
    response = APIClient().post("/api/v1/orders/", payload, format="json")
    assert response.status_code == 201, response.content
    return Order.objects.get(pk=response.json()["id"])


def test_a_stage_move_on_the_amocrm_board_changes_the_order_in_the_console(
    logged_in_page: Any, live_server: Any, sandbox: Any, amo_connection: Any, products: list
) -> None:
    account_setup(connection_id=amo_connection.pk, webhook_base_url=live_server.url)
    order = checkout(products[0].sku, "+79165550101")
    sync = wait_until(lambda: OrderSync.objects.filter(order=order, state="synced").first())
    in_rent = StageMapping.objects.get(order_status="in_rent")
    # A person moves the deal a moment after our push (a move within the clock tolerance of our own push is
    # settled by one GET instead, see test_webhook_e2e).
    while time.time() <= sync.last_synced_at.timestamp() + CLOCK_SKEW + 1:
        time.sleep(0.1)
    sandbox.control("POST", "/_sandbox/requests/clear")

    page = logged_in_page
    page.goto(f"{sandbox.url}/leads/detail/{sync.lead_id}")
    page.select_option("select[name=target]", f"{in_rent.pipeline_id}:{in_rent.status_id}")
    page.click("text=Переместить")

    wait_until(lambda: Order.objects.get(pk=order.pk).status == "in_rent")
    page.goto(f"{live_server.url}/orders/{order.pk}/")
    assert "In rent" in page.locator("h1").inner_text()
    history = page.locator("text=amocrm").first
    assert history.is_visible()
    api_calls = [r for r in sandbox.requests()["requests"] if r["path"].startswith("/api/v4/")]
    assert api_calls == [], f"the console called AmoCRM back: {api_calls}"


def test_a_manager_pushes_a_skipped_order_from_the_console(
    logged_in_page: Any,
    live_server: Any,
    sandbox: Any,
    amo_connection: Any,
    products: list,
    django_user_model,
) -> None:
    account_setup(connection_id=amo_connection.pk, webhook_base_url=live_server.url)
    manager = APIClient()  # only a manager may keep an order out of the CRM (sync_to_crm)
    manager.force_login(django_user_model.objects.get(username="admin"))
    response = manager.post(
        "/api/v1/orders/",
        {
            "customer": {"first_name": "Олег", "phone": "+79165550202"},
            "installation_date": str(datetime.date.today() + datetime.timedelta(days=1)),
            "dismantle_date": str(datetime.date.today() + datetime.timedelta(days=2)),
            "items": [{"sku": products[1].sku, "quantity": 1}],
            "sync_to_crm": False,
        },
        format="json",
    )
    order = Order.objects.get(pk=response.json()["id"])
    assert OrderSync.objects.get(order=order).state == "skipped"

    page = logged_in_page
    page.goto(f"{live_server.url}/orders/{order.pk}/")
    page.click("#sync-controls >> text=Resume syncing")
    page.wait_for_selector("text=will be synced again")
    sync = wait_until(lambda: OrderSync.objects.filter(order=order, state="synced").first())
    page.goto(f"{live_server.url}/orders/{order.pk}/")
    assert page.locator("#lead-link").inner_text() == str(sync.lead_id)
    lead = sandbox.api("GET", f"leads/{sync.lead_id}").json()
    assert lead["price"] == int(order.total_amount.quantize(Decimal("1"), rounding=ROUND_HALF_UP))
