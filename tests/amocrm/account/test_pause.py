"""Pausing the sync: nothing reaches amoCRM while paused, changes are recorded and queued and arrive after
the sync is resumed; webhook deliveries that need amoCRM wait as pending; pause and resume are audited."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from console.amocrm.account.connection import (
    connection_pause,
    connection_resume,
    connection_unpause,
)
from console.amocrm.inbound.formparse import parse_form
from console.amocrm.inbound.inbox import (
    inbox_process,
    inbox_process_pending,
    inbox_requeue_pending,
    inbox_store,
)
from console.amocrm.inbound.items import webhook_items
from console.amocrm.models import AmoConnection, ConfigChange, OrderSync, WebhookInbox
from console.amocrm.outbound import retries
from console.amocrm.outbound.retries import max_attempts
from console.amocrm.reasons import codes
from console.orders.models import Order
from console.orders.services import order_set_status
from tests.amocrm.inbound.hookbodies import ACCOUNT, hook_body, lead_item
from tests.fixtures.sync import calls, clear, committed, lead_of, stage, state

pytestmark = pytest.mark.django_db
REASON = "Inventory count until Monday"


def run_due_retries() -> int:
    """A minute later: the orders the pause held are due; the schedule's task runs (inline in tests)."""
    OrderSync.objects.filter(state=OrderSync.State.QUEUED).update(
        next_retry_at=timezone.now() - timedelta(seconds=1)
    )
    with committed():
        return retries.sync_due_retries()


# --- the services -----------------------------------------------------------------------------------------


def store_recent_hook(lead_id: int, stage_ids: tuple[int, int]) -> WebhookInbox:
    """Store (and process inline) a ``leads[status]`` hook as old as our push: it must be checked by reading
    the lead from amoCRM."""
    pipeline_id, status_id = stage_ids
    item = lead_item(lead_id, status_id, int(time.time()) - 5, pipeline_id=pipeline_id)
    body = hook_body({"leads": {"status": [item]}}).encode()
    with committed():  # the processing task runs inline
        return inbox_store(
            body=body, headers={}, remote_addr=None, account=ACCOUNT, items=webhook_items(parse_form(body))
        )


def test_pause_needs_a_reason_and_a_connected_account(amo_connection: AmoConnection) -> None:
    with pytest.raises(ValueError, match="Say why"):
        connection_pause(connection_id=1, reason=" ", actor="olga")
    AmoConnection.objects.update(state="blocked")
    with pytest.raises(ValueError, match="Only a connected account"):
        connection_pause(connection_id=1, reason=REASON, actor="olga")
    assert AmoConnection.get_solo().state == "blocked"
    assert not ConfigChange.objects.filter(summary="Sync paused").exists()


def test_a_pause_is_left_only_by_unpausing(amo_connection: AmoConnection) -> None:
    connection = connection_pause(connection_id=1, reason=REASON, actor="olga")
    assert (connection.state, connection.paused_by, connection.paused_reason) == ("paused", "olga", REASON)
    assert "olga" in connection.state_detail and not connection.last_error  # a pause is not an error
    with pytest.raises(ValueError, match="paused by an administrator"):
        connection_resume(connection_id=1, actor="olga")
    connection = connection_unpause(connection_id=1, actor="ivan")
    assert (connection.state, connection.paused_by, connection.paused_at) == ("connected", "", None)
    with pytest.raises(ValueError, match="not paused"):
        connection_unpause(connection_id=1, actor="ivan")
    audit = list(ConfigChange.objects.filter(area="connection").values_list("summary", "actor"))
    assert audit[:2] == [("Sync resumed after a pause", "ivan"), ("Sync paused", "olga")]


def test_blocked_and_unpaid_are_still_resumed_the_old_way(amo_connection: AmoConnection) -> None:
    for state_ in ("blocked", "unpaid"):
        AmoConnection.objects.update(state=state_)
        with pytest.raises(ValueError, match="not paused"):
            connection_unpause(connection_id=1, actor="olga")
        assert connection_resume(connection_id=1, actor="olga").state == "connected"
    assert ConfigChange.objects.filter(summary="Resumed after a block or an unpaid account").count() == 2


