"""The orders list (display states and drift, search, filters, CSV export, bulk actions with a progress bar,
a constant number of queries) and the order form's customer picker and lines."""

from __future__ import annotations

import csv
import datetime
import io
import json
import re
from html import unescape

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from console.amocrm.models import OrderSync
from console.customers.models import Company, Customer
from console.orders.models import Order
from console.orders.services import order_soft_delete
from console.web import sync_state
from console.web.errors import error_message
from console.web.filters import OrderFilter
from console.web.templatetags.console_format import format_when
from tests.web.orders_world import (
    SCENARIOS,
    TODAY,
    build_scenarios,
    connect,
    create_order,
    deal_at,
    form_data,
    many_orders,
    map_stages,
    sync_row,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("products")]


def test_it_sends_anonymous_visitors_to_the_login_page(client):
    response = client.get(reverse("web:orders"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_it_lists_orders_with_their_sync_state(admin_client):
    synced = create_order(phone="+79990000001", first_name="Anna")
    create_order(phone="+79990000002", first_name="Boris", sync_disabled=True)
    OrderSync.objects.update_or_create(order=synced, defaults={"state": "synced", "lead_id": 424242})
    response = admin_client.get(reverse("web:orders"))
    body = response.content.decode()
    assert response.status_code == 200
    assert synced.number in body and "Anna" in body and "Boris" in body
    assert "424242" in body
    assert 'class="badge sync-synced"' in body and 'class="badge sync-skipped"' in body


def test_each_rows_deal_links_to_its_card_in_amocrm(admin_client):
    """Issue 22: the list named a deal by its bare number ("deal 424242"); it links to the deal's card."""
    connect(base_url="https://rent.amocrm.ru/")
    synced = create_order(phone="+79990000001", first_name="Anna")
    OrderSync.objects.update_or_create(order=synced, defaults={"state": "synced", "lead_id": 424242})
    body = admin_client.get(reverse("web:orders")).content.decode()
    assert '<a href="https://rent.amocrm.ru/leads/detail/424242" target="_blank" rel="noopener">' in body


def test_it_filters_by_status_and_search(admin_client):
    create_order(phone="+79990000011", first_name="Alpha", status="reserved")
    create_order(phone="+79990000012", first_name="Beta", status="new")
    body = admin_client.get(reverse("web:orders"), {"status": "reserved"}).content.decode()
    assert "Alpha" in body and "Beta" not in body
    body = admin_client.get(reverse("web:orders"), {"q": "0000012"}).content.decode()
    assert "Beta" in body and "Alpha" not in body


def test_it_filters_by_sync_state_including_never_synced(admin_client):
    failed = create_order(phone="+79990000021", first_name="Failing")
    create_order(phone="+79990000022", first_name="Fresh")
    OrderSync.objects.update_or_create(
        order=failed, defaults={"state": "failed", "error_kind": "other", "error": {"title": "Boom"}}
    )
    body = admin_client.get(reverse("web:orders"), {"sync_state": "failed"}).content.decode()
    assert "Failing" in body and "Fresh" not in body
    body = admin_client.get(reverse("web:orders"), {"sync_state": "not_linked"}).content.decode()
    assert "Fresh" in body and "Failing" not in body


def test_an_htmx_request_gets_only_the_table_fragment(admin_client):
    create_order()
    response = admin_client.get(reverse("web:orders"), headers={"HX-Request": "true"})
    body = response.content.decode()
    assert 'id="orders-table"' in body
    assert "<html" not in body


def test_bad_filter_values_give_a_page_not_an_error(admin_client):
    response = admin_client.get(reverse("web:orders"), {"installation_from": "not-a-date", "status": "bogus"})
    assert response.status_code == 200


def test_deleted_orders_are_hidden_unless_asked_for(admin_client):
    kept = create_order(phone="+79990000031", first_name="Kept")
    gone = order_soft_delete(
        order=create_order(phone="+79990000032", first_name="Gone"), origin="manager", actor="t"
    )
    body = admin_client.get(reverse("web:orders")).content.decode()
    assert kept.number in body and gone.number not in body
    body = admin_client.get(reverse("web:orders"), {"shown": "deleted"}).content.decode()
    assert gone.number in body and kept.number not in body


# --- Display states, drift, filters (console.web.sync_state) ---------------------------------------------


@pytest.mark.parametrize("connection", ["connected", "revoked"])
def test_the_display_state_and_its_query_agree_for_every_case(make_order, connection):
    map_stages()
    connect(connection)
    orders = build_scenarios(make_order)
    ctx = sync_state.sync_context()
    expected_at = 2 if connection == "connected" else 3
    loaded = {o.pk: o for o in Order.objects.select_related("amo_sync")}
    for name, order in orders.items():
        assert sync_state.display_state(loaded[order.pk], ctx).state == SCENARIOS[name][expected_at], name
    for state in sync_state.DisplayState:
        expected = {o.pk for n, o in orders.items() if SCENARIOS[n][expected_at] == state}
        for per_order in (True, False):  # the page's and the count's spelling of the rule
            condition = sync_state.state_q(state, ctx, per_order=per_order)
            assert set(Order.objects.filter(condition).values_list("pk", flat=True)) == expected, state
        listed = OrderFilter(
            {"sync_state": state, "shown": "all"}, queryset=Order.objects.all(), sync_context=ctx
        )
        assert listed.total().n == len(listed.qs) == len(expected), state
    counts = sync_state.state_counts(ctx)
    assert counts == {state: sum(1 for n in orders if SCENARIOS[n][expected_at] == state) for state in counts}
    drifted = {o.pk for n, o in orders.items() if SCENARIOS[n][expected_at] == "drifted"}
    assert set(sync_state.drifted(Order.objects.all(), ctx).values_list("pk", flat=True)) == drifted


def test_each_state_is_its_own_badge_with_text_and_the_reason_on_hover(admin_client, make_order):
    map_stages()
    connect()
    orders = build_scenarios(make_order)
    body = admin_client.get(reverse("web:orders")).content.decode()
    for state in ("queued", "running", "synced", "failed", "skipped", "not_linked", "drifted"):
        assert f'class="badge sync-{state}"' in body, state
    failed = dict(re.findall(r'<span class="badge sync-failed" title="([^"]*)"[^>]*>([^<]*)</span>', body))
    # The time alone today, with its date when the retry falls after midnight (a run near midnight).
    retry_at = format_when(orders["retrying"].amo_sync.next_retry_at, "today")
    # The reason is the error kind's messages in plain words; amoCRM's own (English) text is not in it.
    label = failed[" ".join(error_message("server"))]
    assert f"retry at {retry_at} ·" in label and "attempt 3 of 8" in label
    assert "attempt 8 of 8, no more retries" in body


def test_a_queued_order_waits_as_paused_while_the_connection_is_down(admin_client, make_order):
    connect("unpaid")
    sync_row(make_order(), state="queued", task_pending=True)
    body = admin_client.get(reverse("web:orders")).content.decode()
    assert 'class="badge sync-paused"' in body and "Account unpaid" in unescape(body)
    assert "every 3s" not in body, "a paused order does not move: nothing to poll for"


def test_the_table_polls_only_while_an_order_on_the_page_is_queued_or_running(admin_client, make_order):
    connect()
    order = make_order()
    deal_at(order)
    assert "every 3s" not in admin_client.get(reverse("web:orders")).content.decode()
    sync_row(order, state="syncing")
    fragment = admin_client.get(reverse("web:orders"), headers={"HX-Request": "true"}).content.decode()
    assert "every 3s" in fragment and 'hx-get="/orders/"' in fragment


def test_filters_by_display_state_error_and_drift(admin_client, make_order):
    map_stages()
    connect()
    orders = build_scenarios(make_order)
    url = reverse("web:orders")

    def numbers(**params) -> set[str]:  # noqa: ANN003
        body = admin_client.get(url, params).content.decode()
        return {o.number for o in orders.values() if f">{o.number}<" in body}

    assert numbers(sync_state="failed") == {orders["retrying"].number, orders["gave up"].number}
    assert numbers(has_error="on") == {orders[n].number for n in ("retrying", "circuit pause", "gave up")}
    drifted = {
        orders[n].number for n in ("moved in amoCRM", "unmapped stage", "unmapped status, mapped stage")
    }
    assert numbers(drifted="on") == drifted == numbers(sync_state="drifted")


@pytest.mark.parametrize(
    "query",
    [
        "R-{pk:06d}",
        "r-{pk}",
        "{pk:06d}",
        "смирн",
        "Анна Смирнова",
        "смирнова АННА",
        "8 (916) 555-12-34",
        "916 555",
        "ANNA@EXAMPLE",
    ],
)
def test_one_search_box_finds_by_number_name_phone_and_email(admin_client, make_order, make_customer, query):
    customer = make_customer(
        first_name="Анна", last_name="Смирнова", phone="+7 916 555 12 34", email="anna@example.com"
    )
    wanted = make_order(customer=customer)
    other = make_order(customer=make_customer(first_name="Борис", last_name="Иванов"))
    body = admin_client.get(reverse("web:orders"), {"q": query.format(pk=wanted.pk)}).content.decode()
    assert wanted.number in body and other.number not in body


def test_the_search_follows_every_write_of_a_customer_and_a_company(
    admin_client, make_order, make_customer, make_company
):
    """Issue 21: the search reads one column the database keeps itself (``Customer.search``), so a write that
    bypasses ``save`` (``update``, as amoCRM's contact edits and bulk changes do) is found at once too."""
    company = make_company(name="ООО Ромашка", inn="7707083893")
    customer = make_customer(first_name="Анна", last_name="Смирнова", company=company)
    order = make_order(customer=customer)

    def found(query: str) -> bool:
        return order.number in admin_client.get(reverse("web:orders"), {"q": query}).content.decode()

    assert found("ромашка") and found("770708") and not found("Кузнецова")
    Customer.objects.filter(pk=customer.pk).update(last_name="Кузнецова", email="anna@new.ru")
    Company.objects.filter(pk=company.pk).update(name="ООО Лютик")
    assert found("Кузнецова") and found("ANNA@NEW") and found("лютик")
    assert not found("Смирнова") and not found("ромашка")
    lead = OrderSync.objects.create(order=order, state="synced", lead_id=31337001)
    assert found(str(lead.lead_id))


# --- CSV export -----------------------------------------------------------------------------------------


def test_the_csv_export_streams_the_filtered_list(admin_client, make_order, make_customer):
    connect()
    kept = make_order(customer=make_customer(first_name="Вера", phone="+7 916 000 00 01"), status="reserved")
    make_order(status="new")
    deal_at(kept)
    response = admin_client.get(reverse("web:orders_export"), {"status": "reserved"})
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="orders-')
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    assert rows[0][:3] == ["Number", "Created", "Customer"] and "AmoCRM state" in rows[0]
    assert len(rows) == 2
    assert rows[1][0] == kept.number and rows[1][3] == "8 (916) 000-00-01" and "synced" in rows[1]


def test_the_csv_export_guards_formulas_but_not_numbers(admin_client, make_order, make_customer):
    connect()
    for name in ("=HYPERLINK(1)", "@SUM(A1)", "-2+3", "+cmd|' /C calc'!A0", "-5", "Вера"):
        make_order(customer=make_customer(first_name=name, last_name=""))
    text = b"".join(admin_client.get(reverse("web:orders_export")).streaming_content).decode("utf-8")
    names = {row[2] for row in csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";")}
    assert {"'=HYPERLINK(1)", "'@SUM(A1)", "'-2+3", "'+cmd|' /C calc'!A0", "-5", "Вера"} <= names


def test_the_export_link_carries_the_lists_filters(admin_client, make_order):
    make_order()
    body = admin_client.get(reverse("web:orders"), {"status": "new", "q": "R-1"}).content.decode()
    assert 'href="/orders/export.csv?status=new&amp;q=R-1"' in body


# --- Bulk actions with a progress bar --------------------------------------------------------------------

HTMX = {"HX-Request": "true"}


def test_a_bulk_push_answers_with_a_progress_bar_that_polls_until_done(
    make_order, staff_user, client, enqueued
):
    connect()
    client.force_login(staff_user)
    orders = [make_order(), make_order()]
    for order in orders:
        deal_at(order)
    ids = [str(o.pk) for o in orders]
    response = client.post(reverse("web:sync_bulk", args=["push"]), {"order_ids": ids}, headers=HTMX)
    body = response.content.decode()
    status_url = f"{reverse('web:sync_bulk_status')}?ids={'%2C'.join(ids)}"
    assert response.status_code == 200 and "<html" not in body
    assert 'id="bulk-progress"' in body and 'max="2" value="0"' in body
    assert f'hx-get="{status_url}"' in body and "every 1s" in body
    assert "2 orders are queued for AmoCRM." in body

    sync_row(orders[0], state="synced")
    body = client.get(status_url, headers=HTMX).content.decode()
    assert 'value="1"' in body and "every 1s" in body and "1 order is still queued" in body

    sync_row(orders[1], state="failed", last_error_title="Boom", attempts=8)
    response = client.get(status_url, headers=HTMX)
    body = response.content.decode()
    assert 'max="2" value="2"' in body and "every 1s" not in body
    assert "Finished." in body and "1 synced · 1 failed" in body
    assert json.loads(response.headers["HX-Trigger"]) == {"orders-changed": {}}
    assert "<html" in client.get(status_url).content.decode(), "without htmx the status is a page"


def test_a_bulk_action_without_orders_says_so_where_the_bar_would_be(staff_user, client):
    client.force_login(staff_user)
    response = client.post(reverse("web:sync_bulk", args=["push"]), {}, headers=HTMX)
    body = response.content.decode()
    assert response.status_code == 200 and "Select at least one order." in body and "<progress" not in body


def test_without_htmx_a_bulk_action_redirects_back_with_a_message(make_order, staff_user, client, enqueued):
    client.force_login(staff_user)
    order = make_order()
    response = client.post(reverse("web:sync_bulk", args=["skip"]), {"order_ids": [order.pk]})
    assert response.status_code == 302 and response["Location"] == reverse("web:orders")
    assert "1 order will not be synced." in [str(m) for m in get_messages(response.wsgi_request)]


def test_bulk_unlink_asks_for_confirmation_first(make_order, staff_user, client, enqueued):
    client.force_login(staff_user)
    order = make_order()
    deal_at(order, lead_id=777)
    url = reverse("web:sync_bulk", args=["unlink"])
    response = client.post(url, {"order_ids": [order.pk], "next": "/orders/?q=x"})
    body = response.content.decode()
    assert response.status_code == 200 and 'id="confirm"' in body
    assert f'name="order_ids" value="{order.pk}"' in body and 'name="confirm" value="1"' in body
    assert OrderSync.objects.get(order=order).lead_id == 777
    response = client.post(url, {"order_ids": [order.pk], "confirm": "1", "next": "/orders/?q=x"})
    assert response.status_code == 302 and response["Location"] == "/orders/?q=x"
    assert OrderSync.objects.get(order=order).state == "unlinked"


def test_the_list_asks_before_a_bulk_unlink_and_sends_confirm(admin_client, make_order):
    make_order()
    body = admin_client.get(reverse("web:orders")).content.decode()
    unlink = re.search(r"<button[^>]*formaction=\"/sync/orders/bulk/unlink/\"[^>]*>", body, re.S).group(0)
    assert "hx-confirm=" in unlink and 'hx-vals=\'{"confirm": "1"}\'' in unlink


# --- A constant number of queries ------------------------------------------------------------------------


def list_queries(client, params: dict) -> int:  # noqa: ANN001
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("web:orders"), params).status_code == 200
    return len(queries)


