"""Defects of layout (issue 22, defect 14), in Chromium: the paused badge's icon is drawn, not a missing
glyph; the filters' checkboxes sit on the middle line of the fields beside them at 1280 px; the new
customer's fields hide once an existing customer is picked on the order form."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.test_orders_console import make_order
from tests.web.orders_world import connect, sync_row

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("products")]

CENTRES = """() => {
  const mid = (el) => { const r = el.getBoundingClientRect(); return r.top + r.height / 2; };
  const selects = [...document.querySelectorAll("form.filters select")];
  return [...document.querySelectorAll("form.filters input[type=checkbox]")].map((box) => {
    const row = selects.filter((s) => Math.abs(mid(s) - mid(box)) < 20);
    return [box.name, row.length ? Math.min(...row.map((s) => Math.abs(mid(s) - mid(box)))) : null];
  });
}"""


def test_the_paused_badge_draws_its_icon(logged_in_page, live_server):
    page = logged_in_page
    connect("paused")
    sync_row(make_order("Алиса", "+79991110001"), state="queued", task_pending=True)
    page.goto(f"{live_server.url}/orders/")
    badge = page.locator("#orders tbody .badge.sync-paused").first
    expect(badge).to_be_visible()
    icon = badge.locator("svg.icon")
    box = icon.bounding_box()
    assert box is not None and box["width"] >= 8 and box["height"] >= 8
    before = badge.evaluate("(el) => getComputedStyle(el, '::before').content")
    assert "⏸" not in before


def test_the_filter_checkboxes_line_up_with_the_fields_beside_them_at_1280_px(logged_in_page, live_server):
    page = logged_in_page
    make_order("Алиса", "+79991110001")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/orders/")
    offsets = dict(page.evaluate(CENTRES))
    assert offsets, "the filters hold checkboxes"
    misaligned = {name: off for name, off in offsets.items() if off is None or off > 1.5}
    assert misaligned == {}


def test_the_new_customer_fields_hide_once_a_customer_is_picked(logged_in_page, live_server):
    page = logged_in_page
    make_order("Алиса", "+79991110001")
    page.goto(f"{live_server.url}/orders/new/")
    fields = page.locator("#new-customer-fields")
    expect(fields).to_be_visible()
    page.fill("#id_customer_q", "Алиса")
    choice = page.locator("#customer-results input[name=customer]").first
    expect(choice).to_be_visible()
    choice.check()
    expect(fields).to_be_hidden()
    page.locator("#customer-chosen input[name=customer][value='']").check()
    expect(fields).to_be_visible()
