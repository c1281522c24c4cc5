"""The inbox's processing as tasks: replay, one task per burst and its successors, rows left pending,
one worker per row, and retention."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from console.amocrm.inbound import inbox, rules
from console.amocrm.inbound.inbox import inbox_process, inbox_replay
from console.amocrm.leases import WEBHOOKS, lease_live
from console.amocrm.models import Lease, WebhookInbox
from console.amocrm.reasons import Code, reason
from console.orders.models import Order, OrderStatusChange
from tests.amocrm.inbound.hookbodies import T0, hook_body, last_row, lead_item

pytestmark = pytest.mark.django_db


# --- replay ---------------------------------------------------------------------------------------


def test_replaying_an_applied_row_is_an_echo(post: Callable[..., Any], link: Callable[..., Order]) -> None:
    order = link(5001)
    post(hook_body({"leads": {"status": [lead_item(5001, "reserved", T0)]}}))
    row = inbox_replay(inbox_id=last_row().pk)
    assert (row.outcome, row.attempts) == ("echo", 2)
    assert OrderStatusChange.objects.filter(order=order, origin="amocrm").count() == 1


def test_a_failed_row_can_be_replayed_once_the_cause_is_fixed(
    post: Callable[..., Any], link: Callable[..., Order], monkeypatch: pytest.MonkeyPatch
) -> None:
    order = link(5001)

    def broken(**kwargs: Any) -> None:
        raise RuntimeError("orders service unavailable")

    with monkeypatch.context() as patch:
        patch.setattr(rules, "order_set_status", broken)
        post(hook_body({"leads": {"status": [lead_item(5001, "reserved", T0)]}}))
    assert (last_row().outcome, last_row().reasons) == (
        "failed",
        [reason(Code.FAILED, error="RuntimeError: orders service unavailable")],
    )
    assert inbox_replay(inbox_id=last_row().pk).outcome == "applied"
    order.refresh_from_db()
    assert order.status == "reserved"


def test_a_task_delivered_twice_processes_the_row_once(
    post: Callable[..., Any], link: Callable[..., Order]
) -> None:
    link(5001)
    post(hook_body({"leads": {"status": [lead_item(5001, "reserved", T0)]}}))
    row = inbox_process(inbox_id=last_row().pk)
    assert (row.outcome, row.attempts) == ("applied", 1)


def test_rows_left_pending_are_requeued_and_processed(
    post: Callable[..., Any], link: Callable[..., Order]
) -> None:
    order = link(5001)
    post(hook_body({"leads": {"status": [lead_item(5001, "reserved", T0)]}}), process=False)
    assert inbox.inbox_requeue_pending() == 0  # too recent: its task may still be on its way
    long_ago = timezone.now() - dt.timedelta(minutes=10)
    WebhookInbox.objects.update(received_at=long_ago)
    Lease.objects.filter(kind=WEBHOOKS).update(until=long_ago)  # its task was lost
    assert inbox.inbox_requeue_pending() == 1  # the test cluster runs it inline
    assert last_row().outcome == "applied"
    order.refresh_from_db()
    assert order.status == "reserved"


def test_rows_whose_processing_task_died_are_taken_back_by_the_every_minute_job(
    post: Callable[..., Any], link: Callable[..., Order]
) -> None:
    from console.amocrm import tasks

    order = link(5001)
    post(hook_body({"leads": {"status": [lead_item(5001, "reserved", T0)]}}), process=False)
    # A processing task took the lease and was killed: the lease stays, no longer renewed.
    minute_ago = timezone.now() - dt.timedelta(seconds=61)
    hold_processing_lease(until=minute_ago)
    WebhookInbox.objects.update(received_at=minute_ago)
    tasks.sync_due_retries()  # the test cluster runs the requeued task inline
    assert last_row().outcome == "applied"
    order.refresh_from_db()
    assert order.status == "reserved"


def test_rows_are_not_requeued_while_their_processing_task_shows_life(
    post: Callable[..., Any], link: Callable[..., Order]
) -> None:
    link(5001)
    post(hook_body({"leads": {"status": [lead_item(5001, "reserved", T0)]}}), process=False)
    hold_processing_lease(until=timezone.now() + dt.timedelta(seconds=30))
    WebhookInbox.objects.update(received_at=timezone.now() - dt.timedelta(minutes=10))
    assert inbox.inbox_requeue_pending() == 1  # waiting, but a live task is on it
    assert last_row().outcome == "pending"


def hold_processing_lease(*, until: dt.datetime) -> None:
    """As a processing task does: the lease of the one processing slot, held until ``until``."""
    Lease.objects.update_or_create(
        kind=WEBHOOKS, key=inbox.PROCESSING_SLOT, defaults={"holder": "a-task", "until": until}
    )


@pytest.fixture
def orm_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tasks go to the ORM broker's queue instead of running inline (as the test cluster does)."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", False)
    monkeypatch.setattr(Conf, "ORM", "default")


def queued_tasks() -> list[dict[str, Any]]:
    from django_q.models import OrmQ
    from django_q.signing import SignedPackage

    return [SignedPackage.loads(row.payload) for row in OrmQ.objects.order_by("id")]


def test_one_processing_task_is_queued_per_burst_when_the_row_commits(
    post: Callable[..., Any], link: Callable[..., Order], orm_broker: None
) -> None:
    order = link(5001)
    post(hook_body({"leads": {"status": [lead_item(5001, "reserved", T0)]}}), process=False)
    assert queued_tasks() == []  # stored; only its commit (not run here) queues the task
    Lease.objects.filter(kind=WEBHOOKS).delete()  # as if that commit never came

    post(hook_body({"leads": {"status": [lead_item(5001, "in_rent", T0 + 1)]}}))
    post(hook_body({"leads": {"status": [lead_item(5001, "in_progress", T0 + 2)]}}))
    (task,) = queued_tasks()  # the first commit queued it; the later delivery rides along
    assert (task["func"], task["args"], task["save"]) == (inbox.PROCESS_TASK, (), False)
    assert set(WebhookInbox.objects.values_list("outcome", flat=True)) == {"pending"}

    assert inbox.inbox_process_pending(**task["kwargs"]) == 3  # the task: every pending row, oldest first
    order.refresh_from_db()
    assert order.status == "in_progress"
    assert not lease_live(kind=WEBHOOKS, key=inbox.PROCESSING_SLOT)
    post(hook_body({"leads": {"status": [lead_item(5001, "reserved", T0 + 3)]}}))
    assert len(queued_tasks()) == 2  # the next burst queues a new task


def test_a_long_backlog_is_handed_over_to_a_successor_task(
    post: Callable[..., Any], link: Callable[..., Order], orm_broker: None
) -> None:
    link(5001)
    for offset in range(5):
        post(hook_body({"leads": {"status": [lead_item(5001, "reserved", T0 + offset)]}}))
    (task,) = queued_tasks()
    assert inbox.inbox_process_pending(limit=3, **task["kwargs"]) == 3
    assert len(queued_tasks()) == 2  # the burst's task and the successor
    assert WebhookInbox.objects.filter(outcome="pending").count() == 2
    assert lease_live(kind=WEBHOOKS, key=inbox.PROCESSING_SLOT)  # still held: the successor has it
    assert inbox.inbox_process_pending(limit=3, **queued_tasks()[1]["kwargs"]) == 2
    assert not WebhookInbox.objects.filter(outcome="pending").exists()
    assert not lease_live(kind=WEBHOOKS, key=inbox.PROCESSING_SLOT)  # given back with the last row


def test_a_processing_task_lost_with_its_worker_is_replaced_by_the_next_delivery(
    post: Callable[..., Any], link: Callable[..., Order]
) -> None:
    order = link(5001)
    hold_processing_lease(until=timezone.now() - dt.timedelta(seconds=1))  # no longer renewed
    post(hook_body({"leads": {"status": [lead_item(5001, "reserved", T0)]}}))
    order.refresh_from_db()
    assert order.status == "reserved"


def test_a_row_is_processed_once_even_when_two_tasks_reach_it(
    post: Callable[..., Any], link: Callable[..., Order]
) -> None:
    link(5001)
    post(hook_body({"leads": {"status": [lead_item(5001, "reserved", T0)]}}), process=False)
    row = last_row()
    stale_copy = WebhookInbox.objects.get(pk=row.pk)
    inbox_process(inbox_id=row.pk)
    WebhookInbox.objects.filter(pk=row.pk).update(outcome="pending")  # as another worker saw it before
    assert inbox._claim(stale_copy, replay=False) is False  # its attempt count moved on
    assert WebhookInbox.objects.get(pk=row.pk).attempts == 1


# --- retention ------------------------------------------------------------------------------------


def test_the_prune_deletes_old_deliveries_but_keeps_failed_pending_and_recent_ones(
    post: Callable[..., Any], link: Callable[..., Order]
) -> None:
    link(5001)
    for offset in range(5):
        post(hook_body({"leads": {"status": [lead_item(5001, "reserved", T0 + offset)]}}))
    post(b"&&&[broken")  # invalid
    rows = list(WebhookInbox.objects.order_by("id"))
    old = timezone.now() - dt.timedelta(days=91)
    WebhookInbox.objects.filter(pk__in=[r.pk for r in rows[:5]]).update(received_at=old)
    WebhookInbox.objects.filter(pk=rows[0].pk).update(outcome=WebhookInbox.Outcome.FAILED)
    WebhookInbox.objects.filter(pk=rows[1].pk).update(outcome=WebhookInbox.Outcome.PENDING)
    WebhookInbox.objects.filter(pk=rows[3].pk).update(duplicate_of=rows[2])  # pruned with its original

    assert inbox.inbox_prune(batch=2) == 3  # rows 2, 3, 4: old and done with, two batches
    kept = set(WebhookInbox.objects.values_list("id", flat=True))
    assert kept == {rows[0].pk, rows[1].pk, rows[5].pk}
    assert inbox.inbox_prune() == 0


def test_the_prune_is_scheduled_daily(db: None) -> None:  # noqa: ARG001
    from django_q.models import Schedule

    schedule = Schedule.objects.get(name="AmoCRM webhook inbox prune")
    assert (schedule.func, schedule.schedule_type, schedule.repeats) == (
        "console.amocrm.tasks.webhook_inbox_prune_task",
        Schedule.DAILY,
        -1,
    )