# --- against the sandbox ----------------------------------------------------------------------------------


def test_nothing_reaches_amocrm_while_paused_and_the_change_arrives_after_resume(
    amo: Any, make_order: Callable[..., Order]
) -> None:
    with committed():
        order = make_order()
    assert state(order).state == OrderSync.State.SYNCED
    connection_pause(connection_id=1, reason=REASON, actor="olga")
    clear(amo)

    with committed():
        order_set_status(order=order, status="reserved", origin="manager", actor="anna")
    assert calls(amo) == {}
    row = state(order)
    assert row.state == OrderSync.State.QUEUED and row.attempts == 0  # waiting, not failing
    assert run_due_retries() == 0  # still paused: the schedule sends nothing
    assert calls(amo) == {}

    connection_unpause(connection_id=1, actor="olga")
    assert run_due_retries() == 1
    assert state(order).state == OrderSync.State.SYNCED
    lead = lead_of(amo, order)
    assert (lead["pipeline_id"], lead["status_id"]) == stage("reserved")


def test_a_delivery_that_needs_amocrm_waits_while_paused(amo: Any, make_order: Callable[..., Order]) -> None:
    with committed():
        order = make_order()
    lead_id = state(order).lead_id
    pipeline_id, reserved = stage("reserved")
    amo.move_lead(lead_id, reserved, pipeline_id)
    connection_pause(connection_id=1, reason=REASON, actor="olga")
    row = store_recent_hook(lead_id, (pipeline_id, reserved))
    row.refresh_from_db()
    assert row.outcome == WebhookInbox.Outcome.PENDING and row.reasons[0]["params"]["state"] == "paused"
    assert inbox_process_pending() == 1  # tried once more, then left for later: no loop
    order.refresh_from_db()
    assert order.status == "new"

    connection_unpause(connection_id=1, actor="olga")
    WebhookInbox.objects.update(received_at=timezone.now() - timedelta(minutes=10))
    assert inbox_requeue_pending() == 1  # the every-minute job's step; the task runs inline
    row.refresh_from_db()
    order.refresh_from_db()
    assert row.outcome == WebhookInbox.Outcome.APPLIED and order.status == "reserved"


def test_a_delivery_amocrm_cannot_answer_for_waits_and_is_applied_later(
    amo: Any, make_order: Callable[..., Order]
) -> None:
    with committed():
        order = make_order()
    lead_id = state(order).lead_id
    pipeline_id, reserved = stage("reserved")
    amo.move_lead(lead_id, reserved, pipeline_id)
    amo.fault(kind="500", probability=1.0, method="GET", path=f"/api/v4/leads/{lead_id}")
    # amoCRM fails to answer the read the hook needs.
    row = store_recent_hook(lead_id, (pipeline_id, reserved))
    row.refresh_from_db()
    assert row.outcome == WebhookInbox.Outcome.PENDING, row.reasons
    assert codes(row.reasons) == ["waiting_no_answer"]
    order.refresh_from_db()
    assert order.status == "new"

    amo.clear_faults()
    WebhookInbox.objects.update(received_at=timezone.now() - timedelta(minutes=10))
    assert inbox_requeue_pending() == 1  # the every-minute job's step; the task runs inline
    row.refresh_from_db()
    order.refresh_from_db()
    assert row.outcome == WebhookInbox.Outcome.APPLIED and order.status == "reserved"


def test_a_delivery_amocrm_never_answers_for_fails_after_its_attempts(
    amo: Any, make_order: Callable[..., Order]
) -> None:
    with committed():
        order = make_order()
    lead_id = state(order).lead_id
    pipeline_id, reserved = stage("reserved")
    amo.fault(kind="500", probability=1.0, method="GET", path=f"/api/v4/leads/{lead_id}")
    row = store_recent_hook(lead_id, (pipeline_id, reserved))
    WebhookInbox.objects.filter(pk=row.pk).update(attempts=max_attempts() - 1)
    row = inbox_process(inbox_id=row.pk)
    assert row.outcome == WebhookInbox.Outcome.FAILED and "500" in row.reasons[0]["params"]["error"]
