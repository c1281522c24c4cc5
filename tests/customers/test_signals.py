"""``customer_changed`` and ``company_changed``: sent once per committed operation of the customers
services, only when something changed, with the changed field names, origin and actor."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction

from console.customers.models import COMPANY_FIELDS, Customer
from console.customers.services import (
    CUSTOMER_FIELDS,
    company_create,
    company_find_or_create,
    company_update,
    customer_create,
    customer_deactivate,
    customer_find_or_create,
    customer_update,
)
from tests.fixtures.builders import valid_inn

pytestmark = pytest.mark.django_db


def summary(recorder) -> list[tuple]:  # noqa: ANN001
    return [(c["action"], c["changed"], c["origin"], c["actor"]) for c in recorder.calls]


def test_creating_a_customer_signals_once_after_commit(
    customer_signals, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        customer = customer_create(
            data={"first_name": "Анна", "phone": "9991234567"}, origin="manager", actor="o"
        )
    assert customer_signals.calls == []
    for callback in callbacks:
        callback()
    assert summary(customer_signals) == [("created", frozenset(CUSTOMER_FIELDS), "manager", "o")]
    assert customer_signals.calls[0]["customer_id"] == customer.pk


def test_an_update_reports_only_the_fields_that_changed(
    customer, customer_signals, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        customer_update(
            customer=customer,
            data={"first_name": "Мария", "email": "NEW@example.com", "last_name": customer.last_name},
            origin="amocrm",
            actor="amocrm",
        )
    assert summary(customer_signals) == [("updated", frozenset({"first_name", "email"}), "amocrm", "amocrm")]


def test_an_update_that_changes_nothing_saves_and_sends_nothing(
    customer, customer_signals, django_capture_on_commit_callbacks
) -> None:
    updated_at = customer.updated_at
    with django_capture_on_commit_callbacks(execute=True):
        customer_update(customer=customer, data={"first_name": " Иван ", "phone": customer.phone})
    assert customer_signals.calls == []
    customer.refresh_from_db()
    assert customer.updated_at == updated_at


def test_a_company_change_of_a_customer_is_named_company(
    customer, make_company, customer_signals, django_capture_on_commit_callbacks
) -> None:
    company = make_company()
    with django_capture_on_commit_callbacks(execute=True):
        customer_update(customer=customer, data={"company": company, "customer_type": "business"})
    assert customer_signals.calls[0]["changed"] == frozenset({"company", "customer_type"})


def test_deactivating_signals_once(customer, customer_signals, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        customer_deactivate(customer=customer, origin="manager", actor="anna")
        customer_deactivate(customer=customer, origin="manager", actor="anna")
    assert summary(customer_signals) == [("deactivated", frozenset({"is_active"}), "manager", "anna")]


def test_a_refused_write_sends_nothing(customer, customer_signals, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ValidationError):
        customer_update(customer=customer, data={"phone": "12"})
    assert customer_signals.calls == []


def test_a_rolled_back_transaction_sends_nothing(customer_signals, django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        customer_create(data={"first_name": "Анна", "phone": "9991234567"})
        raise RuntimeError("rollback")
    assert customer_signals.calls == [] and not Customer.objects.exists()


def test_company_writes_signal_with_their_changed_fields(
    company_signals, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        company = company_create(
            data={"name": "ООО Ромашка", "inn": valid_inn(7)}, origin="manager", actor="o"
        )
        company_update(company=company, data={"name": "ООО Ромашка", "kpp": "770701001"}, origin="manager")
        company_update(company=company, data={"name": "ООО Ромашка"})
    assert summary(company_signals) == [
        ("created", frozenset(COMPANY_FIELDS), "manager", "o"),
        ("updated", frozenset({"kpp"}), "manager", ""),
    ]
    assert {c["company_id"] for c in company_signals.calls} == {company.pk}


def test_filling_a_known_companys_blanks_is_an_update(
    make_company, company_signals, django_capture_on_commit_callbacks
) -> None:
    company = make_company(kpp="")
    with django_capture_on_commit_callbacks(execute=True):
        company_find_or_create(data={"name": "X", "inn": company.inn, "kpp": "770701001"}, origin="manager")
        company_find_or_create(
            data={"name": "X", "inn": company.inn, "legal_address": "Москва"}, fill_blanks=False
        )
    assert [(c["action"], c["changed"]) for c in company_signals.calls] == [("updated", frozenset({"kpp"}))]


def test_an_inline_customer_signals_the_company_and_the_customer_once_each(
    customer_signals, company_signals, django_capture_on_commit_callbacks
) -> None:
    data = {
        "first_name": "Анна",
        "phone": "9991234567",
        "customer_type": "business",
        "company_data": {"name": "ООО Ромашка", "inn": valid_inn(8)},
    }
    with django_capture_on_commit_callbacks(execute=True):
        customer_find_or_create(data=data, origin="storefront", actor="storefront")
        customer_find_or_create(data=data, origin="storefront", actor="storefront")
    assert [c["action"] for c in customer_signals.calls] == ["created"]
    assert [c["action"] for c in company_signals.calls] == ["created"]


def test_an_unknown_origin_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        customer_create(data={"first_name": "Анна", "phone": "9991234567"}, origin="bank")


# --- API ---------------------------------------------------------------------------------------------------


def test_api_edits_signal_with_the_manager_as_actor(
    staff_client, staff_user, customer_signals, company_signals, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        company_id = staff_client.post("/api/v1/companies/", {"name": "ООО Лютик"}, format="json").json()[
            "id"
        ]
        staff_client.patch(f"/api/v1/companies/{company_id}/", {"legal_name": "ООО «Лютик»"}, format="json")
        customer_id = staff_client.post(
            "/api/v1/customers/", {"first_name": "Анна", "phone": "9991234567"}, format="json"
        ).json()["id"]
        staff_client.patch(f"/api/v1/customers/{customer_id}/", {"last_name": "Смирнова"}, format="json")
        staff_client.patch(f"/api/v1/customers/{customer_id}/", {"last_name": "Смирнова"}, format="json")
        staff_client.delete(f"/api/v1/customers/{customer_id}/")
    who = ("manager", staff_user.username)
    assert [(c["action"], c["origin"], c["actor"]) for c in company_signals.calls] == [
        ("created", *who),
        ("updated", *who),
    ]
    assert [(c["action"], c["changed"]) for c in customer_signals.calls] == [
        ("created", frozenset(CUSTOMER_FIELDS)),
        ("updated", frozenset({"last_name"})),
        ("deactivated", frozenset({"is_active"})),
    ]
    assert {(c["origin"], c["actor"]) for c in customer_signals.calls} == {who}
