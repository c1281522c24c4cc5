"""Webhook health in Chromium against the sandbox: amoCRM disables our webhook; the admin's "check now" (the
same check the schedule runs) finds it, makes it work again, and the connection page and the
dashboard say so."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from console.amocrm.models import WebhookHealth
from tests.fixtures.waiting import wait_until

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("console_account"),
]


def _our_hook(sandbox: Any) -> dict[str, Any]:
    (hook,) = sandbox.api("GET", "webhooks").json()["_embedded"]["webhooks"]
    return hook


def test_a_webhook_disabled_in_amocrm_is_made_to_work_again_and_the_pages_say_it(
    sign_in: Any, live_server: Any, sandbox: Any, settings: Any
) -> None:
    settings.AMOCRM_WEBHOOK_BASE_URL = live_server.url  # the console's public address, as setup used it
    destination = _our_hook(sandbox)["destination"]
    sandbox.control("POST", "webhooks/disable", {"destination": destination})
    assert _our_hook(sandbox)["disabled"] is True
    page = sign_in("admin", language="en", width=1280)
    page.goto(f"{live_server.url}/connection/")
    page.click("#webhook-check")
    expect(page.locator("#messages")).to_contain_text("Webhook check queued")

    wait_until(
        lambda: WebhookHealth.objects.filter(state=WebhookHealth.State.REPAIRED).exists(),
        30,
        what="the check",
    )
    assert _our_hook(sandbox)["disabled"] is False
    page.reload()
    expect(page.locator("#webhook-health")).to_have_text("Repaired")
    reasons = page.locator("#webhook-health-reasons")
    expect(reasons).to_contain_text("disabled")
    page.goto(f"{live_server.url}/")
    expect(page.locator("#webhook-health")).to_have_text("Repaired")
