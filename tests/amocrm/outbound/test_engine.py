"""The engine's bookkeeping: bursts collapse, claims exclude each other, retries follow the schedule, the log
is pruned, schedules are created once, and the receiver ignores amoCRM's own stage moves."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from console.amocrm import leases
from console.amocrm.models import AmoConnection, CustomerAmoLink, Lease, OrderSync, SyncLog, UnconfirmedCreate
from console.amocrm.outbound import controls, customers, engine, outcomes, queueing, retries
from console.amocrm.outbound.job import Run
from console.amocrm.outbound.unconfirmed import ELEMENT, creates_forget, creates_sending
from console.amocrm.stagemap import StageMap
from console.orders.models import Order
from console.orders.signals import order_changed


def row(order: Order) -> OrderSync:
    return OrderSync.objects.get(order=order)


def test_a_burst_of_changes_enqueues_one_task(order: Order, enqueued: list) -> None:
    for _ in range(3):
        queueing.order_sync_request(order_id=order.pk, trigger="manager:anna")

    assert enqueued == [("order_sync_task", order.pk)]
    assert (row(order).state, row(order).change_seq, row(order).task_pending) == ("queued", 3, True)


def test_two_workers_never_claim_the_same_order(order: Order, enqueued: list) -> None:
    queueing.order_sync_request(order_id=order.pk, trigger="storefront")

    first = engine._claim([order.pk], "storefront")
    second = engine._claim([order.pk], "storefront")

    assert len(first) == 1 and second == []
    assert row(order).state == OrderSync.State.SYNCING


def test_a_change_during_a_sync_queues_exactly_one_more_sync(order: Order, enqueued: list) -> None:
    queueing.order_sync_request(order_id=order.pk, trigger="storefront")
    (job,) = engine._claim([order.pk], "storefront")
    queueing.order_sync_request(order_id=order.pk, trigger="manager:anna")
    queueing.order_sync_request(order_id=order.pk, trigger="manager:anna")
    assert len(enqueued) == 1  # nothing new while syncing

    job.outcome, job.action = SyncLog.Outcome.OK, "update"
    outcomes.job_release(job)

    assert enqueued[-1] == ("order_sync_task", order.pk, "storefront")
    assert (row(order).state, row(order).task_pending) == ("queued", True)


def test_a_sync_that_saw_the_latest_change_just_ends_synced(order: Order, enqueued: list) -> None:
    queueing.order_sync_request(order_id=order.pk, trigger="storefront")
    (job,) = engine._claim([order.pk], "storefront")
    job.outcome, job.action = SyncLog.Outcome.OK, "update"
    outcomes.job_release(job)

    assert (row(order).state, row(order).task_pending, len(enqueued)) == ("synced", False, 1)
    assert SyncLog.objects.get(order=order).trigger == "storefront"


def test_skipped_and_unlinked_orders_ignore_changes(order: Order, enqueued: list) -> None:
    controls.order_skip(order_id=order.pk, trigger="manager:anna")
    assert not queueing.order_sync_request(order_id=order.pk, trigger="storefront")
    controls.order_unlink(order_id=order.pk, trigger="manager:anna")
    assert not queueing.order_sync_request(order_id=order.pk, trigger="storefront")
    assert enqueued == []


def test_an_order_marked_do_not_sync_starts_skipped(make_order: Callable[..., Order], enqueued: list) -> None:
    order = make_order(sync_disabled=True)
    assert queueing.order_sync_state(order=order).state == OrderSync.State.SKIPPED


def test_the_receiver_ignores_a_status_change_that_came_from_amocrm(order: Order, enqueued: list) -> None:
    def send(changed: str, origin: str) -> None:
        order_changed.send(Order, order_id=order.pk, action="updated", changed=frozenset({changed}),
                           origin=origin, actor=origin)  # fmt: skip

    send("status", "amocrm")
    assert enqueued == []
    send("items", "amocrm")
    send("status", "manager")
    assert enqueued == [("order_sync_task", order.pk)]
    assert row(order).pending_trigger == "manager:manager"


def test_the_receiver_ignores_a_cancellation_that_came_from_amocrm(order: Order, enqueued: list) -> None:
    order_changed.send(Order, order_id=order.pk, action="cancelled", changed=frozenset({"status"}),
                       origin="amocrm", actor="amocrm")  # fmt: skip
    assert enqueued == []
    order_changed.send(Order, order_id=order.pk, action="cancelled", changed=frozenset({"status"}),
                       origin="manager", actor="anna")  # fmt: skip
    assert enqueued == [("order_sync_task", order.pk)]


def test_turning_do_not_sync_on_and_off_skips_and_unskips(order: Order, enqueued: list) -> None:
    Order.objects.filter(pk=order.pk).update(sync_disabled=True)
    order_changed.send(Order, order_id=order.pk, action="updated", changed=frozenset({"sync_disabled"}),
                       origin="manager", actor="anna")  # fmt: skip
    assert row(order).state == OrderSync.State.SKIPPED
    Order.objects.filter(pk=order.pk).update(sync_disabled=False)
    order_changed.send(Order, order_id=order.pk, action="updated", changed=frozenset({"sync_disabled"}),
                       origin="manager", actor="anna")  # fmt: skip
    assert row(order).state == OrderSync.State.QUEUED and enqueued


def test_the_retry_schedule_backs_off_with_jitter() -> None:
    expected = [30, 120, 600, 3600, 6 * 3600]
    for attempt, base in enumerate(expected, start=1):
        delays = {retries.next_retry_delay(attempt).total_seconds() for _ in range(20)}
        assert all(base * 0.8 <= d <= base * 1.2 for d in delays)
        assert len(delays) > 1
    assert retries.next_retry_delay(99).total_seconds() <= 24 * 3600 * 1.2


@pytest.mark.django_db
def test_due_retries_are_enqueued_only_when_due_and_the_connection_is_healthy(
    order: Order, enqueued: list
) -> None:
    now = timezone.now()
    OrderSync.objects.filter(order=order).update(
        state="queued", task_pending=False, next_retry_at=now + timedelta(1)
    )
    AmoConnection.objects.update_or_create(pk=1, defaults={"state": AmoConnection.State.CONNECTED})
    assert retries.sync_due_retries() == 0

    OrderSync.objects.filter(order=order).update(next_retry_at=now - timedelta(seconds=1))
    AmoConnection.objects.filter(pk=1).update(state=AmoConnection.State.BLOCKED)
    assert retries.sync_due_retries() == 0

    AmoConnection.objects.filter(pk=1).update(state=AmoConnection.State.CONNECTED)
    assert retries.sync_due_retries() == 1
    assert enqueued == [("order_sync_task", order.pk, "schedule")]
    assert retries.sync_due_retries() == 0  # already pending


def test_prune_deletes_old_rows_but_keeps_unresolved_failures(order: Order) -> None:
    old = timezone.now() - timedelta(days=91)
    kept = SyncLog.objects.create(order=order, outcome="failed", started_at=old)
    SyncLog.objects.create(order=order, outcome="failed", started_at=old, resolved=True)
    SyncLog.objects.create(order=order, outcome="ok", started_at=old)
    recent = SyncLog.objects.create(order=order, outcome="ok")

    assert retries.prune_sync_log() == 2
    assert set(SyncLog.objects.values_list("pk", flat=True)) == {kept.pk, recent.pk}


@pytest.mark.django_db
def test_the_schedules_command_creates_each_schedule_once() -> None:
    from django_q.models import Schedule

    call_command("amocrm_schedules")
    call_command("amocrm_schedules")

    retry = Schedule.objects.get(name="AmoCRM sync retries")
    assert (retry.func, retry.schedule_type, retry.minutes) == (
        "console.amocrm.tasks.sync_due_retries", Schedule.MINUTES, 1)  # fmt: skip
    assert Schedule.objects.get(name="AmoCRM sync log prune").schedule_type == Schedule.DAILY
    assert Schedule.objects.filter(name__in=["AmoCRM sync retries", "AmoCRM sync log prune"]).count() == 2


def test_a_customer_lease_held_elsewhere_makes_the_order_wait_without_an_attempt(
    order: Order, enqueued: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    AmoConnection.objects.update_or_create(pk=1, defaults={"state": AmoConnection.State.CONNECTED})
    CustomerAmoLink.objects.create(customer=order.customer)
    Lease.objects.create(
        kind=leases.CONTACT,
        key=order.customer_id,
        holder="elsewhere",
        until=timezone.now() + timedelta(minutes=1),
    )
    queueing.order_sync_request(order_id=order.pk, trigger="storefront")
    jobs = engine._claim([order.pk], "storefront")
    for job in jobs:
        job.target = engine._target(Run(AmoConnection.get_solo(), StageMap.load()), job.order)
    # The client is never called: the lease check comes first.
    run = Run(AmoConnection.get_solo(), StageMap.load(), client=object())

    assert customers.customers_resolve(run, jobs) == []
    (job,) = jobs
    outcomes.job_release(job)
    assert (row(order).state, row(order).attempts) == ("queued", 0)
    assert row(order).next_retry_at is not None


@pytest.mark.parametrize("confirmed", [True, False])
def test_the_run_holding_a_customer_lease_sends_the_orders_that_waited_for_it_again(
    order: Order, make_order: Callable[..., Order], enqueued: list, confirmed: bool
) -> None:
    """No polling: the order that found the lease taken pauses, and the holder sends it again when it is done
    (unless the holder's contact create is unconfirmed: then the order waits for it to settle)."""
    AmoConnection.objects.update_or_create(pk=1, defaults={"state": AmoConnection.State.CONNECTED})
    second = make_order(customer=order.customer)
    link = CustomerAmoLink.objects.create(customer=order.customer)
    holder = Run(AmoConnection.get_solo(), StageMap.load())
    customers._lease_take(holder, leases.CONTACT, link.customer_id, link, known="contact_id")
    queueing.order_sync_request(order_id=second.pk, trigger="storefront")
    jobs = engine._claim([second.pk], "storefront")
    run = Run(AmoConnection.get_solo(), StageMap.load(), client=object())
    for job in jobs:
        job.target = engine._target(run, job.order)
    assert customers.customers_resolve(run, jobs) == []
    outcomes.job_release(jobs[0])
    assert (row(second).state, row(second).last_error_kind, row(second).task_pending) == (
        "queued", "customer_busy", False)  # fmt: skip
    if not confirmed:
        UnconfirmedCreate.objects.create(kind="contact", key=link.customer_id, sent_at=timezone.now())
    enqueued.clear()

    woken = customers.customer_leases_release(holder)

    assert woken == (1 if confirmed else 0)
    assert enqueued == ([("order_sync_task", second.pk)] if confirmed else [])
    assert row(second).task_pending is confirmed


@pytest.mark.parametrize("sender_alive", [True, False])
def test_an_order_waits_for_a_catalog_element_create_only_once_its_sender_is_gone(
    order: Order, enqueued: list, sender_alive: bool
) -> None:
    """Another run sending the element right now is in flight (the order goes on, as two runs always could);
    a run that ended with the element unconfirmed lost its answer: the order waits for it to settle."""
    product_id = order.items.first().product_id
    UnconfirmedCreate.objects.create(
        kind="element", key=product_id, sent_at=timezone.now(), data={"holder": "h"}
    )
    if sender_alive:
        leases.leases_take(kind=leases.ORDER, keys=[10**9], holder="h")
    queueing.order_sync_request(order_id=order.pk, trigger="storefront")
    jobs = engine._claim([order.pk], "storefront")

    settling = engine._settling(jobs)

    assert (order.pk in settling) is not sender_alive


def test_two_runs_sending_one_catalog_element_keep_the_later_mark(order: Order) -> None:
    """Two orders of one product synced at once both mark its element create (no duplicate-key crash: the
    later mark takes the key over), and the first run to finish forgets only its own mark, so the other's
    create stays marked until that run confirms it."""
    product_id = order.items.first().product_id
    with (
        creates_sending(ELEMENT, [product_id], holder="first"),
        creates_sending(ELEMENT, [product_id], holder="second"),
    ):
        pass
    creates_forget(ELEMENT, [product_id], holder="first")

    marks = UnconfirmedCreate.objects.filter(kind=ELEMENT, key=product_id)
    assert list(marks.values_list("data", flat=True)) == [{"holder": "second"}]
    creates_forget(ELEMENT, [product_id], holder="second")
    assert not UnconfirmedCreate.objects.filter(kind=ELEMENT).exists()
