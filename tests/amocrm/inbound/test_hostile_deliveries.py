"""Hostile deliveries (issue 18, findings 1 and 2): times out of range or in milliseconds, a poison delivery
of hundreds of items on one deal, attempts whose worker died. None breaks a page or stalls the inbox, and
each is recorded with its reason as data."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from console.amocrm.inbound import inbox, rules
from console.amocrm.models import OrderSync, WebhookInbox
from console.amocrm.reasons import Code, codes, reason
from console.orders.models import Order
from tests.amocrm.inbound.hookbodies import PIPELINE, STAGES, hook_body, last_row, lead_item
from tests.fixtures.builders import make_user

pytestmark = pytest.mark.django_db

LEAD = 5001


class Amo:
    """amoCRM's answer to a lead read (the deal at "reserved"); counts the reads."""

    def __init__(self) -> None:
        self.reads = 0

    def get_lead(self, lead_id: int) -> dict[str, Any]:
        self.reads += 1
        return {"id": lead_id, "pipeline_id": PIPELINE, "status_id": STAGES["reserved"], "updated_at": None}


@pytest.fixture
def amo(monkeypatch: pytest.MonkeyPatch) -> Amo:
    deal = Amo()
    monkeypatch.setattr(rules, "account_client", lambda: deal)
    return deal


def status_hook(modified: Any, stage: str = "reserved", lead: int = LEAD) -> str:
    return hook_body({"leads": {"status": [lead_item(lead, stage, modified, updated_at=modified)]}})


def poison_item() -> dict[str, Any]:
    """An item of the attack's poison delivery: the deal and its stage, no time."""
    return {"id": LEAD, "status_id": STAGES["reserved"], "pipeline_id": PIPELINE}


