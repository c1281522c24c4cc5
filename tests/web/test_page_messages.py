"""What every page says besides its content: the connection banner's times in the console's format, and the
messages area, which also shows the messages htmx answers carry (``static/console/toasts.js``)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.contrib.staticfiles import finders
from django.test import Client
from django.urls import reverse

from console.amocrm.models import AmoConnection, OrderSync
from console.orders.models import Order

pytestmark = pytest.mark.django_db


def test_the_paused_banner_gives_its_time_as_every_other_page_does(admin_client: Client) -> None:
    paused_at = dt.datetime(2026, 3, 9, 21, 5, tzinfo=dt.UTC)  # 10.03.2026 00:05 in Moscow
    AmoConnection.objects.update_or_create(
        pk=1,
        defaults={"state": "paused", "paused_at": paused_at, "paused_by": "anna", "paused_reason": "Inv"},
    )
    body = admin_client.get(reverse("web:sync_log")).content.decode()
    banner = body.split('id="connection-banner"')[1].split("</ul>")[0]
    assert "anna" in banner and "10.03.2026 00:05" in banner


def test_every_page_has_a_live_messages_area_and_loads_the_listener_in_its_head(admin_client: Client) -> None:
    body = admin_client.get(reverse("web:sync_log")).content.decode()
    assert '<div role="status" aria-live="polite"><ul class="messages" id="messages"></ul></div>' in body
    head = body.split("</head>")[0]
    assert "console/toasts.js" in head
    assert finders.find("console/toasts.js"), "the listener is served from our static files, not a CDN"


@pytest.mark.usefixtures("products")
def test_the_orders_pages_load_their_script_in_the_head(admin_client: Client, order: Order) -> None:
    for url in (
        reverse("web:orders"),
        reverse("web:order_detail", args=[order.pk]),
        reverse("web:order_create"),
    ):
        head, body = admin_client.get(url).content.decode().split("</head>")
        assert "console/orders.js" in head and "console/orders.js" not in body, url


def test_an_htmx_control_carries_its_message_and_level_and_leaves_none_in_the_session(
    admin_client: Client, order: Order, enqueued: list
) -> None:
    response = admin_client.post(reverse("web:sync_skip", args=[order.pk]), headers={"HX-Request": "true"})
    assert response.status_code == 204
    detail = json.loads(response.headers["HX-Trigger"])["orders-changed"]
    assert detail == {"message": f"Order {order.number} will not be synced.", "level": "success"}
    assert list(get_messages(response.wsgi_request)) == []

    OrderSync.objects.filter(order=order).update(lead_id=555)
    response = admin_client.post(
        reverse("web:sync_link", args=[order.pk]), {"lead_id": "x"}, headers={"HX-Request": "true"}
    )
    assert json.loads(response.headers["HX-Trigger"])["orders-changed"]["level"] == "error"


# The listener, run in Node against a stand-in for the page (no browser needed): it reads the headers of
# the answer htmx reports in ``htmx:afterRequest`` and adds each carried message to #messages.
HARNESS = """
const fs = require("fs");
const listeners = {};
const area = {children: [], appendChild(li) { this.children.push(li); },
  get firstElementChild() { return this.children[0]; },
  removeChild(li) { this.children.splice(this.children.indexOf(li), 1); }};
global.document = {
  addEventListener(name, fn) { listeners[name] = fn; },
  getElementById(id) { return id === "messages" ? area : null; },
  createElement() { return {className: "", textContent: ""}; },
};
eval(fs.readFileSync(process.argv[1], "utf8"));
for (const headers of JSON.parse(process.argv[2])) {
  const xhr = {getResponseHeader(name) { return headers[name] || null; }};
  listeners["htmx:afterRequest"]({detail: {xhr}});
}
console.log(JSON.stringify(area.children.map((li) => [li.className, li.textContent])));
"""


def run_listener(answers: list[dict[str, str]]) -> list[list[str]]:
    script = Path(finders.find("console/toasts.js"))
    done = subprocess.run(
        ["node", "-e", HARNESS, str(script), json.dumps(answers)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return json.loads(done.stdout)


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js to run the listener")
def test_the_listener_shows_carried_messages_as_text_with_their_level() -> None:
    answers: list[dict[str, Any]] = [
        {
            "HX-Trigger": json.dumps(
                {"orders-changed": {"message": "Order R-000001 is queued.", "level": "success"}}
            )
        },
        {"HX-Trigger": json.dumps({"webhook-replayed": {"message": "<b>Delivery</b> #3 done."}})},
        {"HX-Trigger": "orders-changed"},
        {"HX-Trigger": json.dumps({"orders-changed": {}})},
        {"HX-Trigger": "{not json"},
        {"HX-Trigger-After-Settle": json.dumps({"x": {"message": "Bad", "level": "evil class"}})},
        {},
    ]
    assert run_listener(answers) == [
        ["success", "Order R-000001 is queued."],
        ["", "<b>Delivery</b> #3 done."],
        ["", "Bad"],
    ]


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js to run the listener")
def test_the_listener_keeps_the_five_newest_messages() -> None:
    answers = [{"HX-Trigger": json.dumps({"e": {"message": f"m{i}"}})} for i in range(7)]
    assert [text for _level, text in run_listener(answers)] == ["m2", "m3", "m4", "m5", "m6"]
