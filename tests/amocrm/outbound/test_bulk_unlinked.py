"""Issue 22, defect 1, against the sandbox: a bulk push never silently makes a second deal for an order that
was unlinked from its deal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from console.amocrm.outbound import controls
from console.orders.models import Order
from tests.fixtures.sync import committed, entities, state


def _two_unlinked(make_order: Callable[..., Order]) -> list[Order]:
    with committed():
        orders = [make_order(), make_order()]
    for order in orders:
        with committed():
            controls.order_unlink(order_id=order.pk, trigger="manager:anna")
    return orders


@pytest.mark.django_db
def test_a_bulk_push_without_an_answer_leaves_unlinked_orders_alone(
    amo: Any, make_order: Callable[..., Order]
) -> None:
    orders = _two_unlinked(make_order)
    with committed():
        queued = controls.orders_push_bulk(order_ids=[o.pk for o in orders], trigger="bulk:anna")
    assert queued == 0
    assert len(entities(amo, "leads")) == 2
    assert {state(o).state for o in orders} == {"unlinked"}


@pytest.mark.django_db
def test_a_bulk_relink_takes_the_old_deals_back_and_new_makes_new_ones(
    amo: Any, make_order: Callable[..., Order]
) -> None:
    orders = _two_unlinked(make_order)
    old = [state(o).previous_lead_id for o in orders]
    with committed():
        controls.orders_push_bulk(order_ids=[orders[0].pk], trigger="bulk:anna", unlinked="relink")
    assert (state(orders[0]).lead_id, state(orders[0]).state) == (old[0], "synced")
    assert len(entities(amo, "leads")) == 2

    with committed():
        controls.orders_push_bulk(order_ids=[orders[1].pk], trigger="bulk:anna", unlinked="new")
    assert state(orders[1]).lead_id not in (None, old[1]) and len(entities(amo, "leads")) == 3
