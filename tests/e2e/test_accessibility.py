"""Accessibility of the console's main pages: axe-core (https://github.com/dequelabs/axe-core) run in Chromium
on each page with data on it, as an administrator (who sees every control) with a Russian browser (the
console's default language). No violation of impact "serious" or "critical" is allowed.

The same walk saves screenshots of the main pages, 1280 px wide, under ``test-results/screenshots/``."""

from __future__ import annotations

from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from console.amocrm.models import OrderSync, PipelineStatus, StageMapping, WebhookInbox
from tests.fixtures.console import SCREENSHOTS
from tests.fixtures.waiting import wait_until

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("console_account"),
]

BLOCKING = {"serious", "critical"}
WIDTH = 1280
# (name, address; "{order}" is an order's id, "{customer}" its customer's); a screenshot is saved of the
# pages with a file name.
PAGES = [
    ("dashboard", "/", "dashboard.png"),
    ("orders list", "/orders/", "orders-list.png"),
    ("order page", "/orders/{order}/", "order-page.png"),
    ("new order form", "/orders/new/", ""),
    ("customers list", "/customers/", "customers-list.png"),
    ("customer card", "/customers/{customer}/", "customer-card.png"),
    ("customer form", "/customers/{customer}/edit/", ""),
    ("companies list", "/companies/", ""),
    ("stage map", "/stage-map/", "stage-map.png"),
    ("connection", "/connection/", ""),
    ("sync log", "/sync/log/", "sync-log.png"),
    ("failed syncs", "/sync/failed/", ""),
    ("webhook inbox", "/webhooks/", "webhook-inbox.png"),
    ("users", "/users/", ""),
]


@pytest.fixture
def world(checkout: Any, products: list, sandbox: Any) -> dict[str, Any]:
    """Orders in several sync states: synced, moved in amoCRM (a webhook), drifted, failed."""
    orders = [
        checkout(products[n % 3].sku, f"+7916555050{n}", first_name=name, quantity=n + 1)
        for n, name in enumerate(["Анна", "Борис", "Вера", "Глеб"])
    ]
    leads = {order.pk: OrderSync.objects.get(order=order).lead_id for order in orders}
    in_rent = StageMapping.objects.get(order_status="in_rent")
    sandbox.move_lead(leads[orders[0].pk], in_rent.status_id, in_rent.pipeline_id)
    repair = PipelineStatus.objects.select_related("pipeline").get(name="В ремонте")
    sandbox.move_lead(leads[orders[1].pk], repair.status_id, repair.pipeline.amo_id)
    wait_until(lambda: WebhookInbox.objects.filter(outcome="applied").count() >= 1, 30, what="webhooks")
    wait_until(
        lambda: OrderSync.objects.filter(amo_status_id=repair.status_id).exists(), 30, what="the drift"
    )
    sandbox.fault(kind="500", path="/api/v4/leads", method="POST", times=1000)
    failed = checkout(products[0].sku, "+79165550599", first_name="Дарья")
    sandbox.clear_faults()
    return {"order": orders[0], "failed": failed}


def serious(results: Any) -> list[str]:
    """One line per blocking violation: rule, impact, help and the first offending elements."""
    lines = []
    for violation in results.response["violations"]:
        if violation["impact"] in BLOCKING:
            nodes = violation["nodes"][:3]
            targets = [" ".join(map(str, node["target"])) for node in nodes]
            why = [check["message"] for check in nodes[0]["any"][:1]] if nodes else []
            lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']} -> {targets} {why}")
    return lines


def test_the_main_pages_have_no_serious_or_critical_axe_violations(
    world: dict[str, Any], sign_in: Any, live_server: Any
) -> None:
    page = sign_in("admin", language="ru", width=WIDTH)
    axe = Axe()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    found: dict[str, list[str]] = {}
    for name, address, screenshot in PAGES:
        response = page.goto(
            live_server.url + address.format(order=world["order"].pk, customer=world["order"].customer_id)
        )
        assert response is not None and response.status == 200, f"{name}: HTTP {response and response.status}"
        expect(page.locator("main h1").first).to_be_visible()
        problems = serious(axe.run(page))
        if problems:
            found[name] = problems
        if screenshot:
            page.screenshot(path=SCREENSHOTS / screenshot, full_page=True)
    report = "\n".join(f"{name}:\n  " + "\n  ".join(lines) for name, lines in found.items())
    assert not found, f"axe found serious or critical violations:\n{report}"
    for _name, _address, screenshot in PAGES:
        assert not screenshot or (SCREENSHOTS / screenshot).stat().st_size > 10_000
