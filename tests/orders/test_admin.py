"""The orders admin: deleting an order there (one, or "delete selected") is the service's soft delete."""

from __future__ import annotations

import pytest
from django.urls import reverse

from console.orders.models import Order, OrderItem, OrderStatusChange

pytestmark = pytest.mark.django_db


def test_the_delete_view_soft_deletes_the_order(
    admin_client, make_order, order_signals, django_capture_on_commit_callbacks
) -> None:
    order = make_order()
    url = reverse("admin:orders_order_delete", args=[order.pk])
    confirm = admin_client.get(url)
    assert confirm.status_code == 200 and order.number in confirm.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, {"post": "yes"})
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.is_active is False
    assert OrderItem.objects.filter(order=order).exists()
    assert OrderStatusChange.objects.filter(order=order).exists()
    assert [(c["action"], c["changed"], c["origin"], c["actor"]) for c in order_signals.calls] == [
        ("deleted", frozenset({"is_active"}), "manager", "admin")
    ]


def test_delete_selected_soft_deletes_each_order(
    admin_client, make_order, order_signals, django_capture_on_commit_callbacks
) -> None:
    orders = [make_order(), make_order(), make_order()]
    chosen = [orders[0].pk, orders[1].pk]
    changelist = reverse("admin:orders_order_changelist")
    confirm = admin_client.post(
        changelist, {"action": "delete_selected", "_selected_action": chosen, "index": 0}
    )
    assert confirm.status_code == 200 and "Are you sure" in confirm.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            changelist, {"action": "delete_selected", "_selected_action": chosen, "post": "yes"}
        )
    assert response.status_code == 302
    assert Order.objects.count() == 3
    assert set(Order.objects.filter(is_active=False).values_list("pk", flat=True)) == set(chosen)
    assert order_signals.actions == ["deleted", "deleted"]


def test_deleting_an_already_deleted_order_is_a_no_op(
    admin_client, make_order, order_signals, django_capture_on_commit_callbacks
) -> None:
    order = make_order()
    url = reverse("admin:orders_order_delete", args=[order.pk])
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(url, {"post": "yes"})
        admin_client.post(url, {"post": "yes"})
    assert order_signals.actions == ["deleted"]


def test_the_order_page_shows_payment_and_tracking_read_only(admin_client, make_order) -> None:
    order = make_order()
    body = admin_client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert order.tracking_token in body and "Not paid" in body
