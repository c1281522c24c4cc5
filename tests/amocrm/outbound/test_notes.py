"""The deal's feed against the sandbox: one creation note per deal whatever the faults, and one short note per
change of lines, total, dates, delivery or comment; the comment itself is a lead field kept current."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from console.amocrm.models import AmoConnection, OrderSync
from console.amocrm.outbound import controls, retries
from console.amocrm.outbound.job import sync_save
from console.orders.models import Order
from console.orders.services import order_update
from tests.fixtures.sync import committed, lead_of, notes_of, retries_due, sent_at, state


def cf(lead: dict[str, Any], field_id: int) -> Any:
    for field in lead.get("custom_fields_values") or []:
        if field["field_id"] == field_id:
            return field["values"][0]["value"]
    return None


def settle() -> None:
    """Run the due retries until no order waits (sync-mode cluster: the syncs run inline)."""
    for _ in range(20):
        waiting = OrderSync.objects.filter(state=OrderSync.State.QUEUED)
        if not waiting.exists():
            return
        retries_due()
        with committed():
            retries.sync_due_retries()
    raise AssertionError("orders still waiting after 20 rounds of retries")


@pytest.mark.django_db
def test_dropped_note_creates_leave_exactly_one_creation_note_on_every_deal(
    amo: Any, make_order: Callable[..., Order], make_customer: Callable[..., Any], products: list
) -> None:
    customers = [make_customer() for _ in range(20)]
    orders = [make_order(customer=customers[n % 20], items=[(products[n % 3], 1)]) for n in range(200)]
    # amoCRM stores the notes but the answers are lost, for two of the four batches and a retry too.
    amo.fault(kind="drop_after", method="POST", path="/api/v4/leads/notes", times=3)
    with committed():
        controls.orders_push_bulk(order_ids=[o.pk for o in orders], trigger="bulk:test")
    settle()

    amo.configure(rate_limit=0)  # the checks below read 200 deals' notes as fast as they can
    for order in orders:
        sync = state(order)
        assert (sync.state, sync.note_added, sent_at("note", order.pk)) == ("synced", True, None)
        notes = [text for text in notes_of(amo, sync.lead_id) if text.startswith("Заказ ")]
        assert len(notes) == 1, (order.pk, notes)


@pytest.mark.django_db
def test_a_comment_change_reaches_the_lead_field_and_adds_one_short_note(
    amo: Any, make_order: Callable[..., Order]
) -> None:
    with committed():
        order = make_order(comment="Позвонить за час")
    field_id = AmoConnection.get_solo().lead_field_ids["comment"]
    assert cf(lead_of(amo, order), field_id) == "Позвонить за час"

    with committed():
        order_update(order=order, data={"comment": "Позвонить за два часа"}, origin="manager", actor="m")

    assert state(order).state == "synced"
    assert cf(lead_of(amo, order), field_id) == "Позвонить за два часа"
    notes = notes_of(amo, state(order).lead_id)
    assert len(notes) == 2
    assert notes[1].splitlines() == [
        f"Заказ {order.number} изменён:",
        "Комментарий: «Позвонить за час» → «Позвонить за два часа»",
    ]
    with committed():  # saving the same order again changes nothing and adds no note
        order_update(order=order, data={"comment": "Позвонить за два часа"}, origin="manager", actor="m")
    assert len(notes_of(amo, state(order).lead_id)) == 2


@pytest.mark.django_db
def test_a_change_of_lines_and_dates_is_told_in_one_note(
    amo: Any, make_order: Callable[..., Order], products: list
) -> None:
    with committed():
        order = make_order(items=[(products[0], 2)])
    start = order.installation_date + timedelta(days=1)
    with committed():
        order_update(
            order=order,
            data={
                "items": [{"product": products[0], "quantity": 5}, {"product": products[1], "quantity": 1}],
                "installation_date": start,
            },
            origin="manager",
            actor="m",
        )
    order.refresh_from_db()
    note = notes_of(amo, state(order).lead_id)[-1]
    assert note.startswith(f"Заказ {order.number} изменён:")
    assert f"{products[0].name} ({products[0].sku}): 2 шт." in note and "→ 5 шт." in note
    assert f"+ {products[1].name} ({products[1].sku}) — 1 шт." in note
    assert "Итого:" in note and "Монтаж:" in note
    assert len(notes_of(amo, state(order).lead_id)) == 2


@pytest.mark.django_db
def test_a_cancellation_and_a_soft_deletion_each_add_one_short_note_a_status_move_tells_amocrm_s_feed(
    amo: Any, make_order: Callable[..., Order]
) -> None:
    from console.orders.services import order_cancel, order_set_status, order_soft_delete

    with committed():
        order = make_order()
    with committed():  # a status move alone: amoCRM's feed shows the stage change, no note (one request)
        order_set_status(order=order, status=Order.Status.RESERVED, origin="manager", actor="m")
    assert len(notes_of(amo, state(order).lead_id)) == 1
    with committed():  # with another change, the note tells the status too
        order_update(
            order=Order.objects.get(pk=order.pk),
            data={"status": Order.Status.IN_RENT, "comment": "Ключи у охраны"},
            origin="manager",
            actor="m",
        )
    with committed():
        order_cancel(order=Order.objects.get(pk=order.pk), origin="manager", actor="m")
    with committed():
        order_soft_delete(order=Order.objects.get(pk=order.pk), origin="manager", actor="m")

    notes = notes_of(amo, state(order).lead_id)
    assert notes[1] == (
        f"Заказ {order.number} изменён:\nСтатус: Забронирован → В аренде\n"
        f"Комментарий: «{order.comment or '—'}» → «Ключи у охраны»"
    )
    assert notes[2:] == [
        f"Заказ {order.number} изменён:\nСтатус: В аренде → Отменён",
        f"Заказ {order.number} изменён:\nЗаказ удалён в консоли.",
    ]


@pytest.mark.django_db
def test_a_deal_noted_before_the_status_was_told_gets_no_note_for_it(
    amo: Any, make_order: Callable[..., Order]
) -> None:
    with committed():
        order = make_order()
    sync = state(order)
    older = {k: v for k, v in sync.pushed_summary.items() if k not in ("status", "active")}
    sync.pushed_summary, sync.payload_hash = older, ""
    sync_save(sync, "pushed_summary", "payload_hash")
    with committed():
        controls.order_push(order_id=order.pk, trigger="manager:m")
    assert len(notes_of(amo, state(order).lead_id)) == 1
    assert "status" in state(order).pushed_summary
