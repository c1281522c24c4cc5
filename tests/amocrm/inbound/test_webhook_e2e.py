"""End to end: the sandbox fires real webhooks at a live console; the order follows, nothing goes back."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
from django.utils import timezone

from console.amocrm.account.setup import account_setup
from console.amocrm.inbound.reconcile import leads_reconcile, watermark_get
from console.amocrm.inbound.rules import CLOCK_SKEW, trust_horizon
from console.amocrm.models import OrderSync, StageMapping, SyncLog, WebhookInbox
from console.amocrm.reasons import codes
from console.orders.models import Order
from console.orders.services import order_set_status
from tests.amocrm.inbound.hookbodies import hook_body
from tests.fixtures.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def pause(seconds: float) -> None:
    """Let the live server and the sandbox work for a while (webhooks in flight are processed meanwhile)."""
    time.sleep(seconds)


def settle(sandbox: Any) -> list[dict[str, Any]]:
    """Wait until the sandbox has no webhook queued or in flight; its deliveries so far."""

    def idle() -> list[dict[str, Any]] | None:
        report = sandbox.control("GET", "webhooks")
        return report["deliveries"] or [{}] if report["pending"] == 0 else None

    wait_until(idle, what="the sandbox's webhooks to be delivered")
    return sandbox.webhooks()


def past_our_push(sync: OrderSync) -> None:
    """Let the clock pass our last push by more than the tolerated skew (so a move is clearly newer)."""
    while time.time() <= sync.last_synced_at.timestamp() + CLOCK_SKEW + 1:
        pause(0.1)


@pytest.fixture
def wired(amo_connection: Any, live_server: Any, sandbox: Any) -> Any:
    """The console connected to the sandbox, set up, and its webhook subscribed at the live server."""
    report = account_setup(connection_id=amo_connection.pk, webhook_base_url=live_server.url)
    assert report.webhook == "subscribed"
    amo_connection.refresh_from_db()
    return amo_connection


@pytest.fixture
def synced_order(wired: Any, make_order: Callable[..., Order], sandbox: Any) -> Order:
    """A manager's order pushed to the sandbox as a lead (inline sync), its add_lead hook processed."""
    order = make_order()
    wait_until(
        lambda: OrderSync.objects.filter(order=order, state="synced", lead_id__isnull=False).exists(),
        what="the order's lead",
    )
    settle(sandbox)
    wait_until(lambda: not WebhookInbox.objects.filter(outcome="pending").exists(), what="the inbox")
    return order


def stage_of(status: str) -> StageMapping:
    return StageMapping.objects.get(order_status=status)


def lead_stage(sandbox: Any, lead_id: int) -> tuple[int, int]:
    lead = sandbox.api("GET", f"leads/{lead_id}").json()
    return lead["pipeline_id"], lead["status_id"]


def test_a_stage_move_in_amocrm_moves_the_order_and_calls_nothing_back(
    synced_order: Order, sandbox: Any
) -> None:
    sync = OrderSync.objects.get(order=synced_order)
    past_our_push(sync)
    target = stage_of("in_rent")
    sandbox.control("POST", "requests/clear")
    inbox_before = WebhookInbox.objects.count()

    sandbox.move_lead(sync.lead_id, target.status_id, target.pipeline_id)

    wait_until(lambda: Order.objects.get(pk=synced_order.pk).status == "in_rent", what="the order to follow")
    deliveries = settle(sandbox)
    assert all(d["ok"] and d["status"] == 200 for d in deliveries)
    pause(0.5)  # anything the console would send back would have gone out by now
    assert sandbox.requests()["total"] == 0, sandbox.requests()
    rows = list(WebhookInbox.objects.order_by("id")[inbox_before:].values_list("events", "outcome"))
    assert sorted(rows) == sorted([("leads[update]", "applied"), ("leads[status]", "duplicate")]) or sorted(
        rows
    ) == sorted([("leads[update]", "duplicate"), ("leads[status]", "applied")])
    change = synced_order.status_changes.first()
    assert (change.to_status, change.origin) == ("in_rent", "amocrm")
    sync.refresh_from_db()
    assert (sync.pushed_pipeline_id, sync.pushed_status_id) == (target.pipeline_id, target.status_id)
    assert sync.state == "synced"


