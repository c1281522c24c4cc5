"""Claims and their heartbeat: a running sync keeps its claims alive, a claim whose heartbeat stopped is taken
over (by a new claim or by the every-minute schedule), a release never touches a claim taken over meanwhile,
and the retry schedule follows its settings."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from django_q.brokers import get_broker

from console.amocrm import leases
from console.amocrm.inbound import rules
from console.amocrm.models import AmoConnection, Lease, OrderSync, SyncLog
from console.amocrm.outbound import engine, outcomes, queueing, retries
from console.amocrm.outbound.job import Run
from console.amocrm.stagemap import StageMap
from console.orders.models import Order
from tests.fixtures.sync import committed, entities, state


def claim(order: Order) -> Any:
    queueing.order_sync_request(order_id=order.pk, trigger="storefront")
    (job,) = engine._claim([order.pk], "storefront")
    return job


def heartbeat_ago(order: Order, seconds: float) -> None:
    """The order's lease as its holder's last renewal ``seconds`` ago left it."""
    renewed = timezone.now() - timedelta(seconds=seconds)
    Lease.objects.filter(kind=leases.ORDER, key=order.pk).update(until=leases.lease_until(renewed))


def heartbeat_at(order: Order) -> Any:
    """When the holder of the order's lease last renewed it (None when nobody holds it)."""
    lease = Lease.objects.filter(kind=leases.ORDER, key=order.pk).first()
    return lease.until - timedelta(seconds=leases.lease_seconds()) if lease else None


def holder_of(order: Order) -> str | None:
    return Lease.objects.filter(kind=leases.ORDER, key=order.pk).values_list("holder", flat=True).first()


def connected() -> None:
    AmoConnection.objects.update_or_create(pk=1, defaults={"state": AmoConnection.State.CONNECTED})


def test_a_claim_whose_heartbeat_stopped_61_seconds_ago_is_taken_over_by_a_new_claim(
    order: Order, enqueued: list
) -> None:
    claim(order)
    heartbeat_ago(order, 61)

    (job,) = engine._claim([order.pk], "manager:anna")

    assert state(order).state == OrderSync.State.SYNCING
    assert timezone.now() - heartbeat_at(order) < timedelta(seconds=5)
    assert holder_of(order) == job.holder


def test_a_claim_refreshed_10_seconds_ago_is_not_taken_over(order: Order, enqueued: list) -> None:
    claim(order)
    heartbeat_ago(order, 10)
    connected()

    assert engine._claim([order.pk], "manager:anna") == []
    assert retries.sync_due_retries() == 0
    assert state(order).state == OrderSync.State.SYNCING


def test_the_schedule_takes_back_a_claim_whose_heartbeat_stopped_and_queues_it(
    order: Order, enqueued: list
) -> None:
    claim(order)
    heartbeat_ago(order, 61)
    connected()

    assert retries.sync_due_retries() == 1
    assert enqueued[-1] == ("order_sync_task", order.pk, "schedule")
    assert (state(order).state, state(order).task_pending) == (OrderSync.State.QUEUED, True)


def test_the_stale_threshold_is_a_setting(order: Order, enqueued: list, settings: Any) -> None:
    settings.AMOCRM_LEASE_SECONDS = 300
    claim(order)
    heartbeat_ago(order, 61)

    assert engine._claim([order.pk], "manager:anna") == []


def test_a_heartbeat_moves_the_runs_claims_forward_at_most_every_sixth_of_the_threshold(
    order: Order, enqueued: list
) -> None:
    job = claim(order)
    heartbeat_ago(order, 50)
    run = Run(AmoConnection.get_solo(), StageMap.load(), client=object(), jobs=[job])

    run.heartbeat()  # the run has just started: nothing to tell yet
    assert timezone.now() - heartbeat_at(order) > timedelta(seconds=49)

    run.beaten -= 11
    run.amo  # noqa: B018 -- each use of the client is a sign of life
    assert timezone.now() - heartbeat_at(order) < timedelta(seconds=5)
    assert holder_of(order) == job.holder == run.holder


def test_a_release_leaves_a_claim_taken_over_meanwhile_to_its_new_owner(order: Order, enqueued: list) -> None:
    slow = claim(order)
    heartbeat_ago(order, 61)
    taker = engine._claim([order.pk], "manager:anna")[0]
    run = Run(AmoConnection.get_solo(), StageMap.load(), jobs=[slow])

    taken_at = heartbeat_at(order)
    run.heartbeat(force=True)  # the slow worker wakes up: its claim is gone, the new owner's time stays
    assert (holder_of(order), heartbeat_at(order)) == (taker.holder, taken_at)
    slow.outcome, slow.action = SyncLog.Outcome.OK, "update"
    outcomes.job_release(slow)

    assert (state(order).state, holder_of(order), heartbeat_at(order)) == (
        OrderSync.State.SYNCING, taker.holder, taken_at)  # fmt: skip
    taker.outcome, taker.action = SyncLog.Outcome.OK, "update"
    outcomes.job_release(taker)
    assert (state(order).state, heartbeat_at(order)) == (OrderSync.State.SYNCED, None)


def test_a_webhook_sees_a_push_in_flight_only_while_its_heartbeat_is_fresh(
    order: Order, enqueued: list
) -> None:
    claim(order)
    heartbeat_ago(order, 10)
    assert rules._push_in_flight(state(order))

    heartbeat_ago(order, 61)
    assert not rules._push_in_flight(state(order))


def test_a_task_lost_with_its_cluster_is_queued_again_once_the_broker_is_empty(
    order: Order, enqueued: list
) -> None:
    connected()
    queueing.order_sync_request(order_id=order.pk, trigger="storefront")
    OrderSync.objects.filter(order=order).update(updated_at=timezone.now() - timedelta(seconds=61))
    broker = get_broker()
    broker.enqueue("a task still waiting ahead of it")

    assert retries.sync_due_retries() == 0  # others wait in the broker: it may just be behind them

    broker.purge_queue()
    assert retries.sync_due_retries() == 1
    assert enqueued[-1] == ("order_sync_task", order.pk, "schedule")


def test_the_retry_schedule_follows_the_setting(settings: Any) -> None:
    settings.AMOCRM_RETRY_DELAYS = [5, 7]

    assert 4 <= retries.next_retry_delay(1).total_seconds() <= 6
    assert all(5.6 <= retries.next_retry_delay(n).total_seconds() <= 8.4 for n in (2, 3, 9))


@pytest.mark.django_db
def test_a_failing_order_is_retried_after_the_configured_delay_and_fails_after_the_configured_attempts(
    amo: Any, make_order: Callable[..., Order], settings: Any
) -> None:
    settings.AMOCRM_RETRY_DELAYS = [5, 7]
    settings.AMOCRM_MAX_ATTEMPTS = 2
    settings.AMOCRM_UNCONFIRMED_SETTLE_SECONDS = 0  # the sandbox's 500 creates nothing
    amo.fault(kind="500", method="POST", path="/api/v4/leads", times=20)

    with committed():
        order = make_order()
    row = state(order)
    assert (row.state, row.attempts) == (OrderSync.State.QUEUED, 1)
    assert 3.5 <= (row.next_retry_at - timezone.now()).total_seconds() <= 6

    OrderSync.objects.filter(order=order).update(next_retry_at=timezone.now())
    with committed():
        retries.sync_due_retries()

    row = state(order)
    assert (row.state, row.attempts, row.next_retry_at) == (OrderSync.State.FAILED, 2, None)
    assert retries.max_attempts() == 2
    assert entities(amo, "leads") == []