def test_the_list_takes_a_constant_number_of_queries(admin_client, django_assert_max_num_queries):
    map_stages()
    connect()
    many_orders(30)
    small = [list_queries(admin_client, p) for p in ({}, {"sync_state": "drifted"}, {"q": "Клиент1"})]
    many_orders(300, start=30)
    for params in ({}, {"page": 4}, {"page": 7, "sort": "-total_amount"}, {"sync_state": "failed"}):
        with django_assert_max_num_queries(13):  # the page's ids, then its rows (DeferredJoinQuerySet)
            admin_client.get(reverse("web:orders"), params)
    large = [list_queries(admin_client, p) for p in ({}, {"sync_state": "drifted"}, {"q": "Клиент1"})]
    assert large == small


# --- The order form: customer picker and lines -----------------------------------------------------------


def test_the_picker_finds_up_to_twenty_customers_and_tells_namesakes_apart(
    admin_client, make_customer, make_company
):
    make_customer(first_name="Иван", last_name="Петров", phone="+7 916 111 11 11", email="ivan1@example.com")
    make_customer(
        first_name="Иван",
        last_name="Петров",
        phone="+7 916 222 22 22",
        email="ivan2@example.com",
        company=make_company(name="ООО Шатры"),
    )
    for n in range(25):
        make_customer(first_name="Пётр", last_name=f"Сидоров{n}")
    url = reverse("web:customer_picker")
    body = admin_client.get(
        url, {"customer_q": "иван петров"}, headers={"HX-Request": "true"}
    ).content.decode()
    assert body.count('name="customer"') == 2 and "<html" not in body
    assert "8 (916) 111-11-11" in body and "ivan2@example.com" in body and "ООО Шатры" in body
    assert admin_client.get(url, {"customer_q": "Сидоров"}).content.decode().count('name="customer"') == 20
    assert admin_client.get(url, {"customer_q": "8 916 222"}).content.decode().count('name="customer"') == 1


