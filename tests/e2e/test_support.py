"""Support in Chromium, with a Russian browser (``Accept-Language: ru``), on the live console against the
sandbox: a fault in amoCRM shows as "failed, retry at …" with a Russian reason and "retry this group" on the
failed-syncs page clears it once the fault is gone; the webhook inbox and a replay; and the friendly 403 for
what only administrators may change.

Expected texts come from the Russian catalogue (:func:`ru`), so a reworded translation does not break these
tests; the reasons are also checked to be in Russian at all."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.utils import translation
from django.utils.translation import gettext
from playwright.sync_api import expect

from console.amocrm.models import AmoConnection, OrderSync, StageMapping, WebhookInbox
from console.amocrm.outbound.retries import max_attempts
from console.web.errors import error_message
from console.web.templatetags.console_format import format_when
from tests.fixtures.sync import entities
from tests.fixtures.waiting import wait_until

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("console_account"),
]

CYRILLIC = re.compile(r"[а-яё]{3,}", re.IGNORECASE)


def ru(text: str, **values: Any) -> str:
    """``text`` as the Russian console shows it."""
    with translation.override("ru"):
        shown = gettext(text)
    return shown % values if values else shown


def assert_russian(text: str) -> None:
    assert CYRILLIC.search(text), f"not in Russian: {text!r}"


def test_a_fault_shows_as_failed_with_a_russian_reason_and_retrying_the_group_clears_it(
    sign_in: Any, checkout: Any, products: list, live_server: Any, sandbox: Any, settings: Any
) -> None:
    # The sandbox's 500 creates nothing: the retry need not wait for the lost creates to settle (60 s).
    settings.AMOCRM_UNCONFIRMED_SETTLE_SECONDS = 0
    sandbox.fault(kind="500", path="/api/v4/leads", method="POST", times=1000)
    orders = [checkout(products[0].sku, f"+7916555030{n}", first_name=f"Клиент{n}") for n in range(2)]
    syncs = [OrderSync.objects.get(order=order) for order in orders]
    assert [(s.state, s.last_error_kind, s.lead_id) for s in syncs] == [
        ("queued", "unknown_outcome", None)
    ] * 2
    page = sign_in("support", language="ru")

    page.goto(f"{live_server.url}/orders/")
    badge = page.locator(f"#orders tbody tr[data-order-id='{orders[0].pk}'] [data-sync-state]")
    expect(badge).to_have_attribute("data-sync-state", "failed")
    expect(badge).to_contain_text(format_when(syncs[0].next_retry_at, "today"))
    assert_russian(badge.inner_text())

    page.goto(f"{live_server.url}/orders/{orders[0].pk}/")
    reason, todo = (ru(text) for text in error_message("unknown_outcome"))
    error = page.locator("#sync-panel .sync-error")
    expect(error.locator("strong")).to_have_text(reason)
    expect(error).to_contain_text(todo)
    assert_russian(reason)

    page.goto(f"{live_server.url}/sync/failed/")
    group = page.locator("#failed-unknown_outcome")
    expect(group.get_by_role("heading", level=2)).to_contain_text(reason)
    expect(group.locator("tbody tr")).to_have_count(2)
    expect(group.locator("tbody")).to_contain_text(ru("attempt %(n)s of %(max)s", n=1, max=max_attempts()))
    sandbox.clear_faults()
    group.locator("form:has(input[name=kind]) button").click()
    expect(page.locator("#sync-failed")).to_contain_text(ru("No failed syncs."))
    expect(group).to_have_count(0)

    leads = {OrderSync.objects.get(order=order).lead_id for order in orders}
    assert None not in leads and len(leads) == 2
    assert len(entities(sandbox, "leads")) == 2, "a retry after a lost answer made a duplicate deal"
    page.goto(f"{live_server.url}/orders/")
    expect(badge).to_have_attribute("data-sync-state", "synced")


def test_support_reads_the_webhook_inbox_and_replays_a_delivery(
    sign_in: Any, checkout: Any, products: list, live_server: Any, sandbox: Any
) -> None:
    order = checkout(products[1].sku, "+79165550311")
    lead_id = OrderSync.objects.get(order=order).lead_id
    in_rent = StageMapping.objects.get(order_status="in_rent")
    sandbox.move_lead(lead_id, in_rent.status_id, in_rent.pipeline_id)
    delivery = wait_until(
        lambda: WebhookInbox.objects.filter(order=order, outcome="applied").first(),
        30,
        what="the stage move's webhook applied",
    )
    page = sign_in("support", language="ru")

    page.goto(f"{live_server.url}/webhooks/")
    expect(page.get_by_role("heading", level=1)).to_have_text(ru("Webhooks from AmoCRM"))
    row = page.locator(f"#webhook-{delivery.pk}")
    expect(row).to_contain_text(str(lead_id))
    expect(row.get_by_role("link", name=order.number)).to_be_visible()
    with translation.override("ru"):
        outcome = str(delivery.get_outcome_display())
    expect(row.locator(".badge")).to_have_text(outcome)
    assert_russian(row.locator(".badge").inner_text())

    row.get_by_role("button", name=ru("Replay")).click()
    expect(row.locator(".replay-note")).to_be_visible()
    wait_until(
        lambda: WebhookInbox.objects.get(pk=delivery.pk).processed_at > delivery.processed_at,
        what="the replay processed",
    )
    order.refresh_from_db()
    assert order.status == "in_rent"


def forged_post(page: Any, action: str, fields: dict[str, str]) -> Any:
    """Submit a form the page does not offer (with the page's CSRF token); returns the response."""
    script = """([action, fields]) => {
        const form = document.createElement("form");
        form.method = "post";
        form.action = action;
        form.append(document.querySelector("input[name=csrfmiddlewaretoken]").cloneNode());
        for (const [name, value] of Object.entries(fields)) {
            const input = document.createElement("input");
            input.type = "hidden"; input.name = name; input.value = value;
            form.append(input);
        }
        document.body.append(form);
        form.submit();
    }"""
    with page.expect_navigation() as navigation:
        page.evaluate(script, [action, fields])
    return navigation.value


def test_support_gets_the_friendly_403_for_the_stage_map_and_the_connection(
    sign_in: Any, live_server: Any
) -> None:
    before = list(StageMapping.objects.values_list("order_status", "status_id").order_by("order_status"))
    page = sign_in("support", language="ru")
    nav = page.locator("header.top nav")
    expect(nav.get_by_role("link", name=ru("Stage map"), exact=True)).to_be_visible()
    expect(nav.get_by_role("link", name=ru("Users"), exact=True)).to_have_count(0)

    page.goto(f"{live_server.url}/stage-map/")
    expect(page.locator("#stage-map-form")).to_have_count(0)
    expect(page.locator("#status-to-stage")).to_contain_text(ru("Only administrators change the stage map."))
    response = forged_post(page, f"{live_server.url}/stage-map/", {"stage_new": ""})
    assert response.status == 403
    no_access = page.locator("#no-access")
    expect(no_access.get_by_role("heading")).to_have_text(ru("You cannot open this page"))
    expect(no_access).to_contain_text(ru("This needs the role: %(roles)s.", roles=ru("administrator")))

    page.goto(f"{live_server.url}/connection/")
    expect(page.locator("#pause-form")).to_have_count(0)
    expect(page.get_by_text(ru("Only administrators change the connection."))).to_be_visible()
    response = forged_post(page, f"{live_server.url}/connection/pause/", {"reason": "support"})
    assert response.status == 403
    expect(page.locator("#no-access")).to_be_visible()

    after = list(StageMapping.objects.values_list("order_status", "status_id").order_by("order_status"))
    assert after == before
    assert AmoConnection.objects.get(pk=1).state == AmoConnection.State.CONNECTED
