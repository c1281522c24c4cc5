"""A manager in Chromium on the customers pages: finds a customer by a phone typed in another spelling than
it was stored, opens the card, edits it and sees the change; the pages fit a 390 px wide phone."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from console.customers.models import Customer
from console.customers.services import customer_create

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def page_width(page: Any) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def test_a_manager_finds_a_customer_by_phone_opens_the_card_and_edits_it(
    sign_in: Any, live_server: Any
) -> None:
    anna = customer_create(data={"first_name": "Анна", "last_name": "Смирнова", "phone": "+79161234567"})
    customer_create(data={"first_name": "Борис", "last_name": "Петров", "phone": "+79031112233"})
    page = sign_in("manager", width=1280)

    page.goto(f"{live_server.url}/")
    page.get_by_role("link", name="Customers").click()
    page.fill("input[name=q]", "8 (916) 123-45-67")
    rows = page.locator("#customers tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-customer-id", str(anna.pk))
    rows.first.get_by_role("link", name="Анна Смирнова").click()

    expect(page.locator("#customer-name")).to_have_text("Анна Смирнова")
    page.click("#customer-edit")
    page.fill("#id_email", "not an e-mail")
    page.click("#customer-form button[type=submit]")
    expect(page.locator("#customer-form .errorlist")).to_be_visible()
    page.fill("#id_email", "Anna@Example.com")
    page.fill("#id_last_name", "Иванова")
    page.click("#customer-form button[type=submit]")

    expect(page.locator("#customer-name")).to_have_text("Анна Иванова")
    expect(page.locator("#customer-email")).to_have_text("anna@example.com")
    assert Customer.objects.get(pk=anna.pk).last_name == "Иванова"


def test_the_customers_pages_fit_a_phone(sign_in: Any, live_server: Any) -> None:
    anna = customer_create(data={"first_name": "Анна", "last_name": "Смирнова", "phone": "+79161234567"})
    page = sign_in("manager", width=390)
    for address in ("/customers/", f"/customers/{anna.pk}/", f"/customers/{anna.pk}/edit/", "/companies/"):
        page.goto(live_server.url + address)
        expect(page.locator("main h1").first).to_be_visible()
        assert page_width(page) <= 390, f"{address} is {page_width(page)} px wide"