def test_the_form_has_no_list_of_all_customers(admin_client, make_customer):
    for n in range(5):
        make_customer(last_name=f"Клиентов{n}")
    body = admin_client.get(reverse("web:order_create")).content.decode()
    assert "Клиентов" not in body and 'name="customer_q"' in body
    assert f'hx-get="{reverse("web:customer_picker")}"' in body


def test_without_javascript_find_shows_matches_and_keeps_what_was_typed(admin_client, make_customer, product):
    wanted = make_customer(first_name="Ольга", last_name="Смирнова")
    typed = {"customer_q": "Смирнова", "customer": "", "dismantle_date": "", "comment": "Позвонить заранее"}
    form = form_data(lines=[(product, 3)], find_customer="1", **typed)
    response = admin_client.post(reverse("web:order_create"), form)
    body = response.content.decode()
    assert response.status_code == 200 and Order.objects.count() == 0
    assert f'name="customer" value="{wanted.pk}"' in body and "Позвонить заранее" in body
    assert "errorlist" not in body, "finding a customer is not a failed save"
    form |= {"customer": str(wanted.pk), "dismantle_date": str(TODAY + datetime.timedelta(days=2))}
    del form["find_customer"]
    response = admin_client.post(reverse("web:order_create"), form)
    assert response.status_code == 302 and Order.objects.get().customer == wanted


def test_lines_come_with_a_template_row_and_a_remove_box(admin_client, make_order, products):
    order = make_order(items=[(products[0], 1), (products[1], 2)])
    body = admin_client.get(reverse("web:order_edit", args=[order.pk])).content.decode()
    assert '<template id="line-template">' in body and "lines-__prefix__-product" in body
    assert 'name="lines-0-DELETE"' in body and "data-add-line" in body
    form = form_data(
        lines=[(products[0], 1), (products[1], 2, "DELETE"), (products[2], 4)],
        initial=2,
        customer=str(order.customer_id),
        installation_date=str(order.installation_date),
        dismantle_date=str(order.dismantle_date),
    )
    assert admin_client.post(reverse("web:order_edit", args=[order.pk]), form).status_code == 302
    assert sorted(order.items.values_list("product__sku", "quantity")) == [("T-CHAIR", 1), ("T-LAMP", 4)]
