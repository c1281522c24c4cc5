"""An anonymous checkout is matched to an existing customer but never changes it: what it typed stays on the
order (``checkout_contact``) for a manager to apply. Manager-created orders keep filling blanks."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from console.customers.models import Company, Customer
from console.orders.models import Order
from tests.fixtures.builders import valid_inn

pytestmark = pytest.mark.django_db

URL = "/api/v1/orders/"


def stored(customer: Customer) -> dict:
    return Customer.objects.values().get(pk=customer.pk)


def test_an_anonymous_checkout_leaves_the_matched_customer_as_it_was(
    api_client,
    order_payload,
    make_customer,
    customer_signals,
    company_signals,
    django_capture_on_commit_callbacks,
) -> None:
    existing = make_customer(first_name="Анна", last_name="Смирнова", phone="+79991234567", email="")
    before = stored(existing)
    typed = {
        "name": "Кто-то другой",
        "first_name": "Злоумышленник",
        "last_name": "Иванов",
        "phone": "8 (999) 123-45-67",
        "email": "attacker@example.com",
        "customer_type": "business",
        "company": {"name": "ООО Подставная", "inn": valid_inn(424242), "kpp": "770701001"},
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(URL, order_payload(customer=typed), format="json")
    assert response.status_code == 201, response.json()
    assert stored(existing) == before  # not even the blank e-mail is filled in
    assert Company.objects.count() == 0 and Customer.objects.count() == 1
    assert customer_signals.calls == [] and company_signals.calls == []
    order = Order.objects.get()
    assert order.customer_id == existing.pk
    assert order.checkout_contact == {
        "customer_type": "business",
        "first_name": "Злоумышленник",
        "last_name": "Иванов",
        "display_name": "Кто-то другой",
        "phone": "8 (999) 123-45-67",
        "email": "attacker@example.com",
        "company": {"name": "ООО Подставная", "inn": valid_inn(424242), "kpp": "770701001"},
    }


def test_a_checkout_matched_by_email_does_not_take_the_typed_phone(
    api_client, order_payload, make_customer
) -> None:
    existing = make_customer(phone="", email="anna@example.com")
    before = stored(existing)
    customer = {"name": "Аня", "phone": "9990001122", "email": "ANNA@example.com"}
    assert api_client.post(URL, order_payload(customer=customer), format="json").status_code == 201
    assert stored(existing) == before
    assert Order.objects.get().checkout_contact["phone"] == "9990001122"


def test_a_checkout_naming_a_known_inn_does_not_fill_that_company(api_client, order_payload, make_company):
    company = make_company(name="ООО Ромашка", kpp="")
    customer = {
        "name": "Пётр",
        "phone": "9990001111",
        "customer_type": "business",
        "company": {"name": "Другое имя", "inn": company.inn, "kpp": "770701001"},
    }
    assert api_client.post(URL, order_payload(customer=customer), format="json").status_code == 201
    company.refresh_from_db()
    assert (company.name, company.kpp) == ("ООО Ромашка", "")
    assert Order.objects.get().customer.company_id == company.pk  # the new customer joins it


def test_a_new_customer_is_created_from_the_checkout_and_the_details_are_kept(
    api_client, order_payload, customer_signals, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(URL, order_payload(), format="json")
    assert response.status_code == 201
    order = Order.objects.get()
    assert (order.customer.display_name, order.customer.phone_normalized) == ("Анна Смирнова", "+79991234567")
    assert order.checkout_contact == {
        "display_name": "Анна Смирнова",
        "phone": "8 (999) 123-45-67",
        "email": "anna@example.com",
    }
    assert [(c["action"], c["origin"], c["actor"]) for c in customer_signals.calls] == [
        ("created", "storefront", "storefront")
    ]


def test_the_checkout_answer_has_the_tracking_token_and_not_the_details(api_client, order_payload) -> None:
    body = api_client.post(URL, order_payload(), format="json").json()
    assert body["tracking_token"] == Order.objects.get().tracking_token
    assert "checkout_contact" not in body and "customer" not in body


def test_the_storefront_cannot_set_the_payment(api_client, order_payload) -> None:
    payload = order_payload(paid_amount="100000.00", payment_status="paid")
    assert api_client.post(URL, payload, format="json").status_code == 201
    order = Order.objects.get()
    assert (order.paid_amount, order.payment_status) == (0, "not_paid")


def test_a_logged_in_non_staff_user_may_not_send_sync_to_crm_either(django_user_model, order_payload) -> None:
    client = APIClient()
    client.force_login(django_user_model.objects.create_user("clerk", password="pw"))
    response = client.post(URL, order_payload(sync_to_crm=False), format="json")
    assert response.status_code == 400 and "sync_to_crm" in response.json()


def test_a_manager_order_with_an_inline_customer_still_fills_blanks(
    staff_client, order_payload, make_customer
) -> None:
    existing = make_customer(phone="+79991234567", email="")
    response = staff_client.post(URL, order_payload(), format="json")
    assert response.status_code == 201, response.json()
    existing.refresh_from_db()
    assert existing.email == "anna@example.com"
    assert Order.objects.get().checkout_contact == {}