def test_a_managers_change_pushed_to_amocrm_comes_back_as_an_echo_without_ping_pong(
    synced_order: Order, sandbox: Any
) -> None:
    sync = OrderSync.objects.get(order=synced_order)
    sandbox.control("POST", "requests/clear")
    deliveries_before = len(sandbox.webhooks())

    order_set_status(order=synced_order, status="reserved", origin="manager", actor="anna")

    target = stage_of("reserved")
    wait_until(
        lambda: lead_stage(sandbox, sync.lead_id) == (target.pipeline_id, target.status_id), what="push"
    )
    deliveries = settle(sandbox)[deliveries_before:]
    wait_until(lambda: not WebhookInbox.objects.filter(outcome="pending").exists(), what="the inbox")
    pause(1.0)  # a ping-pong would show as more hooks and more calls by now
    assert len(settle(sandbox)) - deliveries_before == len(deliveries) == 2  # update_lead + status_lead
    api_calls = sandbox.requests()["total"] - 2  # the two GETs of this test
    assert api_calls <= 2, sandbox.requests()  # the stage PATCH (and nothing because of the hooks)
    outcomes = sorted(WebhookInbox.objects.order_by("-id")[:2].values_list("outcome", flat=True))
    assert outcomes == ["duplicate", "echo"]
    synced_order.refresh_from_db()
    assert synced_order.status == "reserved"
    assert lead_stage(sandbox, sync.lead_id) == (target.pipeline_id, target.status_id)


def test_a_move_in_amocrm_right_after_our_push_is_confirmed_by_one_read_and_ends_consistent(
    synced_order: Order, sandbox: Any
) -> None:
    sync = OrderSync.objects.get(order=synced_order)
    order_set_status(order=synced_order, status="reserved", origin="manager", actor="anna")
    reserved = stage_of("reserved")
    wait_until(lambda: lead_stage(sandbox, sync.lead_id)[1] == reserved.status_id, what="push")
    settle(sandbox)
    wait_until(lambda: not WebhookInbox.objects.filter(outcome="pending").exists(), what="the inbox")
    target = stage_of("in_progress")
    sandbox.control("POST", "requests/clear")

    sandbox.move_lead(sync.lead_id, target.status_id, target.pipeline_id)  # within the skew of our push

    wait_until(
        lambda: Order.objects.get(pk=synced_order.pk).status == "in_progress", what="the order to follow"
    )
    settle(sandbox)
    wait_until(lambda: not WebhookInbox.objects.filter(outcome="pending").exists(), what="the inbox")
    pause(0.5)
    counts = sandbox.requests()["counts"]
    assert counts == {f"GET /api/v4/leads/{sync.lead_id}": 1}, counts  # one read to confirm, no write
    applied = WebhookInbox.objects.filter(outcome="applied").latest("id")
    assert applied.reasons[-1]["params"].get("verified") is True
    assert lead_stage(sandbox, sync.lead_id) == (target.pipeline_id, target.status_id)


def test_reconciliation_applies_moves_made_while_webhooks_were_off(synced_order: Order, sandbox: Any) -> None:
    sync = OrderSync.objects.get(order=synced_order)
    past_our_push(sync)
    sandbox.configure(webhooks_enabled=False)
    target = stage_of("in_progress")
    inbox_before = WebhookInbox.objects.count()
    sandbox.move_lead(sync.lead_id, target.status_id, target.pipeline_id)
    pause(0.3)
    assert Order.objects.get(pk=synced_order.pk).status == "new"
    assert WebhookInbox.objects.count() == inbox_before

    report = leads_reconcile(trigger="schedule")

    assert report.counts.get("applied") == 1, report.summary()
    assert Order.objects.get(pk=synced_order.pk).status == "in_progress"
    assert synced_order.status_changes.first().origin == "amocrm"
    run = SyncLog.objects.filter(order=None, event="reconcile").latest("started_at")
    assert (run.trigger, run.outcome) == ("schedule", "ok")
    assert run.http_calls >= 1
    assert SyncLog.objects.filter(order=synced_order, trigger="reconcile", outcome="ok").exists()
    assert watermark_get() >= int(timezone.now().timestamp()) - 60

    again = leads_reconcile(trigger="schedule")
    assert again.counts.get("applied") is None
    assert Order.objects.get(pk=synced_order.pk).status == "in_progress"


def test_a_move_to_lost_cancels_the_order_and_calls_nothing_back(synced_order: Order, sandbox: Any) -> None:
    sync = OrderSync.objects.get(order=synced_order)
    past_our_push(sync)
    lost = stage_of("cancelled")
    sandbox.control("POST", "requests/clear")

    sandbox.move_lead(sync.lead_id, lost.status_id, lost.pipeline_id)

    wait_until(
        lambda: Order.objects.get(pk=synced_order.pk).status == "cancelled", what="the order to follow"
    )
    settle(sandbox)
    pause(0.5)
    assert sandbox.requests()["total"] == 0, sandbox.requests()["counts"]
    assert Order.objects.get(pk=synced_order.pk).is_active
    # the deal's notes will not tell amoCRM's own move back to it as a cancellation made in the console
    assert OrderSync.objects.get(order=synced_order).pushed_summary["status"] == "cancelled"


def destination(sandbox: Any) -> str:
    """The console's webhook URL, as subscribed in the sandbox by the account setup."""
    (hook,) = sandbox.api("GET", "webhooks").json()["_embedded"]["webhooks"]
    return hook["destination"]


def processed() -> None:
    wait_until(lambda: not WebhookInbox.objects.filter(outcome="pending").exists(), what="the inbox")


