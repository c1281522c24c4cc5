"""Contacts both ways in Chromium against the sandbox: a manager's edit in amoCRM over a console change that
has not reached amoCRM yet is kept as a conflict, shown on the open customer card without a reload, and the
manager settles it there."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from console.amocrm.models import CustomerAmoLink, PartyConflict
from console.customers.models import Customer

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("console_account"),
]


def test_an_amocrm_edit_over_an_unsent_console_edit_shows_as_a_conflict_the_manager_settles(
    checkout: Any, products: list, sign_in: Any, live_server: Any, sandbox: Any
) -> None:
    order = checkout(products[0].sku, "+79165550701", first_name="Анна")
    contact_id = CustomerAmoLink.objects.get(customer_id=order.customer_id).contact_id
    sandbox.fault(kind="500", path=f"/api/v4/contacts/{contact_id}", method="PATCH", times=1000)
    sandbox.fault(kind="500", path="/api/v4/contacts", method="PATCH", times=1000)
    page = sign_in("manager", language="en", width=1280)
    page.goto(f"{live_server.url}/customers/{order.customer_id}/edit/")
    page.fill("#id_last_name", "Иванова")
    page.click("#customer-form button[type=submit]")
    expect(page.locator("#customer-name")).to_contain_text("Анна Иванова")
    page.evaluate("window.__notReloaded = true")

    sandbox.control("POST", f"contacts/{contact_id}/edit", json={"last_name": "Кузнецова"})

    conflict_row = page.locator("#party-conflicts tbody tr")
    expect(conflict_row).to_have_count(1, timeout=8000)
    expect(conflict_row.locator("td").nth(0)).to_have_text("Last name")
    expect(conflict_row.locator("td").nth(1)).to_have_text("Иванова")
    expect(conflict_row.locator("td").nth(2)).to_have_text("Кузнецова")
    assert page.evaluate("window.__notReloaded") is True, "the page was reloaded"
    assert Customer.objects.get(pk=order.customer_id).last_name == "Иванова"

    sandbox.clear_faults()
    conflict_row.get_by_role("button", name="Take amoCRM's").click()
    expect(page.locator("#party-conflicts")).to_have_count(0)
    expect(page.locator("#customer-name")).to_contain_text("Анна Кузнецова")
    assert Customer.objects.get(pk=order.customer_id).last_name == "Кузнецова"
    assert not PartyConflict.objects.filter(resolved_at__isnull=True).exists()
