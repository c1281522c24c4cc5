"""The checkout's contact details (``contact_from_data``, ``contact_clean``) and where they differ from the
customer record (``contact_differences``)."""

from __future__ import annotations

import pytest

from console.customers.selectors import contact_clean, contact_differences, contact_from_data
from tests.fixtures.builders import valid_inn

pytestmark = pytest.mark.django_db


def fields(differences) -> dict[str, tuple[str, str]]:  # noqa: ANN001
    return {d.field: (d.stored, d.typed) for d in differences}


def test_the_contact_keeps_the_typed_text_and_the_company() -> None:
    data = {
        "customer_type": "business",
        "first_name": " Анна ",
        "last_name": "",
        "display_name": "Анна С.",
        "phone": "8 999 123-45-67",
        "email": "a@example.com",
        "tags": ["vip"],
        "company_data": {"name": "ООО Ромашка", "inn": "7707083893", "kpp": ""},
    }
    assert contact_from_data(data) == {
        "customer_type": "business",
        "first_name": "Анна",
        "display_name": "Анна С.",
        "phone": "8 999 123-45-67",
        "email": "a@example.com",
        "company": {"name": "ООО Ромашка", "inn": "7707083893"},
    }


def test_the_individual_default_says_nothing() -> None:
    assert contact_from_data({"customer_type": "individual", "first_name": "Анна"}) == {"first_name": "Анна"}


@pytest.mark.parametrize(
    "stored",
    [
        None,
        [],
        "text",
        {"first_name": 5, "phone": None, "company": "ООО", "evil": "x", "customer_type": "alien"},
    ],
)
def test_a_hand_edited_contact_is_read_safely(stored) -> None:  # noqa: ANN001
    assert contact_clean(stored) == {}


def test_differences_ignore_spelling_of_phone_and_case_of_email(make_customer) -> None:
    customer = make_customer(
        first_name="Анна", last_name="Смирнова", phone="+79991234567", email="a@example.com"
    )
    contact = {"first_name": "Анна", "phone": "8 (999) 123-45-67", "email": "A@Example.com"}
    assert contact_differences(customer=customer, contact=contact) == []


def test_differences_name_each_field_with_both_values(make_customer) -> None:
    customer = make_customer(first_name="Анна", last_name="Смирнова", email="")
    contact = {"first_name": "Аня", "email": "anya@example.com", "customer_type": "business"}
    differences = contact_differences(customer=customer, contact=contact)
    assert fields(differences) == {
        "customer_type": ("Individual", "Business"),
        "first_name": ("Анна", "Аня"),
        "email": ("", "anya@example.com"),
    }
    assert [d.label for d in differences] == ["Type", "First name", "E-mail"]


def test_company_details_are_compared_with_the_customers_company(make_customer, make_company) -> None:
    company = make_company(name="ООО Ромашка", kpp="")
    customer = make_customer(customer_type="business", company=company)
    contact = {"company": {"name": "ООО Ромашка", "inn": company.inn, "kpp": "770701001"}}
    assert fields(contact_differences(customer=customer, contact=contact)) == {
        "company.kpp": ("", "770701001")
    }
    alone = make_customer()
    other = {"company": {"name": "ООО Лютик", "inn": valid_inn(99)}}
    differences = contact_differences(customer=alone, contact=other)
    assert fields(differences) == {"company.name": ("", "ООО Лютик"), "company.inn": ("", valid_inn(99))}
    assert differences[0].label == "Company: name"
