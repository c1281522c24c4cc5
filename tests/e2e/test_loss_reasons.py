"""Loss reasons in Chromium against the sandbox: a manager cancels an order choosing amoCRM's reason and the
deal is closed lost with it; a deal closed lost in amoCRM with a reason shows it on the open order page."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from console.amocrm.account.loss_reasons import loss_reasons_refresh
from console.amocrm.models import LossReason, OrderSync, StageMapping
from tests.fixtures.waiting import wait_until

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("console_account"),
]


def _lead(sandbox: Any, lead_id: int) -> dict[str, Any]:
    return sandbox.api("GET", f"leads/{lead_id}").json()


def test_cancelling_with_a_reason_closes_the_deal_lost_with_that_reason(
    checkout: Any, products: list, sign_in: Any, live_server: Any, sandbox: Any
) -> None:
    loss_reasons_refresh()
    order = checkout(products[0].sku, "+79165550801", first_name="Анна")
    lead_id = OrderSync.objects.get(order=order).lead_id
    page = sign_in("manager", language="en", width=1280)
    page.goto(f"{live_server.url}/orders/{order.pk}/")
    page.get_by_role("button", name="Cancel order").click()
    page.select_option("#id_loss_reason", label="Дорого")
    page.get_by_role("button", name="Cancel the order").click()
    expect(page.locator("#loss-reason")).to_contain_text("Дорого")
    expensive = LossReason.objects.get(name="Дорого").pk
    wait_until(
        lambda: (
            (_lead(sandbox, lead_id)["status_id"], _lead(sandbox, lead_id)["loss_reason_id"])
            == (143, expensive)
        ),
        30,
        what="the deal closed lost with the reason",
    )


def test_a_deal_closed_lost_in_amocrm_shows_its_reason_on_the_open_order_page(
    checkout: Any, products: list, sign_in: Any, live_server: Any, sandbox: Any
) -> None:
    loss_reasons_refresh()
    order = checkout(products[0].sku, "+79165550802", first_name="Борис")
    lead_id = OrderSync.objects.get(order=order).lead_id
    page = sign_in("manager", language="en", width=1280)
    page.goto(f"{live_server.url}/orders/{order.pk}/")
    lost = StageMapping.objects.get(order_status="cancelled")
    cancelled_event = LossReason.objects.get(name="Мероприятие отменено").pk
    sandbox.move_lead(lead_id, lost.status_id, lost.pipeline_id, loss_reason_id=cancelled_event)
    expect(page.locator("#loss-reason")).to_contain_text("Мероприятие отменено", timeout=8000)
    expect(page.locator("#order-head .badge").first).to_have_class("badge cancelled")
    expect(page.locator('#timeline tr[data-kind="loss"]')).to_contain_text("Мероприятие отменено")
