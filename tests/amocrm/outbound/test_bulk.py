"""Bulk push: many orders share batch calls (leads, notes and links 50 to a call)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from console.amocrm.models import OrderSync, SyncLog
from console.amocrm.outbound import controls
from console.orders.models import Order
from tests.fixtures.sync import calls, committed, entities, products_of, state


@pytest.mark.django_db
def test_a_bulk_push_of_sixty_new_orders_uses_batch_endpoints(
    amo: Any, make_order: Callable[..., Order], make_customer: Callable[..., Any], products: list
) -> None:
    customers = [make_customer() for _ in range(12)]
    # Built without running the receivers: nothing is synced yet.
    lines = [[(products[n % 3], 1 + n % 5), (products[(n + 1) % 3], 2)] for n in range(60)]
    orders = [make_order(customer=customers[n % 12], items=lines[n]) for n in range(60)]

    with committed():
        queued = controls.orders_push_bulk(order_ids=[o.pk for o in orders], trigger="bulk:anna")

    assert queued == 60
    assert set(OrderSync.objects.values_list("state", flat=True)) == {"synced"}
    seen = calls(amo)
    assert seen["POST /api/v4/leads"] == 2
    assert seen["POST /api/v4/leads/notes"] == 2
    assert seen["POST /api/v4/leads/link"] == math.ceil(120 / 50)
    assert seen["POST /api/v4/contacts"] == 1
    assert sum(seen.values()) / 60 <= 0.5, seen
    assert len(entities(amo, "leads")) == 60 and len(entities(amo, "contacts")) == 12
    sample = orders[7]
    sample.refresh_from_db()
    assert len(products_of(amo, state(sample).lead_id)) == 2
    assert SyncLog.objects.filter(trigger="bulk:anna", outcome="ok", action="create").count() == 60


@pytest.mark.django_db
def test_a_bulk_push_of_synced_orders_only_touches_what_changed(
    amo: Any, make_order: Callable[..., Order], products: list
) -> None:
    from console.orders.services import order_set_status

    with committed():
        orders = [make_order() for _ in range(4)]
    order_set_status(order=orders[0], status="reserved", origin="manager", actor="m")  # not pushed yet
    order_set_status(order=orders[1], status="in_rent", origin="manager", actor="m")
    amo.control("POST", "requests/clear")

    with committed():
        controls.orders_push_bulk(order_ids=[o.pk for o in orders], trigger="bulk:anna")

    assert calls(amo) == {"PATCH /api/v4/leads": 1}
    outcomes = dict(SyncLog.objects.filter(trigger="bulk:anna").values_list("order_id", "outcome"))
    assert sorted(outcomes.values()) == ["noop", "noop", "ok", "ok"]


@pytest.mark.django_db
def test_a_bulk_push_leaves_skipped_orders_out(amo: Any, make_order: Callable[..., Order]) -> None:
    skipped = make_order(sync_disabled=True)
    normal = make_order()

    with committed():
        assert controls.orders_push_bulk(order_ids=[skipped.pk, normal.pk], trigger="bulk:anna") == 1

    assert state(skipped).state == "skipped" and state(skipped).lead_id is None
    assert state(normal).state == "synced"


@pytest.mark.django_db
def test_one_invalid_order_in_a_bulk_push_fails_alone(
    amo: Any, make_order: Callable[..., Order], products: list
) -> None:
    from console.amocrm.models import StageMapping

    StageMapping.objects.filter(order_status="reserved").update(status_id=999999)
    good = [make_order() for _ in range(2)]
    bad = make_order(status="reserved")

    with committed():
        controls.orders_push_bulk(order_ids=[o.pk for o in [*good, bad]], trigger="bulk:anna")

    assert [state(o).state for o in good] == ["synced", "synced"]
    assert (state(bad).state, state(bad).attempts) == ("failed", 1)
    assert state(bad).last_error_status == 400
    assert len(entities(amo, "leads")) == 2
