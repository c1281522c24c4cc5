"""An order's amoCRM tasks in Chromium: a storefront order shows its call task; changing the installation
date in the console moves the installation task in the sandbox."""

from __future__ import annotations

import datetime
import zoneinfo
from typing import Any

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from console.amocrm.account.setup import account_setup
from console.amocrm.models import OrderSync, OrderTask
from console.orders.models import Order
from tests.fixtures.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def checkout(product_sku: str) -> Order:
    start = datetime.date.today() + datetime.timedelta(days=4)
    payload = {
        "customer": {"first_name": "Вера", "last_name": "Орлова", "phone": "+79165550909"},
        "installation_date": str(start),
        "dismantle_date": str(start + datetime.timedelta(days=2)),
        "delivery_method": "delivery",
        "delivery_address": "Москва, Тверская 1",
        "items": [{"sku": product_sku, "quantity": 2}],
    }
    response = APIClient().post("/api/v1/orders/", payload, format="json")
    assert response.status_code == 201, response.content
    return Order.objects.get(pk=response.json()["id"])


def install_due(sandbox: Any, task_id: int) -> int:
    return sandbox.api("GET", f"tasks/{task_id}").json()["complete_till"]


def test_a_storefront_order_shows_its_call_task_and_a_date_change_moves_the_install_task(
    logged_in_page: Any, live_server: Any, sandbox: Any, amo_connection: Any, products: list
) -> None:
    account_setup(connection_id=amo_connection.pk, webhook_base_url=live_server.url)
    order = checkout(products[0].sku)
    wait_until(lambda: OrderSync.objects.filter(order=order, state="synced").first())
    install = wait_until(
        lambda: OrderTask.objects.filter(order=order, kind="install", amo_id__isnull=False).first()
    )

    page = logged_in_page
    page.goto(f"{live_server.url}/orders/{order.pk}/")
    tasks = page.locator("#order-tasks")
    assert "Call the customer" in tasks.inner_text()
    assert "Open" in tasks.locator("tr", has_text="Call the customer").inner_text()

    new_start = order.installation_date + datetime.timedelta(days=1)
    page.goto(f"{live_server.url}/orders/{order.pk}/edit/")
    page.fill("#id_installation_date", str(new_start))
    page.click("form button[type=submit]:not(.default-submit) >> text=Save")
    page.wait_for_url(f"**/orders/{order.pk}/")

    tz = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    expected = int(
        datetime.datetime.combine(new_start, datetime.time(settings.AMOCRM_WORKING_HOURS[0]), tz).timestamp()
    )
    assert wait_until(lambda: install_due(sandbox, install.amo_id) == expected)
    page.reload()
    row = page.locator("#order-tasks tr", has_text="Delivery and installation")
    assert new_start.strftime("%d.%m.%Y") in row.inner_text()
