"""The tasks step: each deal carries the tasks its order needs, for the order's responsible manager.

A storefront order wants a "call the customer" task due ``AMOCRM_CALL_TASK_MINUTES`` working minutes after
it came in (working hours ``AMOCRM_WORKING_HOURS``, Monday to Friday, in ``TIME_ZONE``); an order delivered
to the customer wants a delivery/installation task on its installation date and a pickup task on its
dismantle date (at the start of the working day). :func:`desired_tasks` says so, purely; the step compares
it with ``OrderTask`` rows and sends one POST (new tasks) and one PATCH (moved, reassigned, closed) per
batch of deals. A cancelled order wants none: its open tasks are closed with a result.

A create whose answer is lost keeps its ``UnconfirmedCreate`` (kind ``task``, keyed by the order): the next
attempt, once it has settled, reads the deals' tasks and takes a task with the same text as created.

https://www.amocrm.ru/developers/content/crm_platform/tasks-api
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings

from console.amocrm.api.errors import UnknownOutcome
from console.amocrm.models import OrderTask
from console.amocrm.outbound.job import BATCH, Job, Run
from console.amocrm.outbound.unconfirmed import TASK, creates_forget, creates_sending
from console.amocrm.responsible import amo_user_id_for_order
from console.orders.models import Order

Kind = OrderTask.Kind
# What amoCRM's task says (the managers read it there); the order number is appended.
TEXTS = {
    Kind.CALL: "Позвонить клиенту по заказу",
    Kind.INSTALL: "Доставка и монтаж по заказу",
    Kind.PICKUP: "Вывоз мебели по заказу",
}
CLOSED_RESULT = "Заказ отменён"
TYPE_CALL, TYPE_MEETING = 1, 2  # amoCRM's built-in task types


@dataclass(frozen=True)
class WantedTask:
    """A task an order wants on its deal."""

    kind: str
    due: datetime
    responsible_amo_id: int | None
    text: str


def working_due(start: datetime, minutes: int, hours: tuple[int, int], tz: zoneinfo.ZoneInfo) -> datetime:
    """``start`` plus ``minutes`` counted only within working hours (``hours`` = start, end), Mon-Fri."""
    at = start.astimezone(tz)
    left = timedelta(minutes=minutes)
    while True:
        day_start = datetime.combine(at.date(), time(hours[0]), tz)
        day_end = datetime.combine(at.date(), time(hours[1]), tz)
        if at.weekday() >= 5 or at >= day_end:
            at = datetime.combine(at.date() + timedelta(days=1), time(hours[0]), tz)
            continue
        at = max(at, day_start)
        if at + left <= day_end:
            return at + left
        left -= day_end - at
        at = day_end


def day_start(day: date, hours: tuple[int, int], tz: zoneinfo.ZoneInfo) -> datetime:
    return datetime.combine(day, time(hours[0]), tz)


def desired_tasks(
    order: Order,
    *,
    responsible_amo_id: int | None,
    call_minutes: int,
    hours: tuple[int, int],
    tz: zoneinfo.ZoneInfo,
) -> list[WantedTask]:
    """The tasks ``order`` wants on its deal now (none when cancelled or deleted); pure, reads the order."""
    if order.status == Order.Status.CANCELLED or not order.is_active:
        return []
    number = order.number or str(order.pk)
    wanted: list[tuple[str, datetime]] = []
    if order.source == Order.Source.STOREFRONT:
        wanted.append((Kind.CALL, working_due(order.created_at, call_minutes, hours, tz)))
    if order.delivery_method in Order.DELIVERING_METHODS:
        wanted.append((Kind.INSTALL, day_start(order.installation_date, hours, tz)))
        wanted.append((Kind.PICKUP, day_start(order.dismantle_date, hours, tz)))
    return [WantedTask(kind, due, responsible_amo_id, f"{TEXTS[kind]} {number}") for kind, due in wanted]


def _wanted_of(order: Order) -> list[WantedTask]:
    hours = settings.AMOCRM_WORKING_HOURS
    return desired_tasks(
        order,
        responsible_amo_id=amo_user_id_for_order(order),
        call_minutes=settings.AMOCRM_CALL_TASK_MINUTES,
        hours=(hours[0], hours[1]),
        tz=zoneinfo.ZoneInfo(settings.TIME_ZONE),
    )


def tasks_plan(job: Job) -> list[tuple[OrderTask, WantedTask | None]]:
    """Write what ``job``'s order wants onto its ``OrderTask`` rows; returns each row with its wanted task
    (None: no longer wanted)."""
    rows = {row.kind: row for row in OrderTask.objects.filter(order=job.order)}
    plan: list[tuple[OrderTask, WantedTask | None]] = []
    for want in _wanted_of(job.order):
        row = rows.pop(want.kind, None) or OrderTask(order=job.order, kind=want.kind)
        if row.pk is None or (row.due, row.responsible_amo_id, row.wanted) != (
            want.due,
            want.responsible_amo_id,
            True,
        ):
            row.due, row.responsible_amo_id, row.wanted = want.due, want.responsible_amo_id, True
            row.save()
        plan.append((row, want))
    for row in rows.values():
        if row.wanted:
            row.wanted = False
            row.save(update_fields=["wanted", "updated_at"])
        plan.append((row, None))
    return plan


def _create_item(lead_id: int, want: WantedTask, n: int) -> dict[str, Any]:
    item: dict[str, Any] = {
        "text": want.text,
        "complete_till": int(want.due.timestamp()),
        "entity_type": "leads",
        "entity_id": int(lead_id),
        "task_type_id": TYPE_CALL if want.kind == Kind.CALL else TYPE_MEETING,
        "request_id": str(n),  # amoCRM does not accept 0
    }
    if want.responsible_amo_id:
        item["responsible_user_id"] = want.responsible_amo_id
    return item


def _change_item(row: OrderTask) -> dict[str, Any] | None:
    """The PATCH item ``row`` needs (moved, reassigned or closed), or None."""
    if row.amo_id is None or row.completed or row.pushed_closed:
        return None
    if not row.wanted:
        return {"id": row.amo_id, "is_completed": True, "result": {"text": CLOSED_RESULT}}
    item: dict[str, Any] = {"id": row.amo_id}
    if row.pushed_due != row.due:
        item["complete_till"] = int(row.due.timestamp())
    if row.responsible_amo_id and row.pushed_responsible_amo_id != row.responsible_amo_id:
        item["responsible_user_id"] = row.responsible_amo_id
    return item if len(item) > 1 else None


def _created(row: OrderTask, amo_id: int | None) -> None:
    if amo_id:
        row.amo_id = int(amo_id)
        row.pushed_due, row.pushed_responsible_amo_id = row.due, row.responsible_amo_id
        row.save(update_fields=["amo_id", "pushed_due", "pushed_responsible_amo_id", "updated_at"])


def _changed(row: OrderTask) -> None:
    row.pushed_due, row.pushed_responsible_amo_id = row.due, row.responsible_amo_id
    row.pushed_closed = not row.wanted
    row.completed = row.completed or not row.wanted
    row.save(
        update_fields=["pushed_due", "pushed_responsible_amo_id", "pushed_closed", "completed", "updated_at"]
    )


def _confirm_pending(run: Run, jobs: list[Job]) -> None:
    """Task creates sent without a confirmed answer: the tasks the deals have (same text) were created."""
    if not jobs:
        return
    found: dict[tuple[int, str], int] = {}
    for task in run.amo.list_tasks("leads", [int(j.sync.lead_id) for j in jobs]):
        found[(int(task.get("entity_id") or 0), str(task.get("text") or ""))] = int(task["id"])
    for job in jobs:
        job.unconfirmed.pop(TASK, None)
        for want in _wanted_of(job.order):
            row = OrderTask.objects.filter(order=job.order, kind=want.kind, amo_id__isnull=True).first()
            if row is not None:
                _created(row, found.get((int(job.sync.lead_id), want.text)))
    creates_forget(TASK, [job.order.pk for job in jobs])


def tasks_sync(run: Run, jobs: list[Job]) -> None:
    """Make each deal's tasks what its order wants: one POST of new tasks and one PATCH of changed ones per
    batch of deals."""
    _confirm_pending(run, [job for job in jobs if TASK in job.unconfirmed])
    for start in range(0, len(jobs), BATCH):
        chunk = jobs[start : start + BATCH]
        plans = [(job, row, want) for job in chunk for row, want in tasks_plan(job)]
        _send_creates(run, [(job, row, want) for job, row, want in plans if want and row.amo_id is None])
        changes = [(row, item) for _, row, _ in plans if (item := _change_item(row))]
        if changes:
            run.amo.update_tasks([item for _, item in changes])
            for row, _ in changes:
                _changed(row)


def _send_creates(run: Run, creates: list[tuple[Job, OrderTask, WantedTask]]) -> None:
    creates = [(job, row, want) for job, row, want in creates if not row.completed]
    if not creates:
        return
    items = [_create_item(job.sync.lead_id, want, n) for n, (job, _, want) in enumerate(creates, start=1)]
    keys = {job.order.pk for job, _, _ in creates}
    try:
        with creates_sending(TASK, keys):
            ids = run.amo.add_tasks(items)
    except UnknownOutcome as exc:
        for (_, row, _), amo_id in zip(creates, exc.created_ids, strict=False):
            _created(row, amo_id)
        raise
    for (_, row, _), amo_id in zip(creates, ids, strict=False):
        _created(row, amo_id)
    creates_forget(TASK, keys)
