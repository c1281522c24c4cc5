"""No ping-pong under any interleaving: every order of hook deliveries ends with the order and the lead
agreeing, and nothing amoCRM reports is ever pushed back.

A small model of amoCRM stands in for the sandbox so every permutation runs in milliseconds: it holds
the lead's stage and ``updated_at``, answers the one re-read the rules may ask for, and emits the hooks a
change fires (``update_lead`` and ``status_lead``, same content). Our pushes are written the way the sync
engine records them (``pushed_*``, ``last_synced_at``). The sandbox-backed version: ``test_webhook_e2e.py``.
"""

from __future__ import annotations

import datetime as dt
import itertools
import time
from collections.abc import Callable
from typing import Any

import pytest

from console.amocrm.inbound.inbox import item_process
from console.amocrm.inbound.items import WebhookItem
from console.amocrm.inbound.rules import LeadObservation, lead_observe
from console.amocrm.models import OrderSync, StageMapping
from console.orders.models import Order, OrderStatusChange

PIPELINE = 7000001
STAGE = {"new": 7100001, "reserved": 7100002, "in_rent": 7100003, "in_progress": 7100004}
STATUS_OF = {stage: status for status, stage in STAGE.items()}
LEAD = 4242

pytestmark = pytest.mark.django_db


class Amo:
    """The lead in amoCRM: stage and updated_at, the hooks its changes fire, one re-read counter."""

    def __init__(self, stage: int, updated_at: int) -> None:
        self.stage, self.updated_at, self.reads = stage, updated_at, 0

    def change(self, stage: int, at: int) -> list[WebhookItem]:
        self.stage, self.updated_at = stage, at
        item = WebhookItem("leads", "status", LEAD, stage, PIPELINE, at)
        return [item, WebhookItem("leads", "update", LEAD, stage, PIPELINE, at)]

    def get_lead(self, lead_id: int) -> dict[str, Any]:
        self.reads += 1
        stage = {"pipeline_id": PIPELINE, "status_id": self.stage}
        return {"id": lead_id, **stage, "updated_at": self.updated_at}


@pytest.fixture
def world(make_order: Callable[..., Order]) -> tuple[Order, Amo, int]:
    """An order at "new", linked and pushed 1000 s ago; amoCRM agrees. Returns (order, amo, t0)."""
    for status, stage in STAGE.items():
        StageMapping.objects.create(order_status=status, pipeline_id=PIPELINE, status_id=stage)
    t0 = int(time.time()) - 1000
    order = make_order()
    OrderStatusChange.objects.filter(order=order).update(created_at=at(t0 - 5))
    OrderSync.objects.create(
        order=order,
        lead_id=LEAD,
        state="synced",
        pushed_pipeline_id=PIPELINE,
        pushed_status_id=STAGE["new"],
        last_synced_at=at(t0),
    )
    return order, Amo(STAGE["new"], t0), t0


