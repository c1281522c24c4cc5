"""The orders list filters by responsible manager, and "My orders" is one click away (off by default)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from console.orders.models import Order
from tests.web.orders_world import create_order

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("products")]


def test_my_orders_and_the_manager_filter(admin_client):
    me = get_user_model().objects.get(username="admin")
    other = get_user_model().objects.create_user("boris", password="pw", is_staff=True)
    mine = create_order(phone="+79990000021", first_name="Alpha")
    theirs = create_order(phone="+79990000022", first_name="Beta")
    Order.objects.filter(pk=mine.pk).update(responsible=me)
    Order.objects.filter(pk=theirs.pk).update(responsible=other)

    body = admin_client.get(reverse("web:orders")).content.decode()
    assert "Alpha" in body and "Beta" in body and 'id="my-orders"' in body
    body = admin_client.get(reverse("web:orders"), {"mine": "on"}).content.decode()
    assert "Alpha" in body and "Beta" not in body
    body = admin_client.get(reverse("web:orders"), {"manager": other.pk}).content.decode()
    assert "Beta" in body and "Alpha" not in body
    assert admin_client.get(reverse("web:orders"), {"manager": "999999"}).status_code == 200
    ru = admin_client.get(reverse("web:orders"), HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "Мои заказы" in ru
