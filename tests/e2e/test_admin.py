"""An administrator in Chromium, on the live console against the sandbox: a stage map edit recorded in the
audit list (who, before → after), pausing and resuming the sync on the connection page, and the users page
(a new user, a role change, the new user's own view)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from console.amocrm.models import AmoConnection, ConfigChange, OrderSync, PipelineStatus, StageMapping
from console.roles import roles_of
from tests.fixtures.console import LOCALES

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("console_account"),
]


def selected_label(page: Any, select: str) -> str:
    return page.locator(f"{select} option:checked").inner_text().strip()


def test_a_stage_map_edit_is_audited_with_who_and_before_and_after(sign_in: Any, live_server: Any) -> None:
    reception = PipelineStatus.objects.select_related("pipeline").get(name="Приёмка")
    page = sign_in("admin", username="olga")
    page.goto(f"{live_server.url}/stage-map/")
    select = "#stage-map-form select[name=stage_in_progress]"
    before = selected_label(page, select)
    expect(page.locator("#stage-map-changes")).to_contain_text("No changes recorded yet.")

    page.select_option(select, f"{reception.pipeline.amo_id}:{reception.status_id}")
    after = selected_label(page, select)
    page.get_by_role("button", name="Save the stage map").click()

    expect(page.locator("#messages")).to_contain_text("Stage map saved.")
    expect(page.locator(f"{select} option:checked")).to_have_text(after)
    change = page.locator("#stage-map-changes tbody tr").first
    expect(change.locator("td").nth(1)).to_have_text("olga")
    expect(change.locator("td").nth(2)).to_have_text("Stage map changed")
    expect(change.locator("td").nth(3)).to_have_text(f"In progress: {before} → {after}")
    row = StageMapping.objects.get(order_status="in_progress")
    assert (row.pipeline_id, row.status_id) == (reception.pipeline.amo_id, reception.status_id)
    audit = ConfigChange.objects.get(area=ConfigChange.Area.STAGE_MAP)
    assert audit.actor == "olga" and list(audit.after) == ["in_progress"]


def test_an_admin_pauses_and_resumes_the_sync_on_the_connection_page(
    sign_in: Any, checkout: Any, products: list, live_server: Any, sandbox: Any
) -> None:
    page = sign_in("admin", username="olga")
    page.goto(f"{live_server.url}/connection/")
    status = page.locator("#connection-status h2 .badge")
    expect(status).to_have_text("Connected")

    page.fill("#pause-form textarea[name=reason]", "Переезд на новый тариф")
    page.get_by_role("button", name="Pause the sync").click()
    expect(page.locator("#messages")).to_contain_text("The sync is paused.")
    expect(status).to_have_text("Paused")
    expect(page.locator("#pause-facts")).to_contain_text("Paused by olga")
    expect(page.locator("#pause-facts")).to_contain_text("Переезд на новый тариф")

    sandbox.control("POST", "requests/clear")
    order = checkout(products[0].sku, "+79165550401")
    page.goto(f"{live_server.url}/orders/")
    expect(page.locator("#connection-banner")).to_contain_text("Переезд на новый тариф")
    state = page.locator(f"#orders tbody tr[data-order-id='{order.pk}'] [data-sync-state]")
    expect(state).to_have_attribute("data-sync-state", "paused")
    sent = [r for r in sandbox.requests()["requests"] if r["path"].startswith("/api/v4/")]
    assert sent == [], f"calls went out while paused: {sent}"

    page.goto(f"{live_server.url}/connection/")
    page.get_by_role("button", name="Resume the sync").click()
    expect(page.locator("#messages")).to_contain_text("The sync is resumed.")
    expect(status).to_have_text("Connected")
    expect(page.locator("#connection-banner")).to_have_count(0)
    changes = page.locator("#connection-changes tbody tr")
    expect(changes.nth(0)).to_contain_text("Sync resumed after a pause")
    expect(changes.nth(1)).to_contain_text("Sync paused")
    for n in (0, 1):
        expect(changes.nth(n).locator("td").nth(1)).to_have_text("olga")
    assert AmoConnection.objects.get(pk=1).state == AmoConnection.State.CONNECTED
    assert OrderSync.objects.get(order=order).state == OrderSync.State.QUEUED, "the paused order waits"


def test_an_admin_creates_a_user_and_changes_the_role_on_the_users_page(
    sign_in: Any, browser: Any, live_server: Any
) -> None:
    page = sign_in("admin", username="olga")
    page.locator("header.top nav").get_by_role("link", name="Users", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Users")
    page.get_by_role("link", name="New user").click()
    form = page.locator("#user-form")
    form.get_by_label("User name").fill("anna")
    form.get_by_label("First name").fill("Анна")
    form.get_by_label("Role").select_option("support")
    form.get_by_label("Initial password", exact=True).fill("anna-pass-2024")
    form.get_by_label("Initial password again").fill("anna-pass-2024")
    form.get_by_role("button", name="Create the user").click()

    expect(page.locator("#messages")).to_contain_text("User anna created.")
    anna = get_user_model().objects.get(username="anna")
    row = page.locator(f"#user-{anna.pk}")
    expect(row.get_by_label("Role")).to_have_value("support")
    row.get_by_label("Role").select_option("manager")
    with page.expect_response(lambda answer: answer.url.endswith(f"/users/{anna.pk}/role/")) as answer:
        row.get_by_role("button", name="Change").click()
    assert answer.value.status == 200
    expect(row.get_by_label("Role")).to_have_value("manager")
    assert roles_of(get_user_model().objects.get(pk=anna.pk)) == {"manager"}

    context = browser.new_context(locale=LOCALES["en"], viewport={"width": 1280, "height": 900})
    try:
        tab = context.new_page()
        tab.goto(f"{live_server.url}/login/")
        tab.fill("#id_username", "anna")
        tab.fill("#id_password", "anna-pass-2024")
        tab.click("form[action$='/login/'] button[type=submit]")
        nav = tab.locator("header.top nav")
        expect(nav.get_by_role("link", name="Orders", exact=True)).to_be_visible()
        expect(nav.get_by_role("link", name="Users", exact=True)).to_have_count(0)
    finally:
        context.close()
