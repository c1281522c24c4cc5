"""The order form's responsible manager (the creator by default, chosen among the managers) and the order
page's history rows for a change of manager, made in the console or in amoCRM."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from console.orders.models import Order, OrderResponsibleChange
from console.orders.services import order_set_responsible
from tests.fixtures.builders import make_user
from tests.web.orders_world import form_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def anna() -> Any:
    return make_user("anna", role="manager", first_name="Anna")


def test_the_field_offers_managers_only_and_defaults_to_the_creator(client: Client, anna: Any) -> None:
    make_user("boris", role="manager", first_name="Boris")
    make_user("sam", role="support")
    make_user("gone", role="manager", is_active=False)
    client.force_login(anna)

    body = client.get(reverse("web:order_create")).content.decode()
    field = body.split('name="responsible"')[1].split("</select>")[0]

    assert f'<option value="{anna.pk}" selected>Anna (anna)</option>' in field
    assert "Boris (boris)" in field
    assert "sam" not in field and "gone" not in field


def test_a_manager_creates_an_order_for_another_manager(
    client: Client, anna: Any, make_customer: Any, products: list
) -> None:
    boris = make_user("boris", role="manager")
    client.force_login(anna)
    data = form_data(lines=[(products[0], 1)], customer=str(make_customer().pk), responsible=str(boris.pk))

    response = client.post(reverse("web:order_create"), data)

    assert response.status_code == 302
    order = Order.objects.get()
    assert order.responsible == boris and order.created_by == anna


@pytest.mark.parametrize("who", ["support", "999999", "x"])
def test_a_responsible_who_is_no_manager_is_a_form_error(
    client: Client, anna: Any, make_customer: Any, products: list, who: str
) -> None:
    sam = make_user("sam", role="support")
    client.force_login(anna)
    value = str(sam.pk) if who == "support" else who
    data = form_data(lines=[(products[0], 1)], customer=str(make_customer().pk), responsible=value)

    body = client.post(reverse("web:order_create"), data).content.decode()

    assert "Select a valid choice." in body and not Order.objects.exists()


def test_reassigning_in_the_console_shows_in_the_history(
    client: Client, anna: Any, make_order: Any, products: list
) -> None:
    boris = make_user("boris", role="manager")
    order = make_order(items=[(products[0], 1)])
    order_set_responsible(order=order, responsible=anna, origin="manager", actor="anna")
    client.force_login(anna)
    data = form_data(
        lines=[(products[0], 1)], initial=1, customer=str(order.customer_id), responsible=str(boris.pk)
    )

    assert client.post(reverse("web:order_edit", args=[order.pk]), data).status_code == 302

    order.refresh_from_db()
    assert order.responsible == boris
    change = OrderResponsibleChange.objects.filter(order=order).first()
    assert (change.from_user, change.to_user, change.origin, change.actor) == (
        "anna",
        "boris",
        "manager",
        "anna",
    )
    timeline = (
        client.get(reverse("web:order_detail", args=[order.pk])).content.decode().split('id="timeline"')[1]
    )
    assert "Responsible manager: anna → boris." in timeline


def test_a_form_without_the_field_keeps_the_manager(
    client: Client, anna: Any, make_order: Any, products: list
) -> None:
    order = make_order(items=[(products[0], 1)])
    order_set_responsible(order=order, responsible=anna, origin="manager", actor="anna")
    client.force_login(anna)
    data = form_data(lines=[(products[0], 1)], initial=1, customer=str(order.customer_id), comment="x")

    client.post(reverse("web:order_edit", args=[order.pk]), data)

    order.refresh_from_db()
    assert order.responsible == anna and order.comment == "x"


def test_a_change_from_amocrm_shows_in_the_history_by_amocrm(
    admin_client: Client, anna: Any, make_order: Any
) -> None:
    order = make_order()
    order_set_responsible(order=order, responsible=anna, origin="amocrm", actor="amocrm")
    order_set_responsible(order=order, responsible=anna, origin="amocrm", actor="amocrm")  # no-op: no row

    body = admin_client.get(reverse("web:order_detail", args=[order.pk])).content.decode()
    rows = [row for row in body.split('data-kind="responsible"')[1:]]

    assert len(rows) == 1 and OrderResponsibleChange.objects.filter(order=order).count() == 1
    assert "Responsible manager: nobody → anna." in rows[0]
    assert "AmoCRM" in rows[0].split("</tr>")[0]
