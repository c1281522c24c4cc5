from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from console.customers.models import Company, Customer

pytestmark = pytest.mark.django_db


def test_staff_creates_a_customer_with_a_normalised_phone(staff_client: APIClient) -> None:
    response = staff_client.post(
        "/api/v1/customers/",
        {"first_name": "Анна", "last_name": "Смирнова", "phone": "8 (999) 123-45-67", "email": "A@B.ru"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["phone_normalized"], body["email"], body["name"]) == (
        "+79991234567",
        "a@b.ru",
        "Анна Смирнова",
    )


def test_a_duplicate_phone_is_a_400_naming_the_existing_customer(
    staff_client: APIClient, make_customer
) -> None:
    existing = make_customer(first_name="Анна", last_name="Смирнова", phone="+7 999 123 45 67")
    response = staff_client.post(
        "/api/v1/customers/", {"first_name": "Пётр", "phone": "89991234567"}, format="json"
    )
    assert response.status_code == 400
    assert f"Анна Смирнова (#{existing.pk})" in response.json()["phone"][0]


def test_a_duplicate_email_is_a_400_naming_the_existing_customer(
    staff_client: APIClient, make_customer
) -> None:
    existing = make_customer(email="anna@example.com")
    response = staff_client.post(
        "/api/v1/customers/", {"first_name": "Пётр", "email": "Anna@Example.com"}, format="json"
    )
    assert response.status_code == 400
    assert f"#{existing.pk}" in response.json()["email"][0]


def test_an_invalid_phone_is_a_400(staff_client: APIClient) -> None:
    response = staff_client.post(
        "/api/v1/customers/", {"first_name": "Пётр", "phone": "12345"}, format="json"
    )
    assert response.status_code == 400
    assert "phone" in response.json()


def test_patching_a_customer_changes_only_the_given_fields(
    staff_client: APIClient, customer: Customer
) -> None:
    response = staff_client.patch(f"/api/v1/customers/{customer.pk}/", {"tags": ["vip"]}, format="json")
    assert response.status_code == 200, response.json()
    customer.refresh_from_db()
    assert customer.tags == ["vip"]
    assert customer.first_name == "Иван"


def test_deleting_a_customer_deactivates_it(staff_client: APIClient, customer: Customer) -> None:
    assert staff_client.delete(f"/api/v1/customers/{customer.pk}/").status_code == 204
    customer.refresh_from_db()
    assert customer.is_active is False


def test_customers_are_searchable_by_any_spelling_of_the_phone(
    staff_client: APIClient, make_customer
) -> None:
    wanted = make_customer(phone="+7 999 123 45 67")
    make_customer()
    response = staff_client.get("/api/v1/customers/", {"search": "8 (999) 123-45-67"})
    assert [row["id"] for row in response.json()["results"]] == [wanted.pk]


def test_customers_filter_by_type(staff_client: APIClient, make_customer, make_company) -> None:
    business = make_customer(customer_type="business", company=make_company())
    make_customer()
    response = staff_client.get("/api/v1/customers/", {"customer_type": "business"})
    assert [row["id"] for row in response.json()["results"]] == [business.pk]


def test_a_business_customer_without_a_company_is_a_400(staff_client: APIClient) -> None:
    response = staff_client.post(
        "/api/v1/customers/",
        {"first_name": "Пётр", "phone": "9991234567", "customer_type": "business"},
        format="json",
    )
    assert response.status_code == 400
    assert "company" in response.json()


def test_an_unknown_company_id_is_a_400(staff_client: APIClient) -> None:
    response = staff_client.post(
        "/api/v1/customers/", {"first_name": "Пётр", "phone": "9991234567", "company": 10**30}, format="json"
    )
    assert response.status_code == 400


def test_staff_creates_a_company_with_a_valid_inn(staff_client: APIClient) -> None:
    response = staff_client.post(
        "/api/v1/companies/", {"name": "ООО Ромашка", "inn": "7707083893", "kpp": "770701001"}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert Company.objects.get().inn == "7707083893"


@pytest.mark.parametrize("inn", ["7707083894", "123", "77070838931", "abcdefghij"])
def test_a_company_inn_with_a_bad_checksum_or_length_is_a_400(staff_client: APIClient, inn: str) -> None:
    response = staff_client.post("/api/v1/companies/", {"name": "ООО Ромашка", "inn": inn}, format="json")
    assert response.status_code == 400
    assert "inn" in response.json()
    assert Company.objects.count() == 0


def test_a_duplicate_inn_is_a_400_naming_the_company(staff_client: APIClient, make_company) -> None:
    existing = make_company(name="ООО Ромашка")
    response = staff_client.post(
        "/api/v1/companies/", {"name": "ООО Лютик", "inn": existing.inn}, format="json"
    )
    assert response.status_code == 400
    assert "ООО Ромашка" in response.json()["inn"][0]


def test_a_company_with_customers_cannot_be_deleted(
    staff_client: APIClient, make_company, make_customer
) -> None:
    company = make_company()
    make_customer(customer_type="business", company=company)
    response = staff_client.delete(f"/api/v1/companies/{company.pk}/")
    assert response.status_code == 400
    assert Company.objects.filter(pk=company.pk).exists()


def test_a_company_without_customers_can_be_deleted(staff_client: APIClient, make_company) -> None:
    company = make_company()
    assert staff_client.delete(f"/api/v1/companies/{company.pk}/").status_code == 204
    assert not Company.objects.exists()


@pytest.mark.parametrize("path", ["/api/v1/customers/", "/api/v1/companies/"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_clients_cannot_touch_customers_or_companies(
    api_client: APIClient, path: str, method: str
) -> None:
    response = getattr(api_client, method)(
        path, {"name": "x", "first_name": "x", "phone": "9991234567"}, format="json"
    )
    assert response.status_code in (401, 403)
    assert not Customer.objects.exists() and not Company.objects.exists()


def test_a_non_staff_user_cannot_list_customers(django_user_model) -> None:
    client = APIClient()
    client.force_login(django_user_model.objects.create_user("clerk", password="pw"))
    assert client.get("/api/v1/customers/").status_code == 403


def test_a_token_authenticates_staff(staff_user) -> None:
    from knox.models import AuthToken

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {AuthToken.objects.create(user=staff_user)[1]}")
    assert client.get("/api/v1/customers/").status_code == 200
