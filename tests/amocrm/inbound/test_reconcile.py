"""Reconciliation: leads changed in amoCRM since the watermark are applied by the webhook rules."""

from __future__ import annotations

import datetime as dt
import io
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_q.models import Schedule

from console.amocrm.inbound.reconcile import (
    leads_reconcile,
    watermark_get,
    watermark_set,
)
from console.amocrm.inbound.rules import trust_horizon
from console.amocrm.models import OrderSync, StageMapping, SyncLog
from console.amocrm.schedules import schedules_ensure
from console.orders.models import Order, OrderStatusChange

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead_of(
    amo_setup: Any, sandbox: Any, make_order: Callable[..., Order]
) -> Callable[..., tuple[Order, int]]:
    """``lead_of(status)``: a lead a manager created in the sandbox, linked to a new order at that status,
    pushed an hour ago (no webhook is subscribed: only the reconciliation can see amoCRM's moves)."""

    def build(status: str = "new") -> tuple[Order, int]:
        stage = StageMapping.objects.get(order_status=status)
        lead = sandbox.control(
            "POST",
            "leads",
            {"name": "Сделка", "pipeline_id": stage.pipeline_id, "status_id": stage.status_id},
        )
        order = make_order()
        hour_ago = timezone.now() - dt.timedelta(hours=1)
        OrderStatusChange.objects.filter(order=order).update(created_at=hour_ago)
        OrderSync.objects.create(
            order=order,
            lead_id=lead["id"],
            state="synced",
            pushed_pipeline_id=stage.pipeline_id,
            pushed_status_id=stage.status_id,
            last_synced_at=hour_ago,
        )
        return order, lead["id"]

    return build


def test_it_applies_a_move_nobody_told_us_about_and_logs_the_run(
    lead_of: Callable[..., tuple[Order, int]], sandbox: Any
) -> None:
    order, lead_id = lead_of()
    untouched, other_lead = lead_of()
    target = StageMapping.objects.get(order_status="in_rent")
    sandbox.move_lead(lead_id, target.status_id, target.pipeline_id)
    sandbox.control("POST", "requests/clear")

    report = leads_reconcile(trigger="schedule")

    order.refresh_from_db()
    assert order.status == "in_rent"
    assert order.status_changes.first().origin == "amocrm"
    assert report.counts == {"applied": 1, "echo": 1}
    assert sandbox.requests()["counts"] == {"GET /api/v4/leads": 1}  # one page, no write
    run = SyncLog.objects.get(order=None, event="reconcile")
    assert (run.trigger, run.outcome, run.http_calls) == ("schedule", "ok", 1)
    assert "1 applied" in run.error_detail
    assert SyncLog.objects.filter(order=order, trigger="reconcile", action="amocrm_status").count() == 1
    assert Order.objects.get(pk=untouched.pk).status == "new"


def test_a_second_run_finds_nothing_new_to_apply(
    lead_of: Callable[..., tuple[Order, int]], sandbox: Any
) -> None:
    order, lead_id = lead_of()
    target = StageMapping.objects.get(order_status="reserved")
    sandbox.move_lead(lead_id, target.status_id, target.pipeline_id)
    first = leads_reconcile(trigger="schedule")
    second = leads_reconcile(trigger="schedule")
    assert first.counts.get("applied") == 1
    assert second.counts.get("applied") is None
    assert second.since == first.watermark - 60
    assert OrderStatusChange.objects.filter(order=order, origin="amocrm").count() == 1


def test_an_unmapped_stage_is_left_alone(lead_of: Callable[..., tuple[Order, int]], sandbox: Any) -> None:
    order, lead_id = lead_of()
    StageMapping.objects.filter(order_status="in_rent").update(is_active=False)
    target = StageMapping.objects.get(order_status="in_rent")
    sandbox.move_lead(lead_id, target.status_id, target.pipeline_id)
    report = leads_reconcile(trigger="schedule")
    assert report.counts == {"ignored": 1}
    assert Order.objects.get(pk=order.pk).status == "new"
    assert SyncLog.objects.get(order=None, event="reconcile").outcome == "noop"


def test_an_amocrm_failure_ends_the_run_as_a_failed_log_row(
    lead_of: Callable[..., tuple[Order, int]], sandbox: Any
) -> None:
    lead_of()
    watermark_set(value=1_000)
    sandbox.fault(kind="500", times=10, path="/api/v4/leads", method="GET")
    report = leads_reconcile(trigger="schedule")
    assert report.error
    run = SyncLog.objects.get(order=None, event="reconcile")
    assert run.outcome == "failed"
    assert run.error_status == 500
    assert run.error_title
    assert run.error_kind == "server"
    assert watermark_get() == 1_000


