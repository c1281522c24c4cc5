"""Live screens (console/web/live.py): the order page, the customer card and the orders, customers and
companies lists answer the live script's poll with 304 after one query when nothing changed, and with the page
and a new version when something did."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from console.amocrm.models import OrderSync, PartyConflict, SyncLog, WebhookInbox
from console.customers.models import Company, Customer
from console.customers.services import customer_update
from console.orders.services import order_set_payment, order_set_status
from console.web.live import customer_version, orders_version
from tests.web.orders_world import create_order, deal_at, map_stages

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("products")]

LIVE = {"HTTP_X_CONSOLE_LIVE": "1"}


def _version_on_page(body: str) -> str:
    start = body.index('<meta name="console-live" content="') + len('<meta name="console-live" content="')
    return body[start : body.index('"', start)]


def _poll(client, url: str, version: str, **headers: str):  # noqa: ANN001, ANN202
    return client.get(url, HTTP_IF_NONE_MATCH=f'"{version}"', **LIVE, **headers)


def _queries_after_sign_in(client, url: str, version: str, **headers: str) -> tuple[int, list[str]]:  # noqa: ANN001
    """The status of a poll and the SQL it ran beyond the session and user lookups every request makes."""
    with CaptureQueriesContext(connection) as captured:
        response = _poll(client, url, version, **headers)
    ours = [q["sql"] for q in captured.captured_queries if "orders_order" in q["sql"]]
    return response.status_code, ours


def test_an_unchanged_order_page_answers_304_after_one_query(admin_client):
    order = create_order()
    url = reverse("web:order_detail", args=[order.pk])
    version = _version_on_page(admin_client.get(url).content.decode())
    status, queries = _queries_after_sign_in(admin_client, url, version)
    assert status == 304
    assert len(queries) == 1, queries
    assert f'"{version}"' == _poll(admin_client, url, version)["ETag"]


def test_the_304_costs_no_more_than_signing_in_and_that_one_query(admin_client):
    order = create_order()
    url = reverse("web:order_detail", args=[order.pk])
    version = _version_on_page(admin_client.get(url).content.decode())
    with CaptureQueriesContext(connection) as captured:
        assert _poll(admin_client, url, version).status_code == 304
    # The session and the user (Django's auth middleware) and the role check, then the version's query.
    assert len(captured.captured_queries) <= 4, [q["sql"] for q in captured.captured_queries]


def test_a_status_moved_in_amocrm_changes_the_version_and_the_poll_gets_the_page(admin_client):
    map_stages()
    order = create_order()
    deal_at(order)
    url = reverse("web:order_detail", args=[order.pk])
    version = _version_on_page(admin_client.get(url).content.decode())
    order_set_status(order=order, status="in_rent", origin="amocrm", actor="amocrm")
    response = _poll(admin_client, url, version)
    assert response.status_code == 200
    assert response["ETag"] != f'"{version}"'
    assert 'id="order-head"' in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    assert _poll(admin_client, url, response["ETag"].strip('"')).status_code == 304


def test_the_sync_rows_partial_updates_change_the_version():
    order = create_order()
    sync = deal_at(order)
    before = orders_version([order.pk])
    OrderSync.objects.filter(pk=sync.pk).update(amo_status_id=(sync.amo_status_id or 0) + 1)
    assert orders_version([order.pk]) != before


def test_a_payment_changes_the_version():
    order = create_order()
    before = orders_version([order.pk])
    order_set_payment(
        order=order, paid_amount=Decimal("100"), payment_status="prepaid", origin="amocrm", actor="amocrm"
    )
    assert orders_version([order.pk]) != before


def test_the_list_answers_304_for_the_rows_it_names_after_one_query(admin_client):
    orders = [create_order() for _ in range(3)]
    url = reverse("web:orders")
    version = _version_on_page(admin_client.get(url).content.decode())
    ids = ",".join(str(order.pk) for order in orders)
    status, queries = _queries_after_sign_in(admin_client, url, version, HTTP_X_CONSOLE_LIVE_IDS=ids)
    assert (status, len(queries)) == (304, 1), queries


def test_a_new_order_changes_the_lists_version(admin_client):
    orders = [create_order() for _ in range(2)]
    url = reverse("web:orders")
    version = _version_on_page(admin_client.get(url).content.decode())
    ids = ",".join(str(order.pk) for order in orders)
    create_order()
    response = _poll(admin_client, url, version, HTTP_X_CONSOLE_LIVE_IDS=ids)
    assert response.status_code == 200 and 'id="orders-table"' in response.content.decode()


def test_garbage_in_the_ids_header_is_ignored_not_a_500(admin_client):
    create_order()
    response = _poll(admin_client, reverse("web:orders"), "x", HTTP_X_CONSOLE_LIVE_IDS="1,abc,-3,,9" * 100)
    assert response.status_code == 200


def test_ordinary_page_loads_carry_no_etag(admin_client):
    order = create_order()
    response = admin_client.get(reverse("web:order_detail", args=[order.pk]), HTTP_IF_NONE_MATCH="*")
    assert response.status_code == 200 and "ETag" not in response


def test_a_poll_from_a_signed_out_browser_is_sent_to_the_login_page(client):
    order = create_order()
    response = _poll(client, reverse("web:order_detail", args=[order.pk]), "x")
    assert response.status_code == 302 and "ETag" not in response


def test_an_unchanged_customer_card_answers_304_after_its_two_queries(admin_client):
    order = create_order()
    url = reverse("web:customer_detail", args=[order.customer_id])
    version = _version_on_page(admin_client.get(url).content.decode())
    with CaptureQueriesContext(connection) as captured:
        response = _poll(admin_client, url, version)
    ours = [
        q["sql"]
        for q in captured.captured_queries
        if "customers_customer" in q["sql"] or "orders_order" in q["sql"]
    ]
    assert response.status_code == 304
    assert len(ours) == 2, ours


def test_a_customer_edited_in_amocrm_changes_the_card_and_the_poll_gets_it(admin_client):
    order = create_order()
    customer = order.customer
    url = reverse("web:customer_detail", args=[customer.pk])
    version = _version_on_page(admin_client.get(url).content.decode())
    customer_update(customer=customer, data={"first_name": "Зинаида"}, origin="amocrm", actor="amocrm")
    response = _poll(admin_client, url, version)
    assert response.status_code == 200
    assert "Зинаида" in response.content.decode()
    assert _poll(admin_client, url, response["ETag"].strip('"')).status_code == 304


def test_the_card_version_follows_its_orders_sync_rows_and_open_conflicts():
    order = create_order()
    sync = deal_at(order)
    before = customer_version(order.customer_id, orders=50)
    OrderSync.objects.filter(pk=sync.pk).update(amo_status_id=(sync.amo_status_id or 0) + 1)
    moved = customer_version(order.customer_id, orders=50)
    assert moved != before
    conflict = PartyConflict.objects.create(
        party="contact", object_id=order.customer_id, field="first_name", ours="A", theirs="B"
    )
    assert customer_version(order.customer_id, orders=50) != moved
    PartyConflict.objects.filter(pk=conflict.pk).update(resolved_at=timezone.now())
    assert customer_version(order.customer_id, orders=50) == moved


def test_an_unchanged_customers_list_answers_304_after_one_query(admin_client):
    customers = [create_order(phone=f"+7999000010{n}").customer for n in range(3)]
    url = reverse("web:customers")
    body = admin_client.get(url).content.decode()
    assert 'data-list="#customers-table" data-row-key="data-customer-id"' in body
    ids = ",".join(str(customer.pk) for customer in customers)
    with CaptureQueriesContext(connection) as captured:
        response = _poll(admin_client, url, _version_on_page(body), HTTP_X_CONSOLE_LIVE_IDS=ids)
    ours = [q["sql"] for q in captured.captured_queries if "customers_customer" in q["sql"]]
    assert (response.status_code, len(ours)) == (304, 1), ours


def test_a_contact_edited_in_amocrm_and_a_new_customer_change_the_customers_list(admin_client):
    customer = create_order().customer
    url = reverse("web:customers")
    version = _version_on_page(admin_client.get(url).content.decode())
    ids = str(customer.pk)
    customer_update(customer=customer, data={"first_name": "Зинаида"}, origin="amocrm", actor="amocrm")
    response = _poll(admin_client, url, version, HTTP_X_CONSOLE_LIVE_IDS=ids)
    assert response.status_code == 200 and "Зинаида" in response.content.decode()
    version = response["ETag"].strip('"')
    assert _poll(admin_client, url, version, HTTP_X_CONSOLE_LIVE_IDS=ids).status_code == 304
    create_order(phone="+79990000222")  # a new customer: the list learns of it
    assert _poll(admin_client, url, version, HTTP_X_CONSOLE_LIVE_IDS=ids).status_code == 200


def test_an_order_added_to_a_company_changes_the_companies_list(admin_client):
    company = Company.objects.create(name="ООО Мебель", inn="7707083893")
    url = reverse("web:companies")
    body = admin_client.get(url).content.decode()
    assert 'data-list="#companies-table" data-row-key="data-company-id"' in body
    version, ids = _version_on_page(body), str(company.pk)
    assert _poll(admin_client, url, version, HTTP_X_CONSOLE_LIVE_IDS=ids).status_code == 304
    customer = create_order(phone="+79990000333").customer
    Customer.objects.filter(pk=customer.pk).update(company=company)  # no updated_at: the count still moves
    assert _poll(admin_client, url, version, HTTP_X_CONSOLE_LIVE_IDS=ids).status_code == 200


def test_the_sync_log_answers_304_until_a_new_entry_of_its_filter_is_written(admin_client):
    order = create_order()
    first = SyncLog.objects.create(order=order, outcome=SyncLog.Outcome.OK, event="create")
    body = admin_client.get(reverse("web:sync_log")).content.decode()
    assert f'data-log-id="{first.pk}"' in body and 'data-row-key="data-log-id"' in body
    url = reverse("web:sync_log")
    version, ids = _version_on_page(body), str(first.pk)
    with CaptureQueriesContext(connection) as captured:
        assert _poll(admin_client, url, version, HTTP_X_CONSOLE_LIVE_IDS=ids).status_code == 304
    ours = [q["sql"] for q in captured.captured_queries if "sync_log" in q["sql"] or "synclog" in q["sql"]]
    assert len(ours) == 1, ours
    failed_only = reverse("web:sync_log") + "?outcome=failed"
    filtered = _version_on_page(admin_client.get(failed_only).content.decode())
    SyncLog.objects.create(order=order, outcome=SyncLog.Outcome.OK, event="update")
    assert _poll(admin_client, failed_only, filtered).status_code == 304  # not an entry it shows
    response = _poll(admin_client, url, version, HTTP_X_CONSOLE_LIVE_IDS=ids)
    assert response.status_code == 200 and response.content.decode().count("data-log-id=") == 2
    SyncLog.objects.filter(pk=first.pk).update(resolved=True)
    assert (
        _poll(admin_client, url, response["ETag"].strip('"'), HTTP_X_CONSOLE_LIVE_IDS=ids).status_code == 200
    )


def test_the_failed_syncs_page_answers_304_until_a_failure_changes(admin_client):
    order = create_order()
    sync = deal_at(order)
    OrderSync.objects.filter(pk=sync.pk).update(state="failed", error_kind="validation", attempts=1)
    url = reverse("web:sync_failed")
    body = admin_client.get(url).content.decode()
    assert 'data-regions="#sync-failed"' in body
    version = _version_on_page(body)
    assert _poll(admin_client, url, version).status_code == 304
    OrderSync.objects.filter(pk=sync.pk).update(attempts=2)  # a retry failed again
    response = _poll(admin_client, url, version)
    assert response.status_code == 200 and order.number in response.content.decode()
    OrderSync.objects.filter(pk=sync.pk).update(state="synced", error_kind="")
    assert _poll(admin_client, url, response["ETag"].strip('"')).status_code == 200


def test_the_webhook_inbox_answers_304_until_a_delivery_arrives_or_is_processed(admin_client):
    first = WebhookInbox.objects.create(body=b"x=1", events="leads[status]", entity_ids="5001")
    url = reverse("web:webhooks")
    body = admin_client.get(url).content.decode()
    assert f'data-webhook-id="{first.pk}"' in body and 'data-row-key="data-webhook-id"' in body
    version, ids = _version_on_page(body), str(first.pk)
    with CaptureQueriesContext(connection) as captured:
        assert _poll(admin_client, url, version, HTTP_X_CONSOLE_LIVE_IDS=ids).status_code == 304
    ours = [q["sql"] for q in captured.captured_queries if "webhookinbox" in q["sql"]]
    assert len(ours) == 1, ours
    WebhookInbox.objects.filter(pk=first.pk).update(outcome="applied", attempts=1)  # processed
    response = _poll(admin_client, url, version, HTTP_X_CONSOLE_LIVE_IDS=ids)
    assert response.status_code == 200
    version = response["ETag"].strip('"')
    assert _poll(admin_client, url, version, HTTP_X_CONSOLE_LIVE_IDS=ids).status_code == 304
    WebhookInbox.objects.create(body=b"x=2", events="leads[update]", entity_ids="5002")  # a new delivery
    response = _poll(admin_client, url, version, HTTP_X_CONSOLE_LIVE_IDS=ids)
    assert response.status_code == 200 and response.content.decode().count("data-webhook-id=") == 2
