"""Support in Chromium opens the failed-sync page after amoCRM refused a push (a 400 from the sandbox) and
reads what the console sent and what amoCRM answered, in the collapsible "What was sent" block."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import expect

from console.amocrm.models import AmoConnection, OrderSync, SyncExchange, SyncLog

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("console_account"),
]


def test_support_opens_the_failed_sync_page_and_sees_the_body_sent_and_the_answer(
    sign_in: Any, checkout: Any, products: list, live_server: Any
) -> None:
    connection = AmoConnection.get_solo()
    AmoConnection.objects.filter(pk=1).update(lead_field_ids={**connection.lead_field_ids, "source": 424242})
    order = checkout(products[0].sku, "+79165550404", first_name="Отказ")
    assert OrderSync.objects.get(order=order).state == "failed"
    create = SyncExchange.objects.get(run=SyncLog.objects.get(order=order).run, status=400)
    answer = json.loads(create.response_body)
    page = sign_in("support")

    page.goto(f"{live_server.url}/sync/failed/")
    block = page.locator("#sync-failed .sync-exchanges")
    expect(block).to_have_count(1)
    request = block.locator(".sync-exchange.refused .exchange-request")
    expect(request).not_to_be_visible()
    block.locator("> summary").click()
    expect(request).to_be_visible()
    expect(request).to_contain_text('"field_id": 424242')
    expect(request).to_contain_text(order.number)
    response = block.locator(".sync-exchange.refused .exchange-response")
    expect(response).to_be_visible()
    expect(response).to_contain_text(json.dumps(answer["title"], ensure_ascii=False).strip('"'))
    expect(block.locator(".sync-exchange.refused > summary")).to_contain_text("HTTP 400")
