from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from console.customers.models import Company, Customer
from console.customers.selectors import contact_differences
from console.customers.services import (
    company_create,
    company_find_or_create,
    customer_apply_contact,
    customer_create,
    customer_find_or_create,
    customer_update,
)
from tests.fixtures.builders import valid_inn

pytestmark = pytest.mark.django_db


def test_a_customer_gets_its_phone_in_e164_and_its_email_lower_cased() -> None:
    customer = customer_create(
        data={"first_name": "Анна", "phone": "8 (999) 123-45-67", "email": "Anna@Mail.RU"}
    )
    assert customer.phone_normalized == "+79991234567"
    assert customer.email == "anna@mail.ru"


def test_a_duplicate_phone_in_another_spelling_is_refused_naming_the_existing_customer() -> None:
    first = customer_create(data={"first_name": "Анна", "last_name": "Смирнова", "phone": "+7 999 123 45 67"})
    with pytest.raises(ValidationError) as exc:
        customer_create(data={"first_name": "Пётр", "phone": "9991234567"})
    assert f"Анна Смирнова (#{first.pk})" in exc.value.message_dict["phone"][0]


def test_a_duplicate_email_in_another_case_is_refused() -> None:
    customer_create(data={"first_name": "Анна", "email": "anna@example.com"})
    with pytest.raises(ValidationError) as exc:
        customer_create(data={"first_name": "Пётр", "email": "ANNA@example.com"})
    assert "email" in exc.value.message_dict


def test_a_customer_needs_a_name_and_a_contact() -> None:
    with pytest.raises(ValidationError) as exc:
        customer_create(data={"customer_type": "individual"})
    assert set(exc.value.message_dict) == {"phone", "first_name"}


def test_a_business_customer_needs_a_company() -> None:
    with pytest.raises(ValidationError) as exc:
        customer_create(data={"first_name": "Анна", "phone": "9991234567", "customer_type": "business"})
    assert "company" in exc.value.message_dict


def test_updating_a_customer_to_its_own_phone_is_not_a_duplicate(customer: Customer) -> None:
    customer_update(customer=customer, data={"phone": customer.phone, "last_name": "Новая"})
    customer.refresh_from_db()
    assert customer.last_name == "Новая"


@pytest.mark.parametrize("spelling", ["8 (999) 123-45-67", "+7 999 123 45 67", "9991234567"])
def test_find_or_create_finds_the_customer_by_any_spelling_of_the_phone(spelling: str) -> None:
    existing = customer_create(data={"first_name": "Анна", "phone": "+79991234567"})
    found, created = customer_find_or_create(data={"display_name": "Аня", "phone": spelling})
    assert (found.pk, created) == (existing.pk, False)
    assert Customer.objects.count() == 1


def test_find_or_create_falls_back_to_the_email() -> None:
    existing = customer_create(data={"first_name": "Анна", "email": "anna@example.com"})
    found, created = customer_find_or_create(
        data={"first_name": "Анна", "phone": "9990001122", "email": "ANNA@example.com"}
    )
    assert (found.pk, created) == (existing.pk, False)
    found.refresh_from_db()
    assert found.phone_normalized == "+79990001122"  # a blank field is filled in


def test_find_or_create_never_overwrites_what_is_known() -> None:
    existing = customer_create(
        data={"first_name": "Анна", "phone": "9991234567", "email": "anna@example.com"}
    )
    customer_find_or_create(
        data={"first_name": "Злоумышленник", "phone": "9991234567", "email": "x@example.com"}
    )
    existing.refresh_from_db()
    assert (existing.first_name, existing.email) == ("Анна", "anna@example.com")


def test_find_or_create_keeps_the_phone_match_when_the_email_belongs_to_someone_else() -> None:
    by_phone = customer_create(data={"first_name": "Анна", "phone": "9991234567"})
    customer_create(data={"first_name": "Пётр", "email": "petr@example.com"})
    found, created = customer_find_or_create(
        data={"first_name": "А", "phone": "9991234567", "email": "petr@example.com"}
    )
    assert (found.pk, created) == (by_phone.pk, False)
    found.refresh_from_db()
    assert found.email == ""


def test_find_or_create_creates_a_business_customer_and_its_company_found_by_inn() -> None:
    company = company_create(data={"name": "ООО Ромашка", "inn": "7707083893"})
    customer, created = customer_find_or_create(
        data={
            "first_name": "Анна",
            "phone": "9991234567",
            "customer_type": "business",
            "company_data": {"name": "Ромашка", "inn": "7707083893"},
        }
    )
    assert created
    assert customer.company_id == company.pk
    assert Company.objects.count() == 1


def test_a_company_with_an_invalid_inn_is_refused() -> None:
    with pytest.raises(ValidationError) as exc:
        company_create(data={"name": "ООО Ромашка", "inn": "7707083894"})
    assert "inn" in exc.value.message_dict


