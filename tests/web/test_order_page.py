"""The order page (sync panel, drift, timeline, live refresh, payment, checkout details) and the order form
(the customer picker and the lines are tested with the list, in test_orders_pages.py)."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal
from html import unescape

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from console.amocrm.models import SyncLog, WebhookInbox
from console.customers.models import Customer
from console.orders.models import Order, OrderStatusChange, Product
from console.orders.services import order_create, order_soft_delete
from tests.fixtures.builders import make_user
from tests.legacy_reasons import from_prose
from tests.web.orders_world import (
    TODAY,
    UNMAPPED_STAGE,
    connect,
    create_order,
    deal_at,
    form_data,
    map_stages,
    sync_row,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("products")]


def test_the_detail_page_shows_lines_history_and_sync(admin_client):
    order = create_order()
    response = admin_client.get(reverse("web:order_detail", args=[order.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert order.items.first().product.sku in body
    assert 'id="timeline"' in body and 'id="sync-panel"' in body


def test_a_manager_creates_an_order_through_the_form(admin_client, admin_user):
    product = Product.objects.filter(is_active=True).first()
    form = form_data(
        lines=[(product, 4)],
        days=(1, 4),
        new_first_name="Olga",
        new_last_name="Smirnova",
        new_phone="8 (999) 555-44-33",
        delivery_method="delivery",
        delivery_address="Москва, ул. Ленина, 1",
        comment="Позвонить за час 🙂",
    )
    response = admin_client.post(reverse("web:order_create"), form)
    order = Order.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("web:order_detail", args=[order.pk])
    assert order.source == "manager" and order.created_by == admin_user
    assert order.customer.phone_normalized == "+79995554433"
    assert order.total_amount == product.unit_price * 4 * 3


def test_the_form_shows_business_rule_errors_and_writes_nothing(admin_client):
    product = Product.objects.filter(is_active=True).first()
    form = form_data(lines=[(product, 2)], days=(5, 1), new_first_name="Иван", new_phone="+79995554433")
    response = admin_client.post(reverse("web:order_create"), form)
    body = response.content.decode()
    assert response.status_code == 200
    assert "Dismantle date cannot be before installation date." in body
    assert Order.objects.count() == 0 and Customer.objects.count() == 0


def test_the_form_rejects_an_order_without_lines(admin_client):
    form = form_data(days=(0, 0), new_first_name="Иван", new_phone="+79995554433")
    response = admin_client.post(reverse("web:order_create"), form)
    assert response.status_code == 200
    assert "at least one item" in response.content.decode()
    assert Order.objects.count() == 0


def test_a_manager_edits_lines_and_the_total_follows(admin_client):
    order = create_order()
    product = order.items.get().product
    form = form_data(
        lines=[(product, 5)],
        initial=1,
        customer=str(order.customer_id),
        status="reserved",
        installation_date=str(order.installation_date),
        dismantle_date=str(order.dismantle_date),
    )
    response = admin_client.post(reverse("web:order_edit", args=[order.pk]), form)
    order.refresh_from_db()
    assert response.status_code == 302
    assert order.status == "reserved"
    assert order.items.get().quantity == 5
    assert order.total_amount == product.unit_price * 5 * 2


def test_status_change_cancel_and_delete_from_the_detail_page(admin_client):
    order = create_order()
    url = reverse("web:order_action", args=[order.pk])
    admin_client.post(url, {"action": "status", "status": "in_rent"})
    order.refresh_from_db()
    assert order.status == "in_rent"
    assert OrderStatusChange.objects.filter(order=order, to_status="in_rent", origin="manager").exists()
    admin_client.post(url, {"action": "cancel", "confirm": "1"})
    order.refresh_from_db()
    assert order.status == "cancelled"
    admin_client.post(url, {"action": "delete"})
    order.refresh_from_db()
    assert order.is_active is False


def test_an_unknown_status_is_a_message_not_an_error(admin_client):
    order = create_order()
    response = admin_client.post(
        reverse("web:order_action", args=[order.pk]), {"action": "status", "status": "x"}
    )
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == "new"


def test_actions_need_post(admin_client):
    order = create_order()
    assert admin_client.get(reverse("web:order_action", args=[order.pk])).status_code == 405


# --- Payment --------------------------------------------------------------------------------------------


def test_the_detail_page_shows_the_payment(admin_client):
    order = create_order()
    body = admin_client.get(reverse("web:order_detail", args=[order.pk])).content.decode()
    assert 'id="payment-form"' in body and "Not paid" in body


def test_a_manager_records_a_payment(admin_client):
    order = create_order()
    url = reverse("web:order_action", args=[order.pk])
    response = admin_client.post(
        url, {"action": "payment", "paid_amount": "1500.50", "payment_status": "prepaid"}
    )
    assert response.status_code == 302
    order.refresh_from_db()
    assert (order.paid_amount, order.payment_status) == (Decimal("1500.50"), "prepaid")
    page = admin_client.get(reverse("web:order_detail", args=[order.pk])).content.decode()
    assert "Payment saved." in page and "1500.50" in page and "Prepaid" in page


@pytest.mark.parametrize(
    "form",
    [
        {"paid_amount": "-5", "payment_status": "paid"},
        {"paid_amount": "много", "payment_status": "paid"},
        {"paid_amount": "1.234", "payment_status": "paid"},
        {"paid_amount": "1000000000000", "payment_status": "paid"},
        {"paid_amount": "10", "payment_status": "refunded"},
        {},
    ],
)
def test_a_bad_payment_is_a_message_not_an_error(admin_client, form):
    order = create_order()
    response = admin_client.post(reverse("web:order_action", args=[order.pk]), {"action": "payment", **form})
    assert response.status_code == 302
    order.refresh_from_db()
    assert (order.paid_amount, order.payment_status) == (Decimal("0"), "not_paid")
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert len(messages) == 1 and "saved" not in messages[0]


def test_a_deleted_order_takes_no_payment_and_says_why(admin_client):
    order = order_soft_delete(order=create_order(), origin="manager", actor="t")
    response = admin_client.post(
        reverse("web:order_action", args=[order.pk]),
        {"action": "payment", "paid_amount": "10", "payment_status": "paid"},
    )
    assert response.status_code == 302
    assert "deleted" in [str(m) for m in get_messages(response.wsgi_request)][0]


# --- The checkout's details -----------------------------------------------------------------------------


def checkout(phone: str, **customer) -> Order:  # noqa: ANN003
    """An order placed by the storefront for a customer typed as ``customer``."""
    product = Product.objects.filter(is_active=True).order_by("sku").first()
    data = {
        "customer_data": {"phone": phone, **customer},
        "installation_date": TODAY + datetime.timedelta(days=3),
        "dismantle_date": TODAY + datetime.timedelta(days=5),
        "items": [{"product": product, "quantity": 1}],
    }
    return order_create(data=data, origin="storefront", actor="storefront")


def test_the_page_shows_where_the_checkout_differs_and_applying_it_updates_the_customer(
    admin_client, customer_signals, django_capture_on_commit_callbacks
):
    known = create_order(phone="+79991234567", first_name="Ivan").customer
    order = checkout("8 999 123-45-67", first_name="Ivan", last_name="Sidorov", email="ivan@example.com")
    assert order.customer_id == known.pk
    page = admin_client.get(reverse("web:order_detail", args=[order.pk])).content.decode()
    assert 'id="checkout-contact"' in page and "Apply to the customer" in page
    assert "Sidorov" in page and "Petrov" in page and "ivan@example.com" in page

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("web:order_apply_contact", args=[order.pk]))
    assert response.status_code == 302
    known.refresh_from_db()
    assert (known.first_name, known.last_name, known.email) == ("Ivan", "Sidorov", "ivan@example.com")
    assert [(c["changed"], c["origin"], c["actor"]) for c in customer_signals.calls] == [
        (frozenset({"last_name", "email"}), "manager", "admin")
    ]
    page = admin_client.get(reverse("web:order_detail", args=[order.pk])).content.decode()
    assert "updated from the checkout" in page
    assert 'id="checkout-contact"' not in page


def test_a_matching_checkout_shows_no_difference(admin_client):
    create_order(phone="+79991234567", first_name="Ivan")
    order = checkout("+7 999 123 45 67", first_name="Ivan", last_name="Petrov")
    page = admin_client.get(reverse("web:order_detail", args=[order.pk])).content.decode()
    assert 'id="checkout-contact"' not in page
    response = admin_client.post(reverse("web:order_apply_contact", args=[order.pk]))
    assert "already matches" in [str(m) for m in get_messages(response.wsgi_request)][0]


def test_applying_a_conflicting_detail_is_a_message_and_changes_nothing(admin_client, make_customer):
    make_customer(email="taken@example.com")
    known = create_order(phone="+79991234567", first_name="Ivan").customer
    order = checkout("+79991234567", first_name="Vanya", email="taken@example.com")
    response = admin_client.post(reverse("web:order_apply_contact", args=[order.pk]))
    assert response.status_code == 302
    assert "not changed" in [str(m) for m in get_messages(response.wsgi_request)][0]
    known.refresh_from_db()
    assert (known.first_name, known.email) == ("Ivan", "")


def test_applying_needs_post_and_staff(client, admin_client, django_user_model):
    known = create_order(phone="+79991234567", first_name="Ivan").customer
    order = checkout("+79991234567", first_name="Vanya")
    url = reverse("web:order_apply_contact", args=[order.pk])
    assert admin_client.get(url).status_code == 405
    assert client.post(url)["Location"].startswith(reverse("login"))
    client.force_login(django_user_model.objects.create_user("clerk", password="pw"))
    assert client.post(url).status_code == 403
    assert admin_client.post(reverse("web:order_apply_contact", args=[987654])).status_code == 404
    known.refresh_from_db()
    assert known.first_name == "Ivan"


# --- The sync panel: state, stage by name, links, drift, live refresh --------------------------------------


def page_of(client, order: Order, **headers) -> str:  # noqa: ANN001, ANN003
    return client.get(reverse("web:order_detail", args=[order.pk]), headers=headers).content.decode()


def test_the_panel_names_the_deals_stage_and_links_the_cards_in_amocrm(admin_client, make_order):
    map_stages()
    connect(base_url="https://rent.amocrm.ru/")
    order = make_order(status="reserved")
    seen = timezone.make_aware(datetime.datetime(2030, 5, 1, 9, 30), datetime.UTC)
    deal_at(order, lead_id=5551, contact_id=6661, company_id=7771, amo_seen_at=seen)
    body = page_of(admin_client, order)
    assert "Аренда → Бронь" in body and "seen 01.05.2030 12:30" in body, "the stage by name, in Moscow time"
    assert 'href="https://rent.amocrm.ru/leads/detail/5551"' in body and 'id="lead-link">5551<' in body
    assert 'href="https://rent.amocrm.ru/contacts/detail/6661"' in body
    assert 'href="https://rent.amocrm.ru/companies/detail/7771"' in body
    assert 'class="badge sync-synced"' in body and 'id="drift"' not in body


def test_a_stage_missing_from_the_cache_is_said_so_not_shown_as_ids(admin_client, make_order):
    map_stages()
    connect()
    order = make_order()
    deal_at(order, 4242)
    body = page_of(admin_client, order)
    assert "a stage missing from the pipeline cache" in body and "4242" not in body


def test_a_drifted_order_offers_to_take_amocrms_stage_or_push_ours(admin_client, make_order):
    map_stages()
    connect()
    order = make_order(status="new")
    deal_at(order, 12)
    body = unescape(page_of(admin_client, order))
    assert 'id="drift"' in body and 'class="badge sync-drifted"' in body
    assert "The deal is at “Аренда → Бронь”, which means “Reserved”; the order is “New”." in body
    assert f'action="{reverse("web:order_take_stage", args=[order.pk])}"' in body
    assert f'action="{reverse("web:sync_push", args=[order.pk])}"' in body

    response = admin_client.post(reverse("web:order_take_stage", args=[order.pk]))
    order.refresh_from_db()
    assert response.status_code == 302 and order.status == "reserved"
    change = OrderStatusChange.objects.filter(order=order).first()
    assert (change.to_status, change.origin, change.actor) == ("reserved", "manager", "admin")
    assert 'id="drift"' not in page_of(admin_client, order)


def test_pushing_ours_resolves_a_drift_through_the_sync(admin_client, make_order, enqueued):
    map_stages()
    connect()
    order = make_order(status="new")
    deal_at(order, 12)
    url = reverse("web:order_detail", args=[order.pk])
    response = admin_client.post(reverse("web:sync_push", args=[order.pk]), {"next": url})
    assert response.status_code == 302 and response["Location"] == url
    assert enqueued == [("order_sync_task", order.pk)]
    body = page_of(admin_client, order)
    assert 'class="badge sync-queued"' in body and 'id="drift"' not in body


def test_a_stage_that_maps_to_no_status_offers_only_the_push(admin_client, make_order):
    map_stages()
    connect()
    order = make_order(status="new")
    deal_at(order, UNMAPPED_STAGE)
    body = unescape(page_of(admin_client, order))
    assert "“Аренда → Переговоры”, which maps to no order status" in body
    assert reverse("web:order_take_stage", args=[order.pk]) not in body
    assert f'action="{reverse("web:sync_push", args=[order.pk])}"' in body
    response = admin_client.post(reverse("web:order_take_stage", args=[order.pk]))
    assert "maps to no order status" in [str(m) for m in get_messages(response.wsgi_request)][0]
    order.refresh_from_db()
    assert order.status == "new"


def test_only_a_role_with_sync_control_resolves_a_drift(client, make_order):
    map_stages()
    connect()
    order = make_order(status="new")
    deal_at(order, 12)
    client.force_login(make_user("support", role="support"))
    body = page_of(client, order)
    assert 'id="drift"' in body and reverse("web:order_take_stage", args=[order.pk]) not in body
    assert client.post(reverse("web:order_take_stage", args=[order.pk])).status_code == 403
    order.refresh_from_db()
    assert order.status == "new"


def test_the_panel_refreshes_itself_only_while_queued_or_running(admin_client, make_order):
    connect()
    order = make_order()
    sync_row(order, state="syncing")
    body = page_of(admin_client, order)
    assert (
        'hx-trigger="every 3s"' in body and f'hx-get="{reverse("web:order_detail", args=[order.pk])}"' in body
    )
    fragment = page_of(admin_client, order, **{"HX-Request": "true"})
    assert fragment.lstrip().startswith('<div class="panel" id="sync-panel"') and "<html" not in fragment
    deal_at(order)
    fragment = page_of(admin_client, order, **{"HX-Request": "true"})
    assert "every 3s" not in fragment and 'class="badge sync-synced"' in fragment


# --- The timeline -------------------------------------------------------------------------------------------


def test_the_timeline_merges_status_changes_sync_attempts_and_webhooks_newest_first(admin_client, make_order):
    order = make_order()
    at = {minute: datetime.datetime(2030, 1, 1, 9, minute, tzinfo=datetime.UTC) for minute in (0, 5, 10, 20)}
    OrderStatusChange.objects.filter(order=order).update(created_at=at[0])
    attempts = [
        ("created", "create", "manager:anna", "ok", "", at[5]),
        ("updated", "update", "schedule", "retry", "server", at[20]),
    ]
    for event, action, trigger, outcome, kind, started in attempts:
        SyncLog.objects.create(
            order=order,
            event=event,
            action=action,
            trigger=trigger,
            outcome=outcome,
            error_kind=kind,
            started_at=started,
        )
    WebhookInbox.objects.create(
        order=order,
        body=b"{}",
        events="leads[status]",
        outcome="applied",
        reasons=from_prose("the order is deleted"),
        received_at=at[10],
    )
    body = page_of(admin_client, order)
    rows = re.findall(r'<tr class="event-(\w+)"[^>]*>\s*<td class="nowrap">([^<]+)</td>', body)
    assert rows == [
        ("sync", "01.01.2030 12:20:00"),
        ("webhook", "01.01.2030 12:10:00"),
        ("sync", "01.01.2030 12:05:00"),
        ("status", "01.01.2030 12:00:00"),
    ]
    assert "Deal created" in body and "Deal updated" in body and "Manager anna" in body
    assert (
        "Deal stage changed" in body
        and reverse("web:webhook_detail", args=[WebhookInbox.objects.get().pk]) in body
    )


# --- Cancelling asks first ----------------------------------------------------------------------------------


def test_cancelling_asks_for_confirmation_without_javascript(admin_client, make_order):
    order = make_order()
    url = reverse("web:order_action", args=[order.pk])
    response = admin_client.post(url, {"action": "cancel"})
    body = response.content.decode()
    assert response.status_code == 200 and 'id="confirm"' in body
    assert 'name="action" value="cancel"' in body and 'name="confirm" value="1"' in body
    order.refresh_from_db()
    assert order.status == "new"
    admin_client.post(url, {"action": "cancel", "confirm": "1"})
    order.refresh_from_db()
    assert order.status == "cancelled"


def test_the_cancel_button_asks_in_a_dialog(admin_client, make_order):
    body = page_of(admin_client, make_order())
    assert re.search(r'<button[^>]*value="cancel"[^>]*data-confirm="[^"]+"', body)
    assert 'id="cancel-form"' in body and '<input type="hidden" name="confirm" value="">' in body
