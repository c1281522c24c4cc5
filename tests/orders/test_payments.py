"""What the customer paid: ``order_set_payment`` and the staff API's ``paid_amount``/``payment_status``."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from console.orders.models import Order
from console.orders.services import order_set_payment, order_soft_delete

pytestmark = pytest.mark.django_db

URL = "/api/v1/orders/"


def pay(order: Order, amount, status: str = "prepaid", origin: str = "manager") -> Order:  # noqa: ANN001
    return order_set_payment(order=order, paid_amount=amount, payment_status=status, origin=origin, actor="t")


def test_a_new_order_is_not_paid(make_order) -> None:
    order = make_order()
    assert (order.paid_amount, order.payment_status) == (Decimal("0"), "not_paid")
    assert str(Order.PaymentStatus.PREPAID.label) == "Prepaid"


def test_the_payment_statuses_read_in_russian() -> None:
    with translation.override("ru"):
        assert [str(label) for label in Order.PaymentStatus.labels] == [
            "Не оплачено",
            "Предоплата",
            "Оплачено",
        ]


def test_setting_the_payment_saves_it_and_signals_once_after_commit(
    make_order, order_signals, django_capture_on_commit_callbacks
) -> None:
    order = make_order()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        pay(order, Decimal("1500.50"))
    assert order_signals.calls == []  # nothing before the commit
    for callback in callbacks:
        callback()
    order.refresh_from_db()
    assert (order.paid_amount, order.payment_status) == (Decimal("1500.50"), "prepaid")
    assert [(c["action"], c["changed"], c["origin"]) for c in order_signals.calls] == [
        ("updated", frozenset({"paid_amount", "payment_status"}), "manager")
    ]


def test_only_the_fields_that_moved_are_reported_and_the_same_payment_is_a_no_op(
    make_order, order_signals, django_capture_on_commit_callbacks
) -> None:
    order = make_order()
    with django_capture_on_commit_callbacks(execute=True):
        pay(order, "100", status="not_paid")
        pay(order, "100.00", status="not_paid")
        pay(order, 100, status="paid")
    assert [c["changed"] for c in order_signals.calls] == [
        frozenset({"paid_amount"}),
        frozenset({"payment_status"}),
    ]


def test_amocrm_may_apply_a_payment(make_order, order_signals, django_capture_on_commit_callbacks) -> None:
    order = make_order()
    with django_capture_on_commit_callbacks(execute=True):
        pay(order, "999999999999.99", status="paid", origin="amocrm")
    assert order_signals.calls[0]["origin"] == "amocrm"
    order.refresh_from_db()
    assert order.paid_amount == Decimal("999999999999.99")


def test_an_unknown_origin_is_a_programming_error(make_order) -> None:
    with pytest.raises(ValueError):
        pay(make_order(), "1", origin="bank")


@pytest.mark.parametrize(
    "amount",
    [
        "-0.01",
        -1,
        "1000000000000.00",
        "12.345",
        "abc",
        "",
        None,
        True,
        float("nan"),
        "Infinity",
        [1],
        "1e400",
    ],
)
def test_a_bad_amount_is_refused_naming_the_field(make_order, order_signals, amount) -> None:  # noqa: ANN001
    order = make_order()
    with pytest.raises(ValidationError) as exc:
        pay(order, amount)
    assert set(exc.value.message_dict) == {"paid_amount"}
    order.refresh_from_db()
    assert (order.paid_amount, order.payment_status) == (Decimal("0"), "not_paid")


@pytest.mark.parametrize("status", ["refunded", "", None, 1, ["paid"]])
def test_an_unknown_payment_status_is_refused(make_order, status) -> None:  # noqa: ANN001
    order = make_order()
    with pytest.raises(ValidationError) as exc:
        pay(order, "10", status=status)
    assert set(exc.value.message_dict) == {"payment_status"}
    order.refresh_from_db()
    assert order.paid_amount == Decimal("0")


def test_both_errors_are_reported_together(make_order) -> None:
    with pytest.raises(ValidationError) as exc:
        pay(make_order(), "-5", status="refunded")
    assert set(exc.value.message_dict) == {"paid_amount", "payment_status"}


def test_a_deleted_order_takes_no_payment(make_order) -> None:
    order = order_soft_delete(order=make_order(), origin="manager", actor="t")
    with pytest.raises(ValidationError):
        pay(order, "10")


# --- API ---------------------------------------------------------------------------------------------------


def test_a_manager_reads_and_writes_the_payment_through_the_api(
    staff_client, make_order, order_signals, django_capture_on_commit_callbacks
) -> None:
    order = make_order()
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.patch(
            f"{URL}{order.pk}/", {"paid_amount": "2500.5", "payment_status": "prepaid"}, format="json"
        )
    assert response.status_code == 200, response.json()
    assert (response.json()["paid_amount"], response.json()["payment_status"]) == ("2500.50", "prepaid")
    assert staff_client.get(f"{URL}{order.pk}/").json()["paid_amount"] == "2500.50"
    assert [(c["action"], c["changed"]) for c in order_signals.calls] == [
        ("updated", frozenset({"paid_amount", "payment_status"}))
    ]


def test_a_manager_may_create_a_paid_order(staff_client, order_payload, customer) -> None:
    payload = order_payload(customer=customer.pk, paid_amount="8254.50", payment_status="paid")
    response = staff_client.post(URL, payload, format="json")
    assert response.status_code == 201, response.json()
    assert (response.json()["paid_amount"], response.json()["payment_status"]) == ("8254.50", "paid")


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"paid_amount": "-1"}, "paid_amount"),
        ({"paid_amount": "1000000000000"}, "paid_amount"),
        ({"paid_amount": "1.234"}, "paid_amount"),
        ({"paid_amount": "NaN"}, "paid_amount"),
        ({"paid_amount": "много"}, "paid_amount"),
        ({"paid_amount": None}, "paid_amount"),
        ({"paid_amount": True}, "paid_amount"),
        ({"payment_status": "refunded"}, "payment_status"),
        ({"payment_status": None}, "payment_status"),
    ],
)
def test_bad_payment_values_are_a_400_naming_the_field(staff_client, make_order, patch: dict, field: str):
    order = make_order()
    response = staff_client.patch(f"{URL}{order.pk}/", patch, format="json")
    assert response.status_code == 400
    assert field in response.json()
    order.refresh_from_db()
    assert (order.paid_amount, order.payment_status) == (Decimal("0"), "not_paid")
