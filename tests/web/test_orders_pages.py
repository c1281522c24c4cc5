"""The console's orders pages: list with filters and sync state, detail, manager create/edit, actions."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from console.amocrm.models import OrderSync
from console.customers.models import Customer
from console.orders.models import Order, OrderStatusChange, Product
from console.orders.services import order_create, order_soft_delete

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("products")]

TODAY = datetime.date.today()


def create_order(
    *, phone: str = "+79991234567", first_name: str = "Ivan", status: str = "new", **extra
) -> Order:
    product = Product.objects.filter(is_active=True).order_by("sku").first()
    data = {
        "customer_data": {"first_name": first_name, "last_name": "Petrov", "phone": phone},
        "installation_date": TODAY + datetime.timedelta(days=3),
        "dismantle_date": TODAY + datetime.timedelta(days=5),
        "delivery_method": "pickup",
        "items": [{"product": product, "quantity": 2}],
        "status": status,
        **extra,
    }
    return order_create(data=data, origin="manager", actor="test")


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
    assert 'class="badge synced"' in body


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
    OrderSync.objects.update_or_create(order=failed, defaults={"state": "failed", "last_error_title": "Boom"})
    body = admin_client.get(reverse("web:orders"), {"sync_state": "failed"}).content.decode()
    assert "Failing" in body and "Fresh" not in body
    body = admin_client.get(reverse("web:orders"), {"sync_state": "not_synced"}).content.decode()
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


def test_the_detail_page_shows_lines_history_and_sync(admin_client):
    order = create_order()
    response = admin_client.get(reverse("web:order_detail", args=[order.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert order.items.first().product.sku in body
    assert "Status history" in body


def test_a_manager_creates_an_order_through_the_form(admin_client, admin_user):
    product = Product.objects.filter(is_active=True).first()
    form = {
        "new_first_name": "Olga",
        "new_last_name": "Smirnova",
        "new_phone": "8 (999) 555-44-33",
        "status": "new",
        "installation_date": str(TODAY + datetime.timedelta(days=1)),
        "dismantle_date": str(TODAY + datetime.timedelta(days=4)),
        "delivery_method": "delivery",
        "delivery_address": "Москва, ул. Ленина, 1",
        "comment": "Позвонить за час 🙂",
        "lines-TOTAL_FORMS": "3",
        "lines-INITIAL_FORMS": "0",
        "lines-0-product": str(product.pk),
        "lines-0-quantity": "4",
    }
    response = admin_client.post(reverse("web:order_create"), form)
    order = Order.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("web:order_detail", args=[order.pk])
    assert order.source == "manager" and order.created_by == admin_user
    assert order.customer.phone_normalized == "+79995554433"
    assert order.total_amount == product.unit_price * 4 * 3


def test_the_form_shows_business_rule_errors_and_writes_nothing(admin_client):
    product = Product.objects.filter(is_active=True).first()
    form = {
        "new_first_name": "Иван",
        "new_phone": "+79995554433",
        "status": "new",
        "installation_date": str(TODAY + datetime.timedelta(days=5)),
        "dismantle_date": str(TODAY + datetime.timedelta(days=1)),
        "delivery_method": "delivery",
        "delivery_address": "",
        "lines-TOTAL_FORMS": "1",
        "lines-INITIAL_FORMS": "0",
        "lines-0-product": str(product.pk),
        "lines-0-quantity": "2",
    }
    response = admin_client.post(reverse("web:order_create"), form)
    body = response.content.decode()
    assert response.status_code == 200
    assert "Dismantle date cannot be before installation date." in body
    assert Order.objects.count() == 0 and Customer.objects.count() == 0


def test_the_form_rejects_an_order_without_lines(admin_client):
    form = {
        "new_first_name": "Иван",
        "new_phone": "+79995554433",
        "status": "new",
        "installation_date": str(TODAY),
        "dismantle_date": str(TODAY),
        "delivery_method": "pickup",
        "lines-TOTAL_FORMS": "1",
        "lines-INITIAL_FORMS": "0",
    }
    response = admin_client.post(reverse("web:order_create"), form)
    assert response.status_code == 200
    assert "at least one item" in response.content.decode()
    assert Order.objects.count() == 0


def test_a_manager_edits_lines_and_the_total_follows(admin_client):
    order = create_order()
    product = order.items.get().product
    form = {
        "customer": str(order.customer_id),
        "status": "reserved",
        "installation_date": str(order.installation_date),
        "dismantle_date": str(order.dismantle_date),
        "delivery_method": "pickup",
        "lines-TOTAL_FORMS": "1",
        "lines-INITIAL_FORMS": "1",
        "lines-0-product": str(product.pk),
        "lines-0-quantity": "5",
    }
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
    admin_client.post(url, {"action": "cancel"})
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


def test_deleted_orders_are_hidden_unless_asked_for(admin_client):
    kept = create_order(phone="+79990000031", first_name="Kept")
    gone = order_soft_delete(
        order=create_order(phone="+79990000032", first_name="Gone"), origin="manager", actor="t"
    )
    body = admin_client.get(reverse("web:orders")).content.decode()
    assert kept.number in body and gone.number not in body
    body = admin_client.get(reverse("web:orders"), {"shown": "deleted"}).content.decode()
    assert gone.number in body and kept.number not in body


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
