"""The console's sync controls and support pages (console/web/views/sync.py)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from html import unescape
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from console.amocrm.models import AmoConnection, OrderSync, SyncLog
from console.orders.models import Order
from console.web.errors import error_message
from console.web.templatetags.console_format import format_when
from tests.fixtures.builders import make_user


@pytest.fixture
def manager(staff_user: Any) -> Client:
    client = Client()
    client.force_login(staff_user)
    return client


def state(order: Order) -> str:
    return OrderSync.objects.get(order=order).state


def test_push_redirects_back_with_a_message(manager: Client, order: Order, enqueued: list) -> None:
    response = manager.post(reverse("web:sync_push", args=[order.pk]), {"next": "/orders/1/"})

    assert (response.status_code, response.headers["Location"]) == (302, "/orders/1/")
    assert enqueued == [("order_sync_task", order.pk)]
    assert OrderSync.objects.get(order=order).pending_trigger == "manager:manager"


def test_an_htmx_control_answers_204_and_triggers_orders_changed(
    manager: Client, order: Order, enqueued: list
) -> None:
    response = manager.post(reverse("web:sync_skip", args=[order.pk]), HTTP_HX_REQUEST="true")

    assert response.status_code == 204
    assert "orders-changed" in response.headers["HX-Trigger"]
    assert state(order) == "skipped"


def test_skip_unskip_and_unlink_change_the_state(manager: Client, order: Order, enqueued: list) -> None:
    manager.post(reverse("web:sync_skip", args=[order.pk]))
    assert state(order) == "skipped"
    manager.post(reverse("web:sync_push", args=[order.pk]))
    assert state(order) == "skipped"  # a skipped order is not pushed
    manager.post(reverse("web:sync_unskip", args=[order.pk]))
    assert state(order) == "queued"
    manager.post(reverse("web:sync_unlink", args=[order.pk]))
    assert state(order) == "unlinked"
    actions = list(SyncLog.objects.filter(order=order).values_list("action", flat=True))
    assert actions == ["unlink", "unskip", "skip"]


def test_link_needs_a_numeric_lead_id(manager: Client, order: Order) -> None:
    response = manager.post(reverse("web:sync_link", args=[order.pk]), {"lead_id": "abc"}, follow=True)
    assert "digits only" in response.content.decode()
    assert OrderSync.objects.get(order=order).lead_id is None


@pytest.mark.django_db
def test_link_to_a_missing_lead_is_checked_in_the_background_and_logged(
    manager: Client, order: Order, amo_setup: Any, sandbox: Any, django_capture_on_commit_callbacks: Any
) -> None:
    sandbox.control("POST", "/_sandbox/requests/clear")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = manager.post(reverse("web:sync_link", args=[order.pk]), {"lead_id": "987654"}, follow=True)
    assert "once AmoCRM confirms it" in response.content.decode()
    assert sandbox.requests()["total"] == 0, "the web request itself must not call AmoCRM"
    for callback in callbacks:
        callback()
    failure = SyncLog.objects.get(order=order, action="link_to_lead")
    assert failure.outcome == "failed" and "does not exist" in failure.error_title
    assert OrderSync.objects.get(order=order).lead_id is None


@pytest.mark.django_db
def test_linking_a_lead_another_order_owns_is_refused_at_once(
    manager: Client, order: Order, make_order: Callable[..., Order]
) -> None:
    other = make_order()
    OrderSync.objects.update_or_create(order=other, defaults={"lead_id": 555, "state": "synced"})
    response = manager.post(reverse("web:sync_link", args=[order.pk]), {"lead_id": "555"}, follow=True)
    assert "already linked to another order" in response.content.decode()


def test_bulk_skip_and_push_take_a_list_of_order_ids(
    manager: Client, make_order: Callable[..., Order], enqueued: list
) -> None:
    orders = [make_order() for _ in range(3)]
    ids = ",".join(str(o.pk) for o in orders[:2])

    manager.post(reverse("web:sync_bulk", args=["skip"]), {"order_ids": ids})
    assert [state(o) for o in orders[:2]] == ["skipped", "skipped"]

    manager.post(reverse("web:sync_bulk", args=["push"]), {"order_ids": [str(o.pk) for o in orders]})
    assert enqueued == [("orders_sync_bulk_task", [orders[2].pk], "bulk:manager")]


def test_an_unknown_bulk_action_is_a_404(manager: Client, order: Order) -> None:
    response = manager.post(reverse("web:sync_bulk", args=["explode"]), {"order_ids": str(order.pk)})
    assert response.status_code == 404


def test_controls_need_a_signed_in_manager_and_post(client: Client, manager: Client, order: Order) -> None:
    url = reverse("web:sync_push", args=[order.pk])
    assert client.post(url).status_code == 302  # to the login page
    assert manager.get(url).status_code == 405


def test_the_sync_log_page_lists_and_filters_attempts(manager: Client, order: Order) -> None:
    SyncLog.objects.create(order=order, event="created", action="create", trigger="storefront", outcome="ok")
    SyncLog.objects.create(
        order=order, event="updated", action="update", trigger="manager:anna", outcome="failed",
        error_title="AmoCRM rejected the data", error_detail="field price: wrong type", request_id="abc123",
    )  # fmt: skip

    page = manager.get(reverse("web:sync_log")).content.decode()
    assert "AmoCRM rejected the data" in page and "abc123" in page and "Storefront" in page
    failed_only = manager.get(reverse("web:sync_log"), {"outcome": "failed"}, HTTP_HX_REQUEST="true")
    assert "Storefront" not in failed_only.content.decode() and "<html" not in failed_only.content.decode()


def test_the_failed_page_lists_failures_and_retry_queues_them(
    manager: Client, order: Order, enqueued: list
) -> None:
    OrderSync.objects.filter(order=order).update(
        state="failed", error_kind="other", error={"title": "AmoCRM rejected the data"}
    )

    assert "AmoCRM rejected the data" in manager.get(reverse("web:sync_failed")).content.decode()
    manager.post(reverse("web:sync_retry"), {"all": "1"})

    assert state(order) == "queued"
    assert enqueued == [("orders_sync_bulk_task", [order.pk], "manager:manager")]


def test_pushing_an_unlinked_order_asks_new_deal_or_old_one(
    manager: Client, order: Order, enqueued: list
) -> None:
    OrderSync.objects.filter(order=order).update(state="unlinked", lead_id=None, previous_lead_id=4242)
    url = reverse("web:sync_push", args=[order.pk])

    detail = reverse("web:order_detail", args=[order.pk])
    page = manager.post(url, HTTP_REFERER=f"http://testserver{url}").content.decode()
    assert "4242" in page and 'value="relink"' in page and 'value="new"' in page
    assert f'name="next" value="{detail}"' in page  # back to the order, not to this POST-only address
    assert enqueued == [] and state(order) == "unlinked"

    response = manager.post(url, {"mode": "relink", "next": detail})
    assert response.status_code == 302 and response.url == detail
    assert enqueued == [("order_link_task", order.pk, 4242, "manager:manager")]
    manager.post(url, {"mode": "new"})
    assert enqueued[-1] == ("order_sync_task", order.pk) and state(order) == "queued"


def test_pushing_a_cancelled_order_without_a_deal_says_why_nothing_happens(
    manager: Client, make_order: Callable[..., Order], enqueued: list
) -> None:
    order = make_order(status="cancelled")
    response = manager.post(reverse("web:sync_push", args=[order.pk]), follow=True)
    assert "no deal is made for it" in response.content.decode()
    assert enqueued == []


# --- failed syncs, grouped by the kind of error -------------------------------------------------------------


@pytest.fixture
def failures(make_order: Callable[..., Order]) -> dict[str, list[Order]]:
    """Two orders waiting for a retry after amoCRM server errors; one failed for good (validation)."""
    orders = {"server": [make_order(), make_order()], "validation": [make_order()]}
    retry_at = timezone.now() + dt.timedelta(minutes=10)
    for order in orders["server"]:
        OrderSync.objects.update_or_create(
            order=order,
            defaults={
                "state": "queued",
                "attempts": 3,
                "next_retry_at": retry_at,
                "error_kind": "server",
                "error": {"title": "AmoCRM server error 502: try again later", "request_id": "req-502"},
            },
        )
    OrderSync.objects.update_or_create(
        order=orders["validation"][0],
        defaults={"state": "failed", "attempts": 1, "error": {"title": "AmoCRM rejected the data"},
                  "error_kind": "validation"},
    )  # fmt: skip
    return orders


def test_the_failed_page_groups_failures_by_kind_and_says_what_to_do(
    manager: Client, failures: dict[str, list[Order]]
) -> None:
    html = unescape(manager.get(reverse("web:sync_failed")).content.decode())

    for kind in ("server", "validation"):
        what, todo = error_message(kind)
        assert what in html and todo in html
    server = html[html.index('id="failed-server"') : html.index('id="failed-validation"')]
    assert '<span class="badge failed">2</span>' in server
    for order in failures["server"]:
        assert order.number in server and order.customer.name in server
    assert server.count("attempt 3 of 8") == 2
    retry_at = OrderSync.objects.get(order=failures["server"][0]).next_retry_at
    assert f"retry at {format_when(retry_at, 'today')}" in server  # with its date after midnight
    assert "req-502" in server  # amoCRM's request id, in the details


def test_retrying_a_group_queues_only_the_orders_of_that_kind(
    manager: Client, failures: dict[str, list[Order]], enqueued: list
) -> None:
    response = manager.post(reverse("web:sync_retry"), {"kind": "server"})

    assert response.status_code == 302
    ids = sorted(o.pk for o in failures["server"])
    assert enqueued == [("orders_sync_bulk_task", ids, "manager:manager")]
    assert OrderSync.objects.get(order=failures["validation"][0]).state == "failed"


def test_after_retrying_a_group_the_page_counts_and_lists_the_same_orders(
    manager: Client, failures: dict[str, list[Order]], enqueued: list
) -> None:
    response = manager.post(reverse("web:sync_retry"), {"kind": "server"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 204 and "orders-changed" in response["HX-Trigger"]

    html = manager.get(reverse("web:sync_failed"), HTTP_HX_REQUEST="true").content.decode()
    assert 'id="failed-server"' not in html  # queued again: waiting for a worker, no failure
    for order in failures["server"]:
        assert order.number not in html
    validation = html[html.index('id="failed-validation"') :]
    assert '<span class="badge failed">1</span>' in validation and validation.count("<tr>") == 2


def test_retrying_needs_a_console_role(client: Client, failures: dict[str, list[Order]]) -> None:
    client.force_login(make_user("nobody"))
    assert client.post(reverse("web:sync_retry"), {"kind": "server"}).status_code == 403


# --- the sync log in words ------------------------------------------------------------------------------


def visible(html: str) -> str:
    """The page's text without tags and attributes: what a reader sees."""
    return unescape(re.sub(r"<[^>]+>", " ", html))


