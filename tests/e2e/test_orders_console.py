"""A manager works with orders in the real console, in Chromium."""

from __future__ import annotations

import datetime

import pytest
from playwright.sync_api import expect

from console.orders.models import Order, Product
from console.orders.services import order_create

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("products")]


def make_order(first_name: str, phone: str, status: str = "new") -> Order:
    today = datetime.date.today()
    return order_create(
        data={
            "customer_data": {"first_name": first_name, "last_name": "Тестов", "phone": phone},
            "installation_date": today + datetime.timedelta(days=2),
            "dismantle_date": today + datetime.timedelta(days=4),
            "delivery_method": "pickup",
            "status": status,
            "items": [{"product": Product.objects.filter(is_active=True).first(), "quantity": 3}],
        },
        origin="manager",
        actor="e2e",
    )


def test_a_manager_filters_orders_without_a_page_reload(logged_in_page, live_server):
    page = logged_in_page
    make_order("Алиса", "+79991110001", status="reserved")
    make_order("Борис", "+79991110002", status="new")
    page.goto(f"{live_server.url}/orders/")
    rows = page.locator("#orders tbody tr")
    assert rows.count() == 2
    page.evaluate("window.__marker = 'same page'")
    page.fill("input[name=q]", "Алиса")
    # A locator wait, not wait_for_function("..."): Playwright evals a string predicate, which the page's
    # Content-Security-Policy (script-src 'self', no 'unsafe-eval') refuses.
    expect(page.locator("#orders tbody tr")).to_have_count(1)
    assert "Алиса" in page.locator("#orders tbody").inner_text()
    assert page.evaluate("window.__marker") == "same page", "the filter reloaded the whole page"
    assert "q=" in page.url


def test_a_manager_creates_an_order_and_changes_its_status(logged_in_page, live_server):
    page = logged_in_page
    product = Product.objects.filter(is_active=True).order_by("sku").first()
    today = datetime.date.today()
    page.goto(f"{live_server.url}/orders/new/")
    page.fill("#id_new_first_name", "Мария")
    page.fill("#id_new_phone", "8 (916) 000-11-22")
    page.fill("#id_installation_date", str(today + datetime.timedelta(days=1)))
    page.fill("#id_dismantle_date", str(today + datetime.timedelta(days=3)))
    page.select_option("#id_delivery_method", "delivery")
    page.fill("#id_delivery_address", "Москва, Тверская 1")
    page.select_option("#id_lines-0-product", str(product.pk))
    page.fill("#id_lines-0-quantity", "2")
    page.click("button[type=submit] >> text=Create order")
    page.wait_for_url("**/orders/*/")
    order = Order.objects.get()
    assert order.number in page.locator("h1").inner_text()
    assert order.total_amount == product.unit_price * 2 * 2
    page.select_option("#status-form select[name=status]", "in_rent")
    page.click("#status-form button")
    page.wait_for_selector("text=Status changed")
    order.refresh_from_db()
    assert order.status == "in_rent"
    assert "In rent" in page.locator("h1").inner_text()


def test_a_form_error_is_shown_next_to_the_form(logged_in_page, live_server):
    page = logged_in_page
    page.goto(f"{live_server.url}/orders/new/")
    page.fill("#id_new_first_name", "Пётр")
    page.fill("#id_new_phone", "+79160001122")
    page.fill("#id_installation_date", "2030-01-10")
    page.fill("#id_dismantle_date", "2030-01-12")
    page.click("button[type=submit] >> text=Create order")
    assert page.locator("#lines-errors").is_visible()
    assert Order.objects.count() == 0