@pytest.mark.parametrize("role", ["manager", "support", "admin"])
def test_an_out_of_range_timestamp_is_dropped_with_its_reason_and_every_page_still_answers(
    post: Callable[..., Any], link: Callable[..., Order], amo: Amo, role: str
) -> None:
    order = link(LEAD)
    post(status_hook(100_000_000_000_000))
    row = last_row()
    assert reason(Code.TIME_OUT_OF_RANGE, seen=100_000_000_000_000) in row.reasons
    assert row.results[0]["reasons"][0]["code"] == "time_out_of_range"
    stored = OrderSync.objects.get(order=order).last_amo_modified
    assert stored is None or stored < 10**11
    client = Client()
    client.force_login(make_user(f"{role}-1", role=role))
    for url in (
        reverse("web:webhooks"),
        reverse("web:webhooks") + "?outcome=" + row.outcome,
        reverse("web:webhook_detail", args=[row.pk]),
        reverse("web:order_detail", args=[order.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)


def test_a_millisecond_timestamp_is_read_as_seconds_with_its_reason(
    post: Callable[..., Any], link: Callable[..., Order], amo: Amo
) -> None:
    order = link(LEAD)
    seconds = int(time.time()) - 30
    post(status_hook(seconds * 1000 + 123))
    row = last_row()
    assert row.reasons[0] == reason(Code.TIME_MILLISECONDS, seen=seconds * 1000 + 123)
    assert row.outcome == "applied", row.reasons
    assert OrderSync.objects.get(order=order).last_amo_modified == seconds
    order.refresh_from_db()
    assert order.status == "reserved"


def test_a_stored_huge_time_in_a_reason_never_breaks_the_inbox(staff_client: Any, db: None) -> None:
    """Rows stored before the intake checked times (or by a newer version) still render."""
    WebhookInbox.objects.create(
        body=b"x=1",
        events="leads[status]",
        outcome="stale",
        reasons=[reason(Code.OLDER_THAN_APPLIED, seen=10**15, applied="x"), {"code": "from_the_future"}],
    )
    response = staff_client.get(reverse("web:webhooks"))
    assert response.status_code == 200
    assert "from_the_future" in response.content.decode()  # an unknown code, as recorded


def test_a_poison_delivery_reads_the_deal_once_and_is_capped_with_its_reason(
    post: Callable[..., Any], link: Callable[..., Order], amo: Amo
) -> None:
    """900 items on one deal with no time (98 KB): one read of the deal, at most MAX_ITEMS items judged."""
    order = link(LEAD)
    items = [poison_item() for _ in range(900)]
    started = time.monotonic()
    post(hook_body({"leads": {"status": items}}))
    elapsed = time.monotonic() - started
    row = last_row()
    assert row.outcome == "applied", row.reasons
    assert amo.reads == 1
    assert len(row.results) == inbox.MAX_ITEMS
    assert reason(Code.ITEMS_CAPPED, count=900, limit=inbox.MAX_ITEMS) in row.reasons
    order.refresh_from_db()
    assert order.status == "reserved"
    assert elapsed < 60  # generous: the bound is one read, not 900 reads at the rate limit


def test_a_delivery_after_a_poison_one_is_processed_by_the_same_task(
    post: Callable[..., Any], link: Callable[..., Order], amo: Amo
) -> None:
    link(LEAD)
    other = link(LEAD + 1)
    poison = [poison_item() for _ in range(900)]
    post(hook_body({"leads": {"status": poison}}), process=False)
    post(status_hook(int(time.time()) - 10, "in_rent", lead=LEAD + 1), process=False)
    assert inbox.inbox_process_pending() == 2
    assert not WebhookInbox.objects.filter(outcome="pending").exists()
    other.refresh_from_db()
    assert other.status == "in_rent"


def _die_in_processing(row: WebhookInbox) -> None:
    """What a worker killed mid-row (or past the task timeout) leaves: the claim, no outcome."""
    row.refresh_from_db()
    assert inbox._claim(row, replay=False)


def test_a_timed_out_attempt_is_counted_and_the_row_fails_at_the_limit(
    post: Callable[..., Any], link: Callable[..., Order], amo: Amo
) -> None:
    link(LEAD)
    post(status_hook(int(time.time()) - 10), process=False)
    row = last_row()
    for lost in range(inbox.LOST_ATTEMPTS):
        _die_in_processing(row)
        row.refresh_from_db()
        assert row.outcome == "pending"
        assert row.reasons == ([reason(Code.ATTEMPTS_LOST, attempts=lost)] if lost else [])
    processed = inbox.inbox_process(inbox_id=row.pk)
    assert processed.outcome == "failed"
    assert processed.reasons == [reason(Code.ATTEMPTS_LOST, attempts=inbox.LOST_ATTEMPTS)]
    assert amo.reads == 0  # not processed again
    # Support may still replay it once the cause is fixed.
    assert inbox.inbox_replay(inbox_id=row.pk).outcome == "applied"


def test_an_attempt_that_ended_waiting_is_not_counted_as_lost(
    post: Callable[..., Any], link: Callable[..., Order], amo: Amo
) -> None:
    link(LEAD)
    post(status_hook(int(time.time()) - 10), process=False)
    row = last_row()
    _die_in_processing(row)
    waiting = [reason(Code.WAITING_NO_ANSWER, error="ReadTimeout")]
    WebhookInbox.objects.filter(pk=row.pk).update(reasons=waiting)
    assert inbox.inbox_process(inbox_id=row.pk).outcome == "applied"


def test_the_processing_task_hands_over_on_time_and_keeps_its_mark_fresh(
    post: Callable[..., Any], link: Callable[..., Order], amo: Amo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A task past ``PROCESS_SECONDS`` queues its successor; while one works, the requeue queues none."""
    link(LEAD)
    link(LEAD + 1)
    post(status_hook(int(time.time()) - 10), process=False)
    post(status_hook(int(time.time()) - 10, lead=LEAD + 1), process=False)
    queued: list[str] = []
    monkeypatch.setattr(inbox.queue, "enqueue", lambda task, **kw: queued.append(task))
    monkeypatch.setattr(inbox, "PROCESS_SECONDS", 0)
    assert inbox.inbox_process_pending() == 1
    assert queued == [inbox.PROCESS_TASK]
    assert WebhookInbox.objects.filter(outcome="pending").count() == 1
    WebhookInbox.objects.update(received_at=WebhookInbox.objects.first().received_at.replace(year=2020))
    assert inbox.inbox_requeue_pending() == 1
    assert queued == [inbox.PROCESS_TASK]  # the mark is fresh: the running task's successor takes it


def test_every_reason_code_has_words_and_renders_whatever_its_parameters() -> None:
    from console.web.reasons import MESSAGES, reason_text

    assert set(MESSAGES) == {str(code) for code in Code}
    odd = [{}, {"seen": 10**20}, {"pipeline_id": "x", "status_id": None}, {"counts": "x"}, {"statuses": 5}]
    for code in Code:
        for params in odd:
            text = reason_text({"code": str(code), "params": params}, {})
            assert isinstance(text, str) and text.strip(), (code, params)


def test_codes_reads_what_a_row_holds() -> None:
    assert codes([reason(Code.NO_ORDER), {"code": "x"}, "junk"]) == ["no_order", "x"]  # type: ignore[list-item]
