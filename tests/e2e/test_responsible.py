"""An admin in Chromium links console users to amoCRM users and marks one for storefront orders; a storefront
checkout then lands in the sandbox as a deal (and a new contact) on that manager's amoCRM user, and
reassigning the order in the console moves the deal to the other manager. A user whose password an admin set
changes it first."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from console.amocrm.models import OrderSync
from console.web.services import user_create
from tests.fixtures.builders import make_user
from tests.fixtures.console import TIMEOUT_MS

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("console_account"),
]
ANNA, BORIS = 100002, 100003  # the sandbox's amoCRM users "Менеджер Анна" and "Менеджер Борис"


def link(page: Any, user: Any, amo_name: str, email: str) -> None:
    row = page.locator(f"#user-{user.pk}")
    row.locator("select[name=amo_user]").select_option(label=f"{amo_name} · {email}")
    row.locator(".amo-link button[type=submit]").click()
    expect(page.locator(f"#user-{user.pk} .amo-link")).to_contain_text(f"Linked to {amo_name} ({email})")


def test_a_storefront_order_goes_to_the_linked_manager_and_follows_a_reassignment(
    sign_in: Any, checkout: Any, products: list, live_server: Any, sandbox: Any
) -> None:
    anna = make_user("anna", role="manager", first_name="Anna")
    boris = make_user("boris", role="manager", first_name="Boris")
    page = sign_in("admin")
    page.goto(f"{live_server.url}/users/")
    link(page, anna, "Менеджер Анна", "anna@example.com")
    link(page, boris, "Менеджер Борис", "boris@example.com")
    page.locator(f"#user-{anna.pk} .storefront button[type=submit]").click()
    expect(page.locator(f"#user-{anna.pk} .storefront")).to_contain_text("takes storefront orders")

    order = checkout(products[0].sku, "+79165550301")
    assert order.responsible == anna
    sync = OrderSync.objects.get(order=order)
    assert sync.state == OrderSync.State.SYNCED and sync.lead_id and sync.contact_id
    assert sandbox.api("GET", f"leads/{sync.lead_id}").json()["responsible_user_id"] == ANNA
    assert sandbox.api("GET", f"contacts/{sync.contact_id}").json()["responsible_user_id"] == ANNA

    page.goto(f"{live_server.url}/orders/{order.pk}/edit/")
    page.select_option("#id_responsible", label="Boris (boris)")
    page.click("#order-form > button[type=submit]:not(.default-submit)")
    expect(page.locator("#messages")).to_contain_text(f"Order {order.number} saved.")
    expect(page.locator("#timeline")).to_contain_text("Responsible manager: anna → boris.")
    assert sandbox.api("GET", f"leads/{sync.lead_id}").json()["responsible_user_id"] == BORIS


def test_a_user_whose_password_an_admin_set_changes_it_before_anything_else(
    browser: Any, live_server: Any, roles: None
) -> None:
    admin = make_user("boss", role="admin")
    user_create(username="vera", password="an initial password 1", role="manager", actor=admin)
    context = browser.new_context(locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    tab.goto(f"{live_server.url}/login/")
    tab.fill("#id_username", "vera")
    tab.fill("#id_password", "an initial password 1")
    tab.click("form[action$='/login/'] button[type=submit]")
    tab.wait_for_url(f"{live_server.url}/password/")
    expect(tab.locator("#password-forced")).to_be_visible()
    tab.goto(f"{live_server.url}/orders/")
    tab.wait_for_url(f"{live_server.url}/password/")

    tab.fill("#id_old_password", "an initial password 1")
    tab.fill("#id_new_password1", "vera's very own secret")
    tab.fill("#id_new_password2", "vera's very own secret")
    tab.click("#password-form button[type=submit]")
    tab.wait_for_url(f"{live_server.url}/")
    expect(tab.locator("#messages")).to_contain_text("Your password is changed.")
    tab.goto(f"{live_server.url}/orders/")
    expect(tab).to_have_url(f"{live_server.url}/orders/")
    context.close()