def test_a_duplicate_inn_is_refused_naming_the_existing_company() -> None:
    company_create(data={"name": "ООО Ромашка", "inn": "7707083893"})
    with pytest.raises(ValidationError) as exc:
        company_create(data={"name": "ООО Лютик", "inn": "7707083893"})
    assert "ООО Ромашка" in exc.value.message_dict["inn"][0]


def test_company_find_or_create_fills_blank_fields_of_the_existing_company() -> None:
    company = company_create(data={"name": "ООО Ромашка", "inn": "7707083893"})
    found, created = company_find_or_create(data={"name": "Другое", "inn": "7707083893", "kpp": "770701001"})
    assert (found.pk, created) == (company.pk, False)
    found.refresh_from_db()
    assert (found.name, found.kpp) == ("ООО Ромашка", "770701001")


def test_find_or_create_without_filling_blanks_returns_the_match_untouched() -> None:
    existing = customer_create(data={"first_name": "Анна", "phone": "9991234567"})
    found, created = customer_find_or_create(
        data={
            "first_name": "Другая",
            "phone": "+7 999 123-45-67",
            "email": "new@example.com",
            "customer_type": "business",
            "company_data": {"name": "ООО Новая", "inn": "7707083893"},
        },
        fill_blanks=False,
    )
    assert (found.pk, created) == (existing.pk, False)
    found.refresh_from_db()
    assert (found.first_name, found.email, found.company_id) == ("Анна", "", None)
    assert Company.objects.count() == 0


def test_company_find_or_create_without_filling_blanks_leaves_the_company_alone() -> None:
    company = company_create(data={"name": "ООО Ромашка", "inn": "7707083893"})
    found, created = company_find_or_create(
        data={"name": "Другое", "inn": "7707083893", "kpp": "770701001"}, fill_blanks=False
    )
    assert (found.pk, created) == (company.pk, False)
    found.refresh_from_db()
    assert found.kpp == ""


# --- Applying a checkout's details ------------------------------------------------------------------------


def test_applying_the_contact_leaves_no_difference(make_customer) -> None:
    customer = make_customer(first_name="Анна", last_name="Смирнова", phone="+79991234567", email="")
    contact = {"first_name": "Аня", "display_name": "Аня С.", "phone": "8 999 123-45-67", "email": "a@x.ru"}
    customer_apply_contact(customer=customer, contact=contact, origin="manager", actor="anna")
    customer.refresh_from_db()
    assert (customer.first_name, customer.last_name, customer.display_name, customer.email) == (
        "Аня",
        "Смирнова",
        "Аня С.",
        "a@x.ru",
    )
    assert customer.phone == "+79991234567"  # the same number in another spelling is no difference
    assert contact_differences(customer=customer, contact=contact) == []


def test_applying_business_details_attaches_the_company_found_by_inn_and_updates_it(make_customer) -> None:
    company = company_create(data={"name": "ООО Ромашка", "inn": "7707083893"})
    customer = make_customer()
    contact = {
        "customer_type": "business",
        "company": {"name": "Ромашка", "inn": "7707083893", "kpp": "770701001"},
    }
    customer_apply_contact(customer=customer, contact=contact)
    customer.refresh_from_db()
    company.refresh_from_db()
    assert (customer.customer_type, customer.company_id) == ("business", company.pk)
    assert (company.name, company.kpp) == ("Ромашка", "770701001")
    assert contact_differences(customer=customer, contact=contact) == []


def test_applying_company_details_without_an_inn_updates_the_customers_company(make_customer) -> None:
    company = company_create(data={"name": "ООО Ромашка", "inn": valid_inn(5)})
    customer = make_customer(customer_type="business", company=company)
    customer_apply_contact(customer=customer, contact={"company": {"name": "ООО Ромашка-2"}})
    company.refresh_from_db()
    assert company.name == "ООО Ромашка-2" and Company.objects.count() == 1


def test_applying_another_customers_phone_changes_nothing(make_customer) -> None:
    other = make_customer(phone="+79990000001")
    customer = make_customer(first_name="Анна", phone="+79990000002")
    with pytest.raises(ValidationError) as exc:
        customer_apply_contact(customer=customer, contact={"first_name": "Аня", "phone": other.phone})
    assert "phone" in exc.value.message_dict
    customer.refresh_from_db()
    assert (customer.first_name, customer.phone_normalized) == ("Анна", "+79990000002")


def test_a_failing_company_change_rolls_the_whole_apply_back(make_customer) -> None:
    own = company_create(data={"name": "ООО Своя", "inn": valid_inn(11)})
    customer = make_customer(first_name="Анна", customer_type="business", company=own)
    contact = {"first_name": "Аня", "company": {"name": "ООО Своя", "inn": valid_inn(11), "kpp": "bad"}}
    with pytest.raises(ValidationError):
        customer_apply_contact(customer=customer, contact=contact)
    customer.refresh_from_db()
    own.refresh_from_db()
    assert (customer.first_name, own.kpp) == ("Анна", "")