def test_the_sync_log_says_events_actions_and_triggers_in_words(manager: Client, order: Order) -> None:
    rows = [
        ("webhook", "amocrm_update", "webhook"),
        ("manager", "link_to_lead", "manager:admin"),
        ("bulk", "create", "bulk:anna"),
        ("sync", "none", "schedule"),
        ("customer", "contact_update", "customer"),
        ("deleted", "lead_deleted", "reconcile"),
    ]
    for event, action, trigger in rows:
        SyncLog.objects.create(order=order, event=event, action=action, trigger=trigger, outcome="ok")

    text = visible(manager.get(reverse("web:sync_log")).content.decode())

    for words in ("From amoCRM", "Deal changed in amoCRM", "Manager admin", "Linked to an existing deal",
                  "Bulk action by anna", "Retry schedule", "Nothing to send", "Contact updated in amoCRM",
                  "Deal closed: its order was deleted"):  # fmt: skip
        assert words in text, words
    for code in (
        "amocrm_update",
        "link_to_lead",
        "manager:admin",
        "bulk:anna",
        "contact_update",
        "lead_deleted",
    ):
        assert code not in text, code


def test_the_sync_log_links_the_order_and_the_cards_in_amocrm(manager: Client, order: Order) -> None:
    AmoConnection.objects.filter(pk=AmoConnection.get_solo().pk).update(base_url="https://demo.amocrm.ru/")
    SyncLog.objects.create(
        order=order, action="update", outcome="ok", lead_id=31, contact_id=777, company_id=55
    )

    html = manager.get(reverse("web:sync_log")).content.decode()

    assert f'<a href="{reverse("web:order_detail", args=[order.pk])}">{order.number}</a>' in html
    assert 'href="https://demo.amocrm.ru/contacts/detail/777"' in html
    assert 'href="https://demo.amocrm.ru/leads/detail/31"' in html
    assert 'href="https://demo.amocrm.ru/companies/detail/55"' in html


@pytest.mark.parametrize("form", ["number", "digits", "padded"])
def test_the_order_filter_takes_the_number_in_any_form(
    manager: Client, make_order: Callable[..., Order], form: str
) -> None:
    mine, other = make_order(), make_order()
    SyncLog.objects.create(order=mine, action="create", outcome="ok", trigger="storefront")
    SyncLog.objects.create(order=other, action="create", outcome="ok", trigger="storefront")
    text = {"number": mine.number, "digits": str(mine.pk), "padded": f"{mine.pk:06d}"}[form]

    html = manager.get(reverse("web:sync_log"), {"order": text}).content.decode()

    assert mine.number in html and other.number not in html


def test_an_order_filter_naming_no_order_shows_nothing(manager: Client, order: Order) -> None:
    SyncLog.objects.create(order=order, action="create", outcome="ok")
    html = manager.get(reverse("web:sync_log"), {"order": "R-abc"}).content.decode()
    assert order.number not in html and "No entries match." in html
