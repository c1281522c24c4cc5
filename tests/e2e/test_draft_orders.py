"""A deal created on the amoCRM (sandbox) board appears in the console as a draft order; a manager confirms
it, and its deal (the same one, no second deal) follows the order from then on."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from console.amocrm.account.setup import account_setup
from console.amocrm.models import OrderSync, WebhookInbox
from console.orders.models import Order
from tests.fixtures.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_deal_made_in_amocrm_becomes_a_draft_the_manager_confirms(
    logged_in_page: Any, live_server: Any, sandbox: Any, amo_connection: Any
) -> None:
    account_setup(connection_id=amo_connection.pk, webhook_base_url=live_server.url)
    page = logged_in_page

    page.goto(f"{sandbox.url}/_sandbox/board")
    page.fill("input[name=name]", "Юбилей на веранде")
    page.fill("input[name=price]", "12000")
    page.fill("input[name=contact_name]", "Галина Петрова")
    page.fill("input[name=contact_phone]", "+79165557788")
    page.click("text=Добавить сделку")
    lead_id = int(page.url.rstrip("/").rsplit("/", 1)[1])

    sync = wait_until(
        lambda: OrderSync.objects.filter(lead_id=lead_id).select_related("order").first(), what="the draft"
    )
    draft = sync.order
    assert draft.is_draft
    wait_until(lambda: not WebhookInbox.objects.filter(outcome="pending").exists(), what="the inbox")
    leads_before = sandbox.stats()["leads"]

    page.goto(f"{live_server.url}/orders/?to_confirm=on")
    rows = page.locator("#orders tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first.locator("[data-draft]")).to_have_text("from AmoCRM, to confirm")
    expect(rows.first).to_contain_text("Галина Петрова")
    expect(rows.first.locator(f"a[href='/orders/{draft.pk}/']")).to_have_text(draft.number)
    page.goto(f"{live_server.url}/orders/{draft.pk}/")

    expect(page.locator("#draft-confirm")).to_be_visible()
    page.locator("#draft-confirm button", has_text="Confirm").click()
    expect(page.locator("#draft-confirm")).to_have_count(0)
    assert not Order.objects.get(pk=draft.pk).is_draft

    wait_until(
        lambda: OrderSync.objects.filter(order=draft, state="synced", last_synced_at__isnull=False).exists(),
        what="the confirmed order's push",
    )
    assert sandbox.stats()["leads"] == leads_before
    assert OrderSync.objects.get(order=draft).lead_id == lead_id
    page.goto(f"{live_server.url}/orders/?to_confirm=on")
    expect(page.locator("#orders tbody tr[data-order-id]")).to_have_count(0)