def at(unix: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(unix, tz=dt.UTC)


def manager_sets(order: Order, status: str, when: int) -> None:
    """A manager's change at ``when`` (recorded like ``order_set_status`` does)."""
    before = Order.objects.get(pk=order.pk).status
    Order.objects.filter(pk=order.pk).update(status=status)
    OrderStatusChange.objects.create(order=order, from_status=before, to_status=status, origin="manager")
    changes = OrderStatusChange.objects.filter(order=order, to_status=status, origin="manager")
    changes.update(created_at=at(when))


def sync_pushes(order: Order, amo: Amo, when: int) -> list[WebhookItem]:
    """The sync engine pushes the order's status at ``when``: amoCRM changes and fires hooks back."""
    status = Order.objects.get(pk=order.pk).status
    hooks = amo.change(STAGE[status], when)
    OrderSync.objects.filter(order=order).update(
        pushed_pipeline_id=PIPELINE, pushed_status_id=STAGE[status], last_synced_at=at(when + 0.4)
    )
    return hooks


def deliver_all(hooks: list[WebhookItem], amo: Amo, capture: Any) -> list[str]:
    outcomes = []
    with capture(execute=True):
        for hook in hooks:
            outcomes.append(item_process(hook, client_factory=lambda: amo).outcome)
    return outcomes


def assert_agree(order: Order, amo: Amo) -> None:
    order.refresh_from_db()
    assert STAGE[order.status] == amo.stage, (order.status, STATUS_OF.get(amo.stage))
    sync = OrderSync.objects.get(order=order)
    assert sync.pushed_status_id == amo.stage
    assert sync.change_seq == 0, "an amoCRM change was queued to be pushed back"


def snapshot(order: Order) -> tuple[Any, ...]:
    sync = OrderSync.objects.get(order=order)
    return (order.status, sync.pushed_status_id, sync.last_amo_modified, sync.last_synced_at)


def replay_permutations(
    world: tuple[Order, Amo, int], hooks: list[WebhookItem], capture: Any, expect: str
) -> None:
    """Deliver ``hooks`` in every order (from the same starting state each time) and check the end state."""
    order, amo, _t0 = world
    start_order = Order.objects.get(pk=order.pk).status
    start_sync = OrderSync.objects.filter(order=order).values().get()
    start_changes = set(OrderStatusChange.objects.filter(order=order).values_list("pk", flat=True))
    for permutation in itertools.permutations(hooks):
        Order.objects.filter(pk=order.pk).update(status=start_order)
        OrderSync.objects.filter(order=order).update(**{k: v for k, v in start_sync.items() if k != "id"})
        OrderStatusChange.objects.filter(order=order).exclude(pk__in=start_changes).delete()
        deliver_all(list(permutation), amo, capture)
        assert Order.objects.get(pk=order.pk).status == expect, [h.status_id for h in permutation]
        assert_agree(order, amo)


def test_a_managers_quick_changes_come_back_as_echoes_in_any_order(
    world: tuple[Order, Amo, int], django_capture_on_commit_callbacks: Any
) -> None:
    order, amo, t0 = world
    manager_sets(order, "reserved", t0 + 10)
    hooks = sync_pushes(order, amo, t0 + 11)
    manager_sets(order, "in_rent", t0 + 11)
    hooks += sync_pushes(order, amo, t0 + 12)
    replay_permutations(world, hooks, django_capture_on_commit_callbacks, expect="in_rent")


def test_an_amocrm_move_after_our_push_wins_in_any_order(
    world: tuple[Order, Amo, int], django_capture_on_commit_callbacks: Any
) -> None:
    order, amo, t0 = world
    manager_sets(order, "reserved", t0 + 10)
    hooks = sync_pushes(order, amo, t0 + 11)
    hooks += amo.change(STAGE["in_progress"], t0 + 30)
    replay_permutations(world, hooks, django_capture_on_commit_callbacks, expect="in_progress")


def test_an_amocrm_move_within_a_second_of_our_push_is_settled_by_one_read(
    world: tuple[Order, Amo, int], django_capture_on_commit_callbacks: Any
) -> None:
    order, amo, t0 = world
    manager_sets(order, "reserved", t0 + 10)
    hooks = sync_pushes(order, amo, t0 + 11)
    hooks += amo.change(STAGE["in_progress"], t0 + 11)  # the same second as our push
    replay_permutations(world, hooks, django_capture_on_commit_callbacks, expect="in_progress")
    assert amo.reads >= 1


def test_our_change_after_an_amocrm_move_wins_in_any_order(
    world: tuple[Order, Amo, int], django_capture_on_commit_callbacks: Any
) -> None:
    order, amo, t0 = world
    hooks = amo.change(STAGE["in_progress"], t0 + 10)
    manager_sets(order, "reserved", t0 + 20)
    hooks += sync_pushes(order, amo, t0 + 21)
    replay_permutations(world, hooks, django_capture_on_commit_callbacks, expect="reserved")


def test_our_unpushed_change_beats_an_older_amocrm_move_and_the_push_settles_it(
    world: tuple[Order, Amo, int], django_capture_on_commit_callbacks: Any
) -> None:
    order, amo, t0 = world
    hooks = amo.change(STAGE["in_progress"], t0 + 10)
    manager_sets(order, "reserved", t0 + 20)  # the push has not happened yet
    outcomes = deliver_all(hooks, amo, django_capture_on_commit_callbacks)
    assert outcomes == ["stale", "stale"]
    assert Order.objects.get(pk=order.pk).status == "reserved"
    deliver_all(sync_pushes(order, amo, t0 + 21), amo, django_capture_on_commit_callbacks)
    assert_agree(order, amo)


def test_the_number_of_hooks_and_reads_stays_bounded(
    world: tuple[Order, Amo, int], django_capture_on_commit_callbacks: Any
) -> None:
    order, amo, t0 = world
    outcomes: list[str] = []
    for step, status in enumerate(["reserved", "in_rent", "in_progress", "reserved"]):
        manager_sets(order, status, t0 + 10 * step + 10)
        hooks = sync_pushes(order, amo, t0 + 10 * step + 11)
        outcomes += deliver_all(hooks, amo, django_capture_on_commit_callbacks)
    assert outcomes == ["echo"] * 8  # each push comes back as two hooks, both echoes, and nothing more
    assert amo.reads == 0
    assert_agree(order, amo)


def test_a_lead_observation_read_before_our_push_is_read_again(
    world: tuple[Order, Amo, int], django_capture_on_commit_callbacks: Any
) -> None:
    order, amo, t0 = world
    old = LeadObservation(LEAD, PIPELINE, STAGE["in_progress"], t0 + 5, "api", fetched_at=t0 + 6)
    manager_sets(order, "reserved", t0 + 10)
    sync_pushes(order, amo, t0 + 11)
    with django_capture_on_commit_callbacks(execute=True):
        result = lead_observe(old, client_factory=lambda: amo)
    assert amo.reads == 1
    assert result.outcome == "echo"
    assert_agree(order, amo)
