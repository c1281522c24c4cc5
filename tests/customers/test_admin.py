"""The customers admin writes through the services: the same rules (a form error, never a 500) and the same
domain signals as any other edit; deleting a customer deactivates it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from console.customers.models import COMPANY_FIELDS, Company, Customer
from console.customers.services import CUSTOMER_FIELDS

pytestmark = pytest.mark.django_db


def customer_form(**overrides: str) -> dict[str, str]:
    return {
        "customer_type": "individual",
        "first_name": "Анна",
        "last_name": "Смирнова",
        "display_name": "",
        "email": "Anna@Example.com",
        "phone": "8 (999) 123-45-67",
        "tags": "[]",
        "company": "",
        "is_active": "on",
    } | overrides


def test_adding_a_customer_goes_through_the_service(
    admin_client, customer_signals, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("admin:customers_customer_add"), customer_form())
    assert response.status_code == 302, response.content.decode()[:2000]
    customer = Customer.objects.get()
    assert (customer.phone_normalized, customer.email) == ("+79991234567", "anna@example.com")
    assert [(c["action"], c["changed"], c["origin"], c["actor"]) for c in customer_signals.calls] == [
        ("created", frozenset(CUSTOMER_FIELDS), "manager", "admin")
    ]
    assert customer_signals.calls[0]["customer_id"] == customer.pk


def test_changing_a_customer_reports_the_changed_fields(
    admin_client, make_customer, customer_signals, django_capture_on_commit_callbacks
) -> None:
    customer = make_customer(first_name="Анна", last_name="Смирнова", phone="+79991234567", email="a@x.ru")
    url = reverse("admin:customers_customer_change", args=[customer.pk])
    with django_capture_on_commit_callbacks(execute=True):
        form = customer_form(first_name="Аня", email="a@x.ru", phone=customer.phone)
        response = admin_client.post(url, form)
        admin_client.post(url, form)
    assert response.status_code == 302
    assert [(c["action"], c["changed"]) for c in customer_signals.calls] == [
        ("updated", frozenset({"first_name"}))
    ]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"phone": "+7 999 000-00-01"}, "phone"),  # another customer's number in another spelling
        ({"first_name": "", "last_name": ""}, "first_name"),
        ({"customer_type": "business"}, "company"),
        ({"phone": "", "email": ""}, "phone"),
    ],
)
def test_a_rule_breaking_edit_is_a_form_error_not_a_500(
    admin_client, make_customer, customer_signals, overrides: dict, field: str
) -> None:
    make_customer(phone="+79990000001")
    customer = make_customer(first_name="Анна", phone="+79991234567", email="a@x.ru")
    url = reverse("admin:customers_customer_change", args=[customer.pk])
    response = admin_client.post(url, customer_form(**({"email": "a@x.ru"} | overrides)))
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    customer.refresh_from_db()
    assert (customer.first_name, customer.phone_normalized) == ("Анна", "+79991234567")
    assert customer_signals.calls == []


def test_deleting_a_customer_with_orders_deactivates_it(
    admin_client, make_order, customer_signals, django_capture_on_commit_callbacks
) -> None:
    order = make_order()
    url = reverse("admin:customers_customer_delete", args=[order.customer_id])
    assert admin_client.get(url).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, {"post": "yes"})
    assert response.status_code == 302
    customer = Customer.objects.get(pk=order.customer_id)
    assert customer.is_active is False
    assert [c["action"] for c in customer_signals.calls] == ["deactivated"]


def test_company_admin_writes_go_through_the_services(
    admin_client, company_signals, django_capture_on_commit_callbacks
) -> None:
    data = {"name": "ООО Ромашка", "legal_name": "", "inn": "7707083893", "kpp": "", "ogrn": ""}
    data |= {"legal_address": "", "email": "", "phone": ""}
    with django_capture_on_commit_callbacks(execute=True):
        assert admin_client.post(reverse("admin:customers_company_add"), data).status_code == 302
        company = Company.objects.get()
        url = reverse("admin:customers_company_change", args=[company.pk])
        assert admin_client.post(url, data | {"phone": "8 999 123 45 67"}).status_code == 302
    company.refresh_from_db()
    assert company.phone == "+79991234567"
    assert [(c["action"], c["changed"]) for c in company_signals.calls] == [
        ("created", frozenset(COMPANY_FIELDS)),
        ("updated", frozenset({"phone"})),
    ]


def test_a_duplicate_inn_in_the_company_admin_is_a_form_error(admin_client, make_company) -> None:
    existing = make_company()
    data = {"name": "ООО Лютик", "inn": existing.inn, "legal_name": "", "kpp": "", "ogrn": ""}
    data |= {"legal_address": "", "email": "", "phone": ""}
    response = admin_client.post(reverse("admin:customers_company_add"), data)
    assert response.status_code == 200
    assert "inn" in response.context["adminform"].form.errors
    assert Company.objects.count() == 1
