"""Issue 22, defect 1: a bulk push of orders unlinked from their deals asks first (old deal or a new one),
never silently making a second deal for each."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.test import Client
from django.urls import reverse

from console.amocrm.models import OrderSync
from console.orders.models import Order


def _unlinked(order: Order, lead_id: int) -> None:
    OrderSync.objects.update_or_create(
        order=order, defaults={"state": "unlinked", "lead_id": None, "previous_lead_id": lead_id}
    )


def test_a_bulk_push_with_unlinked_orders_asks_and_queues_nothing(
    make_order: Callable[..., Order], staff_user: Any, enqueued: list
) -> None:
    client = Client()
    client.force_login(staff_user)
    fresh, unlinked = make_order(), make_order()
    _unlinked(unlinked, 4242)

    response = client.post(reverse("web:sync_bulk", args=["push"]), {"order_ids": [fresh.pk, unlinked.pk]})

    body = response.content.decode()
    assert response.status_code == 200
    assert 'value="relink"' in body and 'value="new"' in body and unlinked.number in body
    assert f'name="order_ids" value="{fresh.pk}"' in body  # the answer re-posts every selected order
    assert enqueued == [] and OrderSync.objects.get(order=unlinked).state == "unlinked"


def test_the_answer_new_makes_new_deals_and_relink_links_the_old_ones(
    make_order: Callable[..., Order], staff_user: Any, enqueued: list
) -> None:
    client = Client()
    client.force_login(staff_user)
    fresh, first, second = make_order(), make_order(), make_order()
    _unlinked(first, 4242)
    _unlinked(second, 4343)
    url = reverse("web:sync_bulk", args=["push"])

    client.post(url, {"order_ids": [fresh.pk, first.pk], "unlinked": "relink"})
    assert ("order_link_task", first.pk, 4242, "bulk:manager") in enqueued
    assert ("orders_sync_bulk_task", [fresh.pk], "bulk:manager") in enqueued

    client.post(url, {"order_ids": [second.pk], "unlinked": "new"}, HTTP_HX_REQUEST="true")
    assert enqueued[-1] == ("orders_sync_bulk_task", [second.pk], "bulk:manager")
    assert OrderSync.objects.get(order=second).previous_lead_id is None


def test_the_htmx_question_replaces_the_progress_box(
    make_order: Callable[..., Order], staff_user: Any, enqueued: list
) -> None:
    client = Client()
    client.force_login(staff_user)
    order = make_order()
    _unlinked(order, 4242)
    response = client.post(
        reverse("web:sync_bulk", args=["push"]), {"order_ids": [order.pk]}, HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="bulk-progress"') and "<html" not in body


def test_after_unlinking_the_order_no_longer_shows_the_old_deals_stage(
    order: Order, staff_user: Any, enqueued: list
) -> None:
    """Issue 22, defect 9."""
    OrderSync.objects.filter(order=order).update(
        state="synced", lead_id=777, amo_pipeline_id=1, amo_status_id=2, previous_lead_id=None
    )
    client = Client()
    client.force_login(staff_user)
    client.post(reverse("web:sync_unlink", args=[order.pk]))
    sync = OrderSync.objects.get(order=order)
    assert (sync.state, sync.amo_pipeline_id, sync.amo_status_id) == ("unlinked", None, None)
