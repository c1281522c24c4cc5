"""Cancelling with an amoCRM loss reason: with the account's reasons cached, cancelling asks for one (the
page's dialog gives way to the confirmation page), refuses a reason amoCRM no longer has, records the chosen
one (or none, when the manager says so), and the order page and its history show it."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from console.amocrm.models import LossReason, OrderLossReason

pytestmark = pytest.mark.django_db


@pytest.fixture
def reasons() -> list[LossReason]:
    return [
        LossReason.objects.create(id=9000001, name="Дорого", sort=10),
        LossReason.objects.create(id=9000002, name="Мероприятие отменено", sort=20),
    ]


def _cancel(client: Any, order: Any, **data: str) -> Any:
    return client.post(reverse("web:order_action", args=[order.pk]), {"action": "cancel", **data})


def test_the_confirmation_asks_for_a_reason_and_a_confirm_alone_does_not_cancel(
    admin_client: Any, make_order: Any, reasons: list
) -> None:
    order = make_order()
    page = _cancel(admin_client, order, confirm="1")
    body = page.content.decode()
    assert page.status_code == 200 and 'name="loss_reason"' in body and "Мероприятие отменено" in body
    order.refresh_from_db()
    assert order.status == "new"


def test_the_order_page_sends_the_cancel_to_that_page_instead_of_a_dialog(
    admin_client: Any, make_order: Any, reasons: list
) -> None:
    body = admin_client.get(reverse("web:order_detail", args=[make_order().pk])).content.decode()
    assert 'value="cancel"' in body
    assert 'value="cancel" class="secondary"\n        data-confirm' not in body
    assert 'class="secondary">' in body.split('value="cancel"', 1)[1][:40]


def test_a_reason_amocrm_no_longer_has_is_refused_and_nothing_is_cancelled(
    admin_client: Any, make_order: Any, reasons: list
) -> None:
    order = make_order()
    page = _cancel(admin_client, order, confirm="1", loss_reason="12345")
    assert page.status_code == 400
    assert "no longer in amoCRM" in page.content.decode()
    order.refresh_from_db()
    assert order.status == "new" and not OrderLossReason.objects.exists()


def test_the_chosen_reason_is_recorded_and_shown_on_the_page_and_in_its_history(
    admin_client: Any, make_order: Any, reasons: list
) -> None:
    order = make_order()
    _cancel(admin_client, order, confirm="1", loss_reason="9000002")
    order.refresh_from_db()
    chosen = OrderLossReason.objects.get(order=order)
    assert order.status == "cancelled"
    assert (chosen.reason_id, chosen.name, chosen.origin, chosen.actor) == (
        9000002,
        "Мероприятие отменено",
        "manager",
        "admin",
    )
    body = admin_client.get(reverse("web:order_detail", args=[order.pk])).content.decode()
    assert 'id="loss-reason">Мероприятие отменено' in body
    assert 'data-kind="loss"' in body


def test_without_a_reason_when_the_manager_says_so(admin_client: Any, make_order: Any, reasons: list) -> None:
    order = make_order()
    _cancel(admin_client, order, confirm="1", loss_reason="none")
    order.refresh_from_db()
    assert order.status == "cancelled" and not OrderLossReason.objects.exists()


def test_the_orders_list_filters_by_loss_reason(admin_client: Any, make_order: Any, reasons: list) -> None:
    lost, other = make_order(), make_order()
    _cancel(admin_client, lost, confirm="1", loss_reason="9000001")
    listed = admin_client.get(reverse("web:orders"), {"loss_reason": "9000001"}).content.decode()
    assert f'data-order-id="{lost.pk}"' in listed and f'data-order-id="{other.pk}"' not in listed
    unknown = admin_client.get(reverse("web:orders"), {"loss_reason": "777"})
    assert unknown.status_code == 200  # an unknown reason is a form error on the list, never a 500