def test_a_forged_future_delivery_does_not_stick_and_a_real_move_still_applies(
    synced_order: Order, sandbox: Any, wired: Any
) -> None:
    sync = OrderSync.objects.get(order=synced_order)
    lost, target = stage_of("cancelled"), stage_of("in_rent")
    forged_at = int(time.time()) + 365 * 24 * 3600
    item = {"id": sync.lead_id, "status_id": lost.status_id, "pipeline_id": lost.pipeline_id}
    item |= {"last_modified": forged_at, "updated_at": forged_at}
    account = {"id": wired.account_id, "subdomain": wired.subdomain}
    body = hook_body({"leads": {"status": [item]}}, account=account)
    headers = {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "amoCRM-Webhooks/3.0"}

    answer = requests.post(destination(sandbox), data=body, headers=headers, timeout=10)

    assert answer.status_code == 200
    processed()
    row = WebhookInbox.objects.latest("id")
    assert row.outcome == "stale", row.reasons  # amoCRM, re-read, shows the stage we pushed
    assert "time_ahead" in codes(row.reasons)
    sync.refresh_from_db()
    assert sync.last_amo_modified is None or sync.last_amo_modified <= trust_horizon()
    assert Order.objects.get(pk=synced_order.pk).status == "new"

    past_our_push(sync)
    sandbox.move_lead(sync.lead_id, target.status_id, target.pipeline_id)

    wait_until(lambda: Order.objects.get(pk=synced_order.pk).status == "in_rent", what="the order to follow")
    settle(sandbox)
    processed()
    assert OrderSync.objects.get(order=synced_order).last_amo_modified <= trust_horizon()


def other_user(entity: dict[str, Any]) -> int:
    """One of the sandbox's two users (admin 100001, manager 100002) not responsible for ``entity``."""
    return 100001 if entity["responsible_user_id"] != 100001 else 100002


LEAD_EVENTS = ["add_lead", "update_lead", "delete_lead", "restore_lead", "status_lead", "responsible_lead"]
PARTY_EVENTS = ["add", "update", "delete", "restore", "responsible", "note"]


def test_every_lead_contact_and_company_event_the_sandbox_fires_is_recognised(
    synced_order: Order, sandbox: Any
) -> None:
    sync = OrderSync.objects.get(order=synced_order)
    every = LEAD_EVENTS + ["note_lead"] + [f"{a}_{e}" for e in ("contact", "company") for a in PARTY_EVENTS]
    sandbox.api("POST", "webhooks", json={"destination": destination(sandbox), "settings": every})
    inbox_before = WebhookInbox.objects.order_by("-id").values_list("id", flat=True).first() or 0
    a_note = [{"note_type": "common", "params": {"text": "Звонок клиенту"}}]

    sandbox.api("POST", f"leads/{sync.lead_id}/notes", json=a_note)
    lead = sandbox.api("GET", f"leads/{sync.lead_id}").json()
    sandbox.control("POST", f"leads/{sync.lead_id}/edit", {"responsible_user_id": other_user(lead)})
    for entity in ("contacts", "companies"):
        party = sandbox.control("POST", entity, {"name": "ООО Ромашка" if entity == "companies" else "Анна"})
        sandbox.control("POST", f"{entity}/{party['id']}/edit", {"name": "Переименован"})
        sandbox.control("POST", f"{entity}/{party['id']}/edit", {"responsible_user_id": other_user(party)})
        sandbox.api("POST", f"{entity}/{party['id']}/notes", json=a_note)
        sandbox.control("POST", f"{entity}/{party['id']}/delete")
        sandbox.control("POST", f"{entity}/{party['id']}/restore")
    sandbox.control("POST", f"leads/{sync.lead_id}/delete")
    sandbox.control("POST", f"leads/{sync.lead_id}/restore")

    deliveries = settle(sandbox)
    processed()
    assert all(d["ok"] for d in deliveries), [d for d in deliveries if not d["ok"]]
    rows = list(WebhookInbox.objects.filter(id__gt=inbox_before).order_by("id"))
    seen = {(row.events, row.outcome) for row in rows}
    assert not {outcome for _events, outcome in seen} & {"invalid", "failed", "pending"}, seen
    note_row = next(row for row in rows if row.events == "leads[note]")
    assert (note_row.outcome, codes(note_row.reasons)) == ("ignored", ["notes_not_synced"])
    assert note_row.entity_ids == str(sync.lead_id)
    for entity in ("contacts", "companies"):
        for action in PARTY_EVENTS:
            assert (f"{entity}[{action}]", "ignored") in seen, (entity, action, seen)
    assert {("leads[delete]", "applied"), ("leads[restore]", "applied")} <= seen
    assert "leads[responsible]" in {
        row.events for row in rows
    }  # a duplicate of the lead's update: same stage
    sync.refresh_from_db()
    assert sync.lead_deleted_at is None  # deleted, then restored
    assert Order.objects.get(pk=synced_order.pk).status == "new"
