"""Each new order's responsible manager: its creator; storefront orders the set manager or in turn."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone

from console.orders.models import Order, StorefrontManager
from console.orders.services import order_create
from tests.fixtures.builders import make_user

pytestmark = pytest.mark.django_db


def _create(customer: Any, product: Any, *, origin: str, created_by: Any = None) -> Order:
    day = timezone.localdate() + datetime.timedelta(days=3)
    data = {
        "customer": customer,
        "installation_date": day,
        "dismantle_date": day + datetime.timedelta(days=1),
        "items": [{"product": product, "quantity": 1}],
    }
    return order_create(data=data, origin=origin, actor="t", created_by=created_by)


def test_a_console_order_is_its_creators(make_customer: Any, products: list) -> None:
    anna = make_user("anna")
    assert _create(make_customer(), products[0], origin="manager", created_by=anna).responsible == anna


def test_storefront_orders_go_in_turn_among_the_marked_managers(make_customer: Any, products: list) -> None:
    anna, boris, carl = make_user("anna"), make_user("boris"), make_user("carl")
    StorefrontManager.objects.create(user=anna)
    StorefrontManager.objects.create(user=boris)
    StorefrontManager.objects.create(user=carl, takes_orders=False)

    got = [_create(make_customer(), products[0], origin="storefront").responsible for _ in range(4)]

    assert got == [anna, boris, anna, boris]


def test_the_setting_sends_every_storefront_order_to_one_manager(make_customer: Any, products: list) -> None:
    boris = make_user("boris")
    StorefrontManager.objects.create(user=make_user("anna"))
    with override_settings(STOREFRONT_RESPONSIBLE="boris"):
        assert _create(make_customer(), products[0], origin="storefront").responsible == boris
    with override_settings(STOREFRONT_RESPONSIBLE="nobody"):
        assert _create(make_customer(), products[0], origin="storefront").responsible.username == "anna"


def test_no_marked_manager_leaves_a_storefront_order_without_one(make_customer: Any, products: list) -> None:
    assert _create(make_customer(), products[0], origin="storefront").responsible is None
