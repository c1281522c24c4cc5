"""A manager in Chromium, on the live console against the sandbox: a storefront order reaching "synced" on
screen by itself, push, skip and unlink by clicks, bulk unlink and bulk push with the progress bar, a deal
moved on the sandbox board to a stage that maps to no status, and the pages a manager may not open."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from console.amocrm.models import OrderSync, PipelineStatus, StageMapping
from tests.fixtures.builders import make_user
from tests.fixtures.sync import notes_of
from tests.fixtures.waiting import wait_until

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("console_account"),
]

# Generous: a qcluster process has to start on a small, busy machine first.
CLUSTER_MS = 90_000


def synced(order: Any) -> OrderSync:
    sync = OrderSync.objects.get(order=order)
    assert sync.state == OrderSync.State.SYNCED and sync.lead_id, sync.__dict__
    return sync


def row_state(page: Any, order: Any) -> Any:
    return page.locator(f"#orders tbody tr[data-order-id='{order.pk}'] [data-sync-state]")


def test_a_storefront_order_reaches_synced_on_screen_without_a_reload(
    sign_in: Any, checkout: Any, products: list, live_server: Any, live_cluster: Any
) -> None:
    live_cluster.defer_tasks()
    page = sign_in("manager")
    order = checkout(products[0].sku, "+79165550101")

    page.goto(f"{live_server.url}/orders/")
    row = page.locator(f"#orders tbody tr[data-order-id='{order.pk}']")
    expect(row).to_contain_text(order.number)
    expect(row_state(page, order)).to_have_attribute("data-sync-state", "queued")
    expect(page.locator("#orders-table")).to_have_attribute("data-polling", "1")
    page.evaluate("window.__marker = 'same page'")

    live_cluster.start()
    expect(row_state(page, order)).to_have_attribute("data-sync-state", "synced", timeout=CLUSTER_MS)
    lead_id = OrderSync.objects.get(order=order).lead_id
    deal = row.locator(f"a[href$='/leads/detail/{lead_id}']")
    expect(deal).to_have_text(f"Deal {lead_id}")
    assert page.evaluate("window.__marker") == "same page", "the list was reloaded"
    expect(page.locator("#orders-table")).not_to_have_attribute("data-polling", "1")


def test_a_manager_skips_resumes_unlinks_and_pushes_an_order_by_clicks(
    sign_in: Any, checkout: Any, products: list, live_server: Any, sandbox: Any
) -> None:
    order = checkout(products[1].sku, "+79165550102")
    lead_id = synced(order).lead_id
    page = sign_in("manager")
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{live_server.url}/orders/{order.pk}/")
    state = page.locator("#sync-state")
    expect(state).to_have_attribute("data-sync-state", "synced")
    expect(page.locator("#lead-link")).to_have_text(str(lead_id))

    page.click("#sync-controls >> text=Skip syncing")
    expect(page.locator("#messages")).to_contain_text(f"Order {order.number} will not be synced.")
    expect(state).to_have_attribute("data-sync-state", "skipped")
    order.refresh_from_db()
    assert order.sync_disabled

    page.click("#sync-controls >> text=Resume syncing")
    expect(page.locator("#messages")).to_contain_text("will be synced again")
    expect(state).to_have_attribute("data-sync-state", "synced")

    page.click("#sync-controls >> text=Unlink from deal")
    expect(page.locator("#messages")).to_contain_text("is unlinked from its deal")
    expect(state).to_have_attribute("data-sync-state", "not_linked")
    expect(page.locator("#lead-link")).to_have_count(0)
    assert any(order.number in note for note in notes_of(sandbox, lead_id)), "the deal got no note"

    page.click("#sync-controls >> text=Push to AmoCRM now")
    expect(page.locator("#push-choice")).to_contain_text(f"no. {lead_id}")
    page.click("#push-choice >> text=Link the old deal again")
    expect(page.locator("#messages")).to_contain_text("will be linked to its old deal again")
    page.goto(f"{live_server.url}/orders/{order.pk}/")
    expect(state).to_have_attribute("data-sync-state", "synced")
    expect(page.locator("#lead-link")).to_have_text(str(lead_id))
    assert synced(order).lead_id == lead_id


def test_a_manager_unlinks_and_pushes_orders_in_bulk_and_the_progress_bar_runs_to_the_end(
    sign_in: Any, checkout: Any, products: list, live_server: Any, live_cluster: Any
) -> None:
    orders = [checkout(products[n % 3].sku, f"+7916555020{n}", first_name=f"Клиент{n}") for n in range(4)]
    old_leads = {synced(order).lead_id for order in orders}
    page = sign_in("manager")
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{live_server.url}/orders/")
    progress = page.locator("#bulk-progress")

    page.check("#orders thead [data-select-all]")
    page.locator("#bulk-form").get_by_role("button", name="Unlink", exact=True).click()
    expect(progress.locator(".bulk-done")).to_be_visible()
    expect(progress).to_contain_text("4 of 4 done")
    for order in orders:
        expect(row_state(page, order)).to_have_attribute("data-sync-state", "not_linked")

    live_cluster.defer_tasks()
    page.check("#orders thead [data-select-all]")
    page.locator("#bulk-form").get_by_role("button", name="Push to AmoCRM").click()
    expect(progress).to_contain_text("4 of the selected orders were unlinked from their deals")
    progress.get_by_role("button", name="Create new deals").click()
    expect(progress).to_contain_text("4 orders are queued for AmoCRM.")
    expect(progress).to_contain_text("0 of 4 done")
    expect(progress.locator("progress")).to_have_attribute("value", "0")

    live_cluster.start()
    expect(progress.locator(".bulk-done")).to_be_visible(timeout=CLUSTER_MS)
    expect(progress.locator("progress")).to_have_attribute("value", "4")
    expect(progress).to_contain_text("4 synced")
    for order in orders:
        expect(row_state(page, order)).to_have_attribute("data-sync-state", "synced")
    new_leads = {synced(order).lead_id for order in orders}
    assert len(new_leads) == 4 and not new_leads & old_leads, "bulk push after unlink makes new deals"


def test_a_stage_that_maps_to_no_status_shows_the_drift_warning_on_the_order_page(
    sign_in: Any, checkout: Any, products: list, live_server: Any, sandbox: Any
) -> None:
    order = checkout(products[2].sku, "+79165550103")
    lead_id = synced(order).lead_id
    repair = PipelineStatus.objects.select_related("pipeline").get(name="В ремонте")
    assert not StageMapping.objects.filter(status_id=repair.status_id).exists()
    page = sign_in("manager")

    page.goto(f"{sandbox.url}/leads/detail/{lead_id}")
    page.select_option("select[name=target]", f"{repair.pipeline.amo_id}:{repair.status_id}")
    page.click("text=Переместить")
    wait_until(
        lambda: OrderSync.objects.filter(order=order, amo_status_id=repair.status_id).exists(),
        30,
        what="the stage move's webhook",
    )

    page.goto(f"{live_server.url}/orders/{order.pk}/")
    expect(page.locator("#sync-state")).to_have_attribute("data-sync-state", "drifted")
    drift = page.locator("#drift")
    expect(drift).to_contain_text("The deal's stage in AmoCRM and the order's status disagree.")
    expect(drift).to_contain_text(f"“{repair.pipeline.name} → В ремонте”, which maps to no order status")
    expect(drift.get_by_role("button", name=re.compile("Take AmoCRM's stage"))).to_have_count(0)
    order.refresh_from_db()
    assert order.status == "new", "a stage that maps to no status changes nothing"

    drift.get_by_role("button", name="Push ours").click()
    expect(page.locator("#messages")).to_contain_text("is queued for AmoCRM")
    page.goto(f"{live_server.url}/orders/{order.pk}/")
    expect(page.locator("#sync-state")).to_have_attribute("data-sync-state", "synced")
    expect(page.locator("#drift")).to_have_count(0)
    new = StageMapping.objects.get(order_status="new")
    assert sandbox.api("GET", f"leads/{lead_id}").json()["status_id"] == new.status_id


def test_a_manager_cannot_open_the_users_page_or_change_the_setup(sign_in: Any, live_server: Any) -> None:
    make_user("olga", role="admin", first_name="Ольга", last_name="Админова")
    page = sign_in("manager")
    nav = page.locator("header.top nav")
    expect(nav.get_by_role("link", name="Orders")).to_be_visible()
    for hidden in ("Users", "Stage map", "AmoCRM connection"):
        expect(nav.get_by_role("link", name=hidden, exact=True)).to_have_count(0)

    response = page.goto(f"{live_server.url}/users/")
    assert response is not None and response.status == 403
    no_access = page.locator("#no-access")
    expect(no_access.get_by_role("heading")).to_have_text("You cannot open this page")
    expect(no_access).to_contain_text("This needs the role: administrator.")
    expect(no_access).to_contain_text("Ask an administrator for it: Ольга Админова.")
    expect(no_access.get_by_role("link", name="Back to the console")).to_be_visible()
