"""Loss reasons against the sandbox: the account's list is read into ``LossReason``; a manager's reason
rides on the lost stage's PATCH; a deal closed lost in amoCRM with a reason brings it to the order (one read
of the deal); a reason gone from amoCRM is no longer sent and the order keeps its name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from console.amocrm.account.loss_reasons import loss_reasons_refresh
from console.amocrm.inbound.events import item_process
from console.amocrm.inbound.items import WebhookItem
from console.amocrm.inbound.reconcile import leads_reconcile
from console.amocrm.loss import lead_loss_reason, loss_reason_to_send, order_loss_reason_set
from console.amocrm.models import LossReason, OrderLossReason, StageMapping
from console.amocrm.outbound import payloads
from console.amocrm.stagemap import Stage
from console.orders.models import Order
from console.orders.services import order_cancel
from tests.fixtures.sync import calls, committed, lead_of, state

pytestmark = pytest.mark.django_db


def test_the_refresh_reads_the_accounts_reasons_in_their_order(amo: Any) -> None:
    assert loss_reasons_refresh() == 4
    names = list(LossReason.objects.values_list("name", flat=True))
    assert names[0] == "Дорого" and len(names) == 4
    assert calls(amo) == {"GET /api/v4/leads/loss_reasons": 1}


def test_a_reason_gone_from_amocrm_is_dropped_and_the_order_keeps_its_name(
    amo: Any, make_order: Callable[..., Order]
) -> None:
    order = make_order()
    gone = LossReason.objects.create(id=1, name="Устаревшая причина")
    order_loss_reason_set(order=order, reason=gone, origin="manager", actor="anna")
    loss_reasons_refresh()
    assert not LossReason.objects.filter(pk=1).exists()
    kept = OrderLossReason.objects.get(order=order)
    assert (kept.reason_id, kept.name) == (None, "Устаревшая причина")
    assert loss_reason_to_send(Order.objects.select_related("amo_loss_reason").get(pk=order.pk)) is None


def test_a_reason_is_sent_only_with_the_lost_stage() -> None:
    lost, other = Stage(7000, 143), Stage(7000, 12)
    assert payloads.lead_update_payload(5, stage=lost, loss_reason_id=9)["loss_reason_id"] == 9
    assert "loss_reason_id" not in payloads.lead_update_payload(5, stage=other, loss_reason_id=9)
    assert "loss_reason_id" not in payloads.lead_update_payload(5, stage=lost)


def test_cancelling_with_a_reason_closes_the_deal_lost_with_it_in_the_same_patch(
    amo: Any, make_order: Callable[..., Order]
) -> None:
    loss_reasons_refresh()
    expensive = LossReason.objects.get(name="Дорого")
    with committed():
        order = make_order()
    amo.control("POST", "requests/clear")
    with committed():
        order_cancel(order=order, origin="manager", actor="anna")
        order_loss_reason_set(order=order, reason=expensive, origin="manager", actor="anna")
    lead = lead_of(amo, order)
    assert (lead["status_id"], lead["loss_reason_id"]) == (143, expensive.pk)
    patches = {k: n for k, n in calls(amo).items() if k.startswith("PATCH /api/v4/leads")}
    assert sum(patches.values()) == 1, patches


def _closed_lost(amo: Any, make_order: Callable[..., Order], reason: str | None) -> tuple[Order, int, Any]:
    """A synced order whose deal a manager then closed lost in the sandbox (with the reason named, if any):
    the order, its deal's id and the cancelled stage's mapping."""
    with committed():
        order = make_order()
    lead_id = state(order).lead_id
    lost = StageMapping.objects.get(order_status="cancelled")
    move: dict[str, Any] = {"status_id": lost.status_id}
    if reason is not None:
        move["loss_reason_id"] = LossReason.objects.get(name=reason).pk
    amo.control("POST", f"leads/{lead_id}/move", move)
    return order, lead_id, lost


def test_a_deal_closed_lost_in_amocrm_brings_its_reason_to_the_order(
    amo: Any, make_order: Callable[..., Order]
) -> None:
    loss_reasons_refresh()
    order, lead_id, lost = _closed_lost(amo, make_order, "Мероприятие отменено")
    hook = WebhookItem("leads", "status", lead_id, status_id=lost.status_id, pipeline_id=lost.pipeline_id)
    result = item_process(hook)
    order.refresh_from_db()
    assert order.status == "cancelled"
    assert OrderLossReason.objects.get(order=order).name == "Мероприятие отменено"
    assert OrderLossReason.objects.get(order=order).origin == "amocrm"
    assert any(r["code"] == "loss_reason_set" for r in result.reasons)


@pytest.mark.parametrize(
    "embedded",
    [
        {"loss_reason": {"id": 5, "name": "Дорого"}},
        {"loss_reason": [{"id": 5, "name": "Дорого", "sort": 10}]},
    ],
)
def test_the_embedded_reason_is_read_as_an_object_or_an_array(embedded: dict) -> None:
    assert lead_loss_reason({"loss_reason_id": 5, "_embedded": embedded}) == (5, "Дорого")


def test_a_lead_without_a_reason_has_none() -> None:
    assert lead_loss_reason({"loss_reason_id": None}) is None
    assert lead_loss_reason({"loss_reason_id": 0}) is None


def test_without_any_reason_in_the_account_a_lost_deal_costs_no_read(
    amo: Any, make_order: Callable[..., Order]
) -> None:
    order, lead_id, lost = _closed_lost(amo, make_order, None)
    amo.control("POST", "requests/clear")
    hook = WebhookItem("leads", "status", lead_id, status_id=lost.status_id, pipeline_id=lost.pipeline_id)
    # A hook without a time is checked by re-reading the deal once: that read alone, no loss-reason read.
    assert item_process(hook).http_calls == 1
    assert sum(calls(amo).values()) == 1
    order.refresh_from_db()
    assert order.status == "cancelled"


def test_the_reconciliation_brings_a_lost_deals_reason_with_no_read_of_its_own(
    amo: Any, make_order: Callable[..., Order]
) -> None:
    loss_reasons_refresh()
    order, lead_id, _lost = _closed_lost(amo, make_order, "Дорого")
    amo.control("POST", "requests/clear")
    leads_reconcile(trigger="schedule")
    order.refresh_from_db()
    assert order.status == "cancelled"
    assert OrderLossReason.objects.get(order=order).name == "Дорого"
    assert not [k for k in calls(amo) if k.startswith(f"GET /api/v4/leads/{lead_id}")]