def test_the_watermark_never_moves_backwards(db: None) -> None:  # noqa: ARG001
    assert watermark_get() is None
    watermark_set(value=200)
    watermark_set(value=100)
    assert watermark_get() == 200


def test_the_schedule_is_created_once_with_the_configured_interval(db: None, settings: Any) -> None:  # noqa: ARG001
    settings.AMOCRM_RECONCILE_MINUTES = 7
    out = io.StringIO()
    call_command("amocrm_reconcile", "--schedule", stdout=out)
    call_command("amocrm_reconcile", "--schedule", stdout=out)
    schedules_ensure()
    schedule = Schedule.objects.get(name="AmoCRM reconciliation")
    assert (schedule.func, schedule.schedule_type, schedule.minutes, schedule.repeats) == (
        "console.amocrm.tasks.reconcile_task",
        Schedule.MINUTES,
        7,
        -1,
    )
    assert "every 7 min" in out.getvalue()


def test_the_command_runs_a_reconciliation_now(
    lead_of: Callable[..., tuple[Order, int]], sandbox: Any
) -> None:
    order, lead_id = lead_of()
    target = StageMapping.objects.get(order_status="in_progress")
    sandbox.move_lead(lead_id, target.status_id, target.pipeline_id)
    out = io.StringIO()
    call_command("amocrm_reconcile", stdout=out)
    assert "1 applied" in out.getvalue()
    assert Order.objects.get(pk=order.pk).status == "in_progress"
    assert SyncLog.objects.get(order=None, event="reconcile").trigger == "manager:command"


def damage_as_a_forged_delivery_did(order: Order, *, to: str = "cancelled") -> None:
    """What a forged delivery with a far-future ``last_modified`` left behind before times were checked: the
    forged stage applied and recorded, and ``last_amo_modified`` a year ahead (every real change stale)."""
    stage = StageMapping.objects.get(order_status=to)
    Order.objects.filter(pk=order.pk).update(status=to)
    OrderSync.objects.filter(order=order).update(
        pushed_pipeline_id=stage.pipeline_id,
        pushed_status_id=stage.status_id,
        last_amo_modified=int(time.time()) + 365 * 24 * 3600,
    )


def test_a_move_behind_a_stored_future_time_is_applied(
    lead_of: Callable[..., tuple[Order, int]], sandbox: Any
) -> None:
    order, lead_id = lead_of()
    damage_as_a_forged_delivery_did(order)
    target = StageMapping.objects.get(order_status="in_rent")
    sandbox.move_lead(lead_id, target.status_id, target.pipeline_id)

    report = leads_reconcile(trigger="schedule")

    assert report.counts.get("applied") == 1, report.summary()
    assert Order.objects.get(pk=order.pk).status == "in_rent"
    stored = OrderSync.objects.get(order=order).last_amo_modified
    assert stored is not None and stored <= trust_horizon()


def test_a_status_behind_a_stored_future_time_is_repaired_though_the_deal_did_not_move(
    lead_of: Callable[..., tuple[Order, int]], sandbox: Any
) -> None:
    order, lead_id = lead_of("reserved")
    damage_as_a_forged_delivery_did(order)
    watermark_set(value=int(time.time()) + 3600)  # the lead changed before the watermark: not listed
    sandbox.control("POST", "requests/clear")

    report = leads_reconcile(trigger="schedule")

    assert report.counts == {"applied": 1}, report.summary()
    assert Order.objects.get(pk=order.pk).status == "reserved"  # the deal's real stage, read by id
    assert sandbox.requests()["counts"] == {"GET /api/v4/leads": 1, f"GET /api/v4/leads/{lead_id}": 1}
    assert OrderSync.objects.get(order=order).last_amo_modified <= trust_horizon()
    sandbox.control("POST", "requests/clear")
    assert leads_reconcile(trigger="schedule").counts == {}
    assert sandbox.requests()["counts"] == {"GET /api/v4/leads": 1}  # repaired once, not read again


def test_a_lead_gone_from_amocrm_only_loses_its_future_time(
    lead_of: Callable[..., tuple[Order, int]], sandbox: Any
) -> None:
    order, lead_id = lead_of()
    damage_as_a_forged_delivery_did(order)
    OrderSync.objects.filter(order=order).update(lead_id=lead_id + 10_000)  # a lead amoCRM does not have
    leads_reconcile(trigger="schedule")
    assert OrderSync.objects.get(order=order).last_amo_modified is None
    assert Order.objects.get(pk=order.pk).status == "cancelled"
