"""A delivery whose time lies in the future (forged, or a clock far off) is not trusted: the lead is re-read,
and no time later than our clock plus the tolerance is ever stored, so later real changes still apply."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from console.amocrm.inbound import rules
from console.amocrm.inbound.rules import FUTURE_TOLERANCE, LeadObservation, lead_observe
from console.amocrm.models import OrderSync, WebhookInbox
from console.amocrm.reasons import Code, reason
from console.orders.models import Order, OrderStatusChange
from tests.amocrm.inbound.hookbodies import PIPELINE, STAGES, hook_body, last_row, lead_item

pytestmark = pytest.mark.django_db

LEAD = 5001
YEAR = 365 * 24 * 3600


def now() -> int:
    return int(time.time())


class Amo:
    """amoCRM's answer to a lead read: the deal's real stage and updated_at; counts the reads."""

    def __init__(self, stage: str, updated_at: int | None = None) -> None:
        self.stage, self.updated_at, self.reads = stage, updated_at, 0

    def get_lead(self, lead_id: int) -> dict[str, Any]:
        self.reads += 1
        updated_at = self.updated_at if self.updated_at is not None else now() - 5
        return {
            "id": lead_id,
            "pipeline_id": PIPELINE,
            "status_id": STAGES[self.stage],
            "updated_at": updated_at,
        }


@pytest.fixture
def amo(monkeypatch: pytest.MonkeyPatch) -> Amo:
    """The deal sits at "new" (the stage we pushed) unless a test moves it."""
    deal = Amo("new")
    monkeypatch.setattr(rules, "account_client", lambda: deal)
    return deal


def status_hook(stage: str | int, modified: int, **extra: Any) -> str:
    """A ``leads[status]`` body for the linked lead, as amoCRM sends it."""
    return hook_body({"leads": {"status": [lead_item(LEAD, stage, modified, **extra)]}})


def stored_time(order: Order) -> int | None:
    return OrderSync.objects.get(order=order).last_amo_modified


def assert_not_in_future(order: Order) -> None:
    stored = stored_time(order)
    assert stored is None or stored <= now() + FUTURE_TOLERANCE, stored


def test_a_forged_future_stage_move_is_checked_against_the_lead_and_does_not_stick(
    post: Callable[..., Any], link: Callable[..., Order], amo: Amo
) -> None:
    order = link(LEAD)
    forged = now() + YEAR
    post(status_hook(143, forged))
    order.refresh_from_db()
    assert order.status == "new"
    assert amo.reads == 1
    row = last_row()
    assert row.outcome == "stale"
    assert reason(Code.TIME_AHEAD, seen=forged, minutes=5) in row.reasons
    assert_not_in_future(order)


def test_after_a_forged_future_delivery_a_real_move_still_applies(
    post: Callable[..., Any], link: Callable[..., Order], amo: Amo
) -> None:
    order = link(LEAD)
    post(status_hook("reserved", now() + YEAR))
    amo.stage = "in_rent"
    post(status_hook("in_rent", now()))
    order.refresh_from_db()
    assert order.status == "in_rent"
    assert last_row().outcome == "applied"
    assert_not_in_future(order)


def test_a_forged_future_echo_of_our_stage_stores_no_time(
    post: Callable[..., Any], link: Callable[..., Order], amo: Amo
) -> None:
    order = link(LEAD)
    post(status_hook("new", now() + YEAR))
    assert last_row().outcome == "echo"
    assert stored_time(order) is None
    post(status_hook("reserved", now()))
    assert last_row().outcome == "applied"


def test_a_future_delivery_applies_the_stage_amocrm_really_shows(
    post: Callable[..., Any], link: Callable[..., Order], amo: Amo
) -> None:
    order = link(LEAD)
    amo.stage, amo.updated_at = "in_progress", now() - 2
    post(hook_body({"leads": {"update": [lead_item(LEAD, "reserved", now() + 3600)]}}))
    order.refresh_from_db()
    assert order.status == "in_progress"  # the deal's real stage, not the one the body claims
    assert last_row().outcome == "applied"
    assert last_row().reasons[-1]["params"].get("verified") is True
    assert stored_time(order) == amo.updated_at


def test_a_future_updated_at_beside_a_plausible_last_modified_is_not_trusted(
    post: Callable[..., Any], link: Callable[..., Order], amo: Amo
) -> None:
    order = link(LEAD)
    post(status_hook(143, now(), updated_at=now() + YEAR))
    assert amo.reads == 1
    order.refresh_from_db()
    assert order.status == "new"
    assert_not_in_future(order)


def test_a_time_within_the_tolerance_is_trusted_as_it_is(
    post: Callable[..., Any], link: Callable[..., Order], amo: Amo
) -> None:
    order = link(LEAD)
    ahead = now() + 60  # amoCRM's clock a minute ahead of ours
    post(status_hook("reserved", ahead))
    order.refresh_from_db()
    assert (order.status, amo.reads, stored_time(order)) == ("reserved", 0, ahead)


def test_a_future_time_stored_by_earlier_code_is_dropped_and_the_real_move_applies(
    post: Callable[..., Any], link: Callable[..., Order], amo: Amo
) -> None:
    order = link(LEAD, last_amo_modified=now() + YEAR)  # as a forged delivery left it before this check
    amo.stage = "in_rent"
    post(status_hook("in_rent", now()))
    order.refresh_from_db()
    assert order.status == "in_rent"
    assert amo.reads == 1  # nothing to place the hook against: amoCRM is asked once
    assert_not_in_future(order)
    post(status_hook("in_progress", now() + 1))
    order.refresh_from_db()
    assert (order.status, amo.reads) == ("in_progress", 1)


def test_an_api_read_repairs_a_status_hidden_behind_a_stored_future_time(
    link: Callable[..., Order], amo: Amo
) -> None:
    order = link(LEAD, status="cancelled", last_amo_modified=now() + YEAR)
    OrderSync.objects.filter(order=order).update(pushed_status_id=143)  # the forged stage, applied earlier
    read = LeadObservation(LEAD, PIPELINE, STAGES["reserved"], now() - 30, "api", fetched_at=time.time())
    result = lead_observe(read, client_factory=lambda: amo)
    order.refresh_from_db()
    assert (result.outcome, order.status) == ("applied", "reserved")
    assert stored_time(order) == read.modified
    assert OrderStatusChange.objects.filter(order=order, origin="amocrm").count() == 1


def test_an_api_time_ahead_of_our_clock_is_stored_no_later_than_the_tolerance(
    link: Callable[..., Order], amo: Amo
) -> None:
    order = link(LEAD)
    read = LeadObservation(LEAD, PIPELINE, STAGES["reserved"], now() + YEAR, "api", fetched_at=time.time())
    assert lead_observe(read, client_factory=lambda: amo).outcome == "applied"
    assert_not_in_future(order)


def test_nothing_is_stored_invalid_for_a_future_delivery(
    post: Callable[..., Any], link: Callable[..., Order], amo: Amo
) -> None:
    link(LEAD)
    post(status_hook("reserved", now() + YEAR))
    assert not WebhookInbox.objects.filter(outcome__in=("invalid", "failed")).exists()
