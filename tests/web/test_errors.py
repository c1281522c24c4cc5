"""Errors people can act on (console/web/errors.py): every kind of sync error says what happened and what to
do; amoCRM's own text and the request id stay as details, never the headline."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from console.amocrm.api.errors import ERROR_KINDS, UNPAID_TITLE, CircuitOpen, error_kind, kind_of
from console.amocrm.models import OrderSync, SyncLog
from console.web.errors import MESSAGES, error_message, failure_groups, shown_error
from console.web.templatetags.console_labels import sync_error

CLIENT_TITLES = {
    "not_found": "Lead 999 does not exist in AmoCRM",
    "server": "AmoCRM server error 500: try again later",
    "unpaid": UNPAID_TITLE,
}


def outside_details(html: str) -> str:
    """The page as a reader sees it before opening any ``<details>`` (and without tooltips)."""
    html = re.sub(r"<details.*?</details>", "", unescape(html), flags=re.S)
    return re.sub(r'title="[^"]*"', "", html)


def test_every_error_kind_has_a_message_and_what_to_do() -> None:
    assert set(MESSAGES) == set(ERROR_KINDS)
    for kind in ERROR_KINDS:
        what, todo = error_message(kind)
        assert what and todo and what != todo, kind


def test_every_kind_the_integration_can_record_has_a_message() -> None:
    from console.amocrm.models import AmoConnection

    states = [error_kind(CircuitOpen(state=state)) for state in AmoConnection.State.values]
    statuses = [kind_of("", status) for status in range(100, 600)]
    assert set(states) | set(statuses) <= set(MESSAGES)
    assert {kind_of(kind) for kind in ERROR_KINDS} == set(ERROR_KINDS)


def test_an_unknown_kind_reads_as_other() -> None:
    assert error_message("bogus") == error_message("other")


def test_a_row_without_a_kind_is_explained_by_its_http_status() -> None:
    assert kind_of("", 204) == "not_found"
    assert kind_of("", 503) == "server"
    assert kind_of("", 402) == "unpaid"
    assert kind_of("", None) == "other"
    assert kind_of("revoked", 401) == "revoked"


def test_the_shown_error_keeps_amocrms_text_and_request_id_as_details() -> None:
    sync = OrderSync(last_error_title="AmoCRM rejected the data", last_error_kind="validation")
    sync.last_error_request_id, sync.last_error_detail = "req-1", "field price: wrong type"
    shown = shown_error(sync)
    assert (shown.kind, shown.what) == ("validation", error_message("validation")[0])
    assert (shown.title, shown.detail, shown.request_id) == (
        "AmoCRM rejected the data",
        "field price: wrong type",
        "req-1",
    )
    log = SyncLog(error_title="Lead 999 does not exist in AmoCRM", error_status=204, request_id="r2")
    assert (shown_error(log).kind, shown_error(log).request_id) == ("not_found", "r2")
    assert shown_error(SyncLog()) is None


def test_failures_are_grouped_by_kind_largest_first() -> None:
    rows = [
        OrderSync(last_error_kind="server"),
        OrderSync(last_error_kind="validation"),
        OrderSync(last_error_kind="server"),
    ]
    groups = failure_groups(rows, shown=1)
    assert [(g.kind, g.count, len(g.rows)) for g in groups] == [("server", 2, 1), ("validation", 1, 1)]


@pytest.mark.parametrize("kind", sorted(CLIENT_TITLES))
def test_the_error_tag_leads_with_the_kind_not_the_clients_title(kind: str) -> None:
    from django.template.loader import render_to_string

    sync = OrderSync(last_error_title=CLIENT_TITLES[kind], last_error_kind=kind, last_error_request_id="x-9")
    html = render_to_string("sync/_error.html", sync_error(sync))
    assert error_message(kind)[0] in html
    assert CLIENT_TITLES[kind] not in outside_details(html)
    assert CLIENT_TITLES[kind] in unescape(html) and "x-9" in html


@pytest.fixture
def manager(staff_user: Any) -> Client:
    client = Client()
    client.force_login(staff_user)
    return client


def test_no_page_of_the_sync_shows_a_clients_title_as_the_headline(manager: Client, order: Any) -> None:
    OrderSync.objects.filter(order=order).update(
        state="failed", error={"title": CLIENT_TITLES["unpaid"]}, error_kind="unpaid", attempts=1
    )
    SyncLog.objects.create(
        order=order, action="link_to_lead", event="manager", trigger="manager:anna", outcome="failed",
        error_title=CLIENT_TITLES["not_found"], error_status=204, request_id="req-404",
    )  # fmt: skip
    for url, kind in ((reverse("web:sync_failed"), "unpaid"), (reverse("web:sync_log"), "not_found")):
        html = manager.get(url).content.decode()
        assert error_message(kind)[0] in outside_details(html), url
        assert CLIENT_TITLES[kind] not in outside_details(html), url
        assert CLIENT_TITLES[kind] in unescape(html), url  # kept as details


def test_every_error_kind_fits_the_column_it_is_stored_in() -> None:
    from console.amocrm.models import OrderSync, SyncLog

    for model in (OrderSync, SyncLog):
        width = model._meta.get_field("error_kind").max_length
        assert all(len(kind) <= width for kind in ERROR_KINDS), model
