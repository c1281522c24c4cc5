"""Failures against the sandbox's fault injection: transient errors retry on our schedule, permanent ones
fail at once with readable text, an open circuit pauses everything, and nothing is ever duplicated."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from console.amocrm.models import AmoConnection, OrderSync, SyncLog
from console.amocrm.outbound import retries
from console.orders.models import Order
from tests.fixtures.sync import (
    calls,
    clear,
    committed,
    entities,
    lead_of,
    notes_of,
    products_of,
    retries_due,
    sent_at,
    stage,
    state,
)
from tests.fixtures.waiting import wait_until


def run_due_retries() -> int:
    """Make every waiting retry due now and run the schedule's task (sync mode runs the syncs inline)."""
    retries_due()
    with committed():
        return retries.sync_due_retries()


@pytest.fixture
def fast_client(settings: Any) -> None:
    """Short read timeout so the sandbox's "slow" fault is a timeout; a lost create settles in 2 s (the
    sandbox carries a slow request out 1.5 s after it came at the latest)."""
    settings.AMOCRM_READ_TIMEOUT = 0.5
    settings.AMOCRM_UNCONFIRMED_SETTLE_SECONDS = 2


@pytest.mark.django_db
def test_a_5xx_on_an_update_is_retried_by_the_client_and_the_order_ends_synced(
    amo: Any, make_order: Callable[..., Order]
) -> None:
    from console.orders.services import order_set_status

    with committed():
        order = make_order()
    amo.fault(kind="500", method="PATCH", times=2)
    with committed():
        order_set_status(order=order, status="reserved", origin="manager", actor="m")

    assert state(order).state == OrderSync.State.SYNCED
    assert lead_of(amo, order)["status_id"] == stage("reserved")[1]


@pytest.mark.django_db
def test_429s_are_waited_out(amo: Any, make_order: Callable[..., Order]) -> None:
    amo.fault(kind="429", times=3, retry_after=0)
    with committed():
        order = make_order()

    assert state(order).state == OrderSync.State.SYNCED
    assert len(entities(amo, "leads")) == 1


@pytest.mark.django_db
def test_a_5xx_on_the_lead_create_schedules_a_retry_that_looks_up_before_creating(
    amo: Any, make_order: Callable[..., Order]
) -> None:
    amo.fault(kind="502", method="POST", path="/api/v4/leads", times=1)
    with committed():
        order = make_order()

    row = state(order)
    lost = sent_at("lead", order.pk) is not None
    assert (row.state, row.attempts, lost) == (OrderSync.State.QUEUED, 1, True)
    # The first retry comes after 30 s, but not before the lost create has settled in amoCRM (60 s).
    assert timezone.now() + timedelta(seconds=50) < row.next_retry_at < timezone.now() + timedelta(seconds=70)
    assert row.last_error_status == 502 and row.last_error_title
    log = SyncLog.objects.get(order=order)
    assert (log.outcome, log.error_status) == ("retry", 502)

    assert run_due_retries() == 1

    row = state(order)
    lost = sent_at("lead", order.pk) is not None
    assert (row.state, row.attempts, lost) == (OrderSync.State.SYNCED, 0, False)
    assert len(entities(amo, "leads")) == 1
    assert SyncLog.objects.get(pk=log.pk).resolved


@pytest.mark.django_db
def test_a_connection_dropped_after_the_lead_was_created_adopts_that_lead(
    amo: Any, make_order: Callable[..., Order]
) -> None:
    amo.fault(kind="drop_after", method="POST", path="/api/v4/leads", times=1)
    with committed():
        order = make_order()
    assert state(order).state == OrderSync.State.QUEUED
    assert len(entities(amo, "leads")) == 1

    run_due_retries()

    assert state(order).state == OrderSync.State.SYNCED
    leads = entities(amo, "leads")
    assert [lead["id"] for lead in leads] == [state(order).lead_id]
    assert products_of(amo, leads[0]["id"]) and len(notes_of(amo, leads[0]["id"])) == 1


@pytest.mark.django_db
def test_a_timeout_on_the_lead_create_never_duplicates_it(
    amo: Any, make_order: Callable[..., Order], fast_client: None
) -> None:
    amo.fault(kind="slow", seconds=1.5, method="POST", path="/api/v4/leads", times=1)
    with committed():
        order = make_order()
    wait_until(lambda: entities(amo, "leads"), what="the slow create to land in amoCRM")

    run_due_retries()

    assert state(order).state == OrderSync.State.SYNCED
    assert len(entities(amo, "leads")) == 1


@pytest.mark.django_db
def test_a_change_right_after_a_lost_deal_create_waits_for_it_to_settle_before_looking_it_up(
    amo: Any, make_order: Callable[..., Order], fast_client: None
) -> None:
    """amoCRM may carry out a create after our read timeout: a sync that looked for the deal at once would
    miss it and create a second one."""
    from console.orders.services import order_set_status

    amo.fault(kind="slow", seconds=1.5, method="POST", path="/api/v4/leads", times=1)
    with committed():
        order = make_order()
    lead_sent_at = sent_at("lead", order.pk)
    assert lead_sent_at is not None

    with committed():
        order_set_status(order=order, status="reserved", origin="manager", actor="m")

    waiting = state(order)
    assert waiting.state == OrderSync.State.QUEUED and waiting.last_error_kind == "unknown_outcome"
    settles = retries.settled_at(lead_sent_at)
    assert abs((waiting.next_retry_at - settles).total_seconds()) < 1
    leads = wait_until(lambda: entities(amo, "leads"), what="the slow create to land in amoCRM")
    run_due_retries()

    assert state(order).state == OrderSync.State.SYNCED
    assert [lead["id"] for lead in entities(amo, "leads")] == [leads[0]["id"]] == [state(order).lead_id]
    assert lead_of(amo, order)["status_id"] == stage("reserved")[1]


@pytest.mark.django_db
def test_a_second_order_of_a_customer_whose_contact_create_was_lost_waits_and_shares_one_contact(
    amo: Any, make_order: Callable[..., Order], make_customer: Callable[..., Any], fast_client: None
) -> None:
    customer = make_customer()
    amo.fault(kind="slow", seconds=1.5, method="POST", path="/api/v4/leads/complex", times=1)
    with committed():
        first = make_order(customer=customer)
    assert sent_at("contact", customer.pk) is not None

    with committed():
        second = make_order(customer=customer)

    waiting = state(second)
    assert waiting.state == OrderSync.State.QUEUED and waiting.last_error_kind == "customer_busy"
    assert entities(amo, "contacts") == []  # still being created by the slow request
    wait_until(lambda: entities(amo, "contacts"), what="the slow create to land in amoCRM")
    run_due_retries()

    assert state(first).state == state(second).state == OrderSync.State.SYNCED
    contacts = entities(amo, "contacts")
    assert len(contacts) == 1 and len(entities(amo, "leads")) == 2
    assert state(first).contact_id == state(second).contact_id == contacts[0]["id"]


@pytest.mark.django_db
def test_a_create_amocrm_refused_is_not_waited_for(
    amo: Any, make_order: Callable[..., Order], fast_client: None
) -> None:
    """A 400 means nothing was created: the marks are taken back, the next attempt need not wait."""
    amo.fault(kind="429", method="POST", path="/api/v4/leads/complex", times=20, retry_after=0)
    with committed():
        order = make_order()

    sync = state(order)
    assert sync.state == OrderSync.State.QUEUED and sync.last_error_kind == "rate_limited"
    assert sent_at("lead", order.pk) is None
    assert sent_at("contact", order.customer_id) is None
    amo.clear_faults()
    run_due_retries()
    assert state(order).state == OrderSync.State.SYNCED


@pytest.mark.django_db
def test_an_expired_access_token_is_refreshed_and_the_sync_goes_on(
    amo: Any, make_order: Callable[..., Order]
) -> None:
    amo.fault(kind="401", times=1)
    with committed():
        order = make_order()

    assert state(order).state == OrderSync.State.SYNCED
    AmoConnection.objects.filter(pk=1).update(expires_at=timezone.now() - timedelta(minutes=1))
    from console.orders.services import order_set_status

    with committed():
        order_set_status(order=order, status="reserved", origin="manager", actor="m")
    assert state(order).state == OrderSync.State.SYNCED
    assert AmoConnection.get_solo().expires_at > timezone.now()


def test_a_401_even_after_a_refresh_is_retried_later_not_failed(
    amo: Any, make_order: Callable[..., Order]
) -> None:
    amo.fault(kind="401", times=2)
    with committed():
        order = make_order()
    sync = state(order)
    assert sync.state == OrderSync.State.QUEUED and sync.next_retry_at is not None
    assert sync.last_error_title == "AmoCRM rejected our access token (Invalid user name or password)"
    run_due_retries()
    assert state(order).state == OrderSync.State.SYNCED


@pytest.mark.django_db
def test_a_validation_error_fails_at_once_with_readable_text_and_no_secret(
    amo: Any, make_order: Callable[..., Order]
) -> None:
    connection = AmoConnection.get_solo()
    AmoConnection.objects.filter(pk=1).update(lead_field_ids={**connection.lead_field_ids, "source": 424242})
    with committed():
        order = make_order()

    row = state(order)
    assert (row.state, row.next_retry_at, row.attempts) == (OrderSync.State.FAILED, None, 1)
    assert row.last_error_status == 400
    assert "custom_fields_values" in row.last_error_title + row.last_error_detail
    for secret in (connection.access_token, connection.refresh_token, connection.client_secret):
        assert secret not in row.last_error_detail
    assert SyncLog.objects.get(order=order).outcome == "failed"
    assert run_due_retries() == 0


@pytest.mark.django_db
def test_the_eighth_failed_attempt_gives_up(amo: Any, make_order: Callable[..., Order]) -> None:
    from console.orders.services import order_set_status

    with committed():
        order = make_order()
    OrderSync.objects.filter(order=order).update(attempts=retries.max_attempts() - 1)
    amo.fault(kind="500", method="PATCH", times=10)
    with committed():
        order_set_status(order=order, status="reserved", origin="manager", actor="m")

    row = state(order)
    assert (row.state, row.attempts, row.next_retry_at) == (
        OrderSync.State.FAILED,
        retries.max_attempts(),
        None,
    )


@pytest.mark.django_db
def test_an_open_circuit_pauses_the_order_and_it_resumes_when_the_connection_is_healthy(
    amo: Any, make_order: Callable[..., Order]
) -> None:
    from console.amocrm.account.connection import connection_resume

    amo.fault(kind="blocked", times=1)
    with committed():
        order = make_order()
    row = state(order)
    assert (row.state, row.attempts) == (OrderSync.State.QUEUED, 0)
    assert row.next_retry_at is not None
    assert AmoConnection.get_solo().state == AmoConnection.State.BLOCKED
    assert run_due_retries() == 0

    connection_resume(connection_id=1)
    assert run_due_retries() == 1

    assert state(order).state == OrderSync.State.SYNCED
    assert len(entities(amo, "leads")) == 1


@pytest.mark.django_db
def test_under_random_faults_every_order_ends_synced_with_one_lead_each_and_one_contact_per_customer(
    amo: Any,
    make_order: Callable[..., Order],
    make_customer: Callable[..., Any],
    products: list,
    fast_client: None,
) -> None:
    from console.orders.services import order_set_status

    customers = [make_customer() for _ in range(4)]
    rng = random.Random(5)
    for kind in ("429", "500", "502", "drop", "drop_after"):
        amo.fault(kind=kind, probability=0.08, times=6, retry_after=0)
    amo.fault(kind="slow", seconds=1, probability=0.03, times=2)
    amo.fault(kind="401", probability=0.05, times=2)
    orders = []
    for n in range(12):
        with committed():
            order = make_order(customer=customers[n % 4], items=[(products[n % 3], 1 + n % 4)])
        orders.append(order)
        if rng.random() < 0.5:
            with committed():
                order_set_status(order=order, status="reserved", origin="manager", actor="m")

    for _round in range(20):
        if not OrderSync.objects.exclude(state=OrderSync.State.SYNCED).exists():
            break
        # Our retries wait 30 s; forced early here, they must still let a slow create finish on the server.
        time.sleep(1.2)
        run_due_retries()
    amo.clear_faults()
    run_due_retries()

    unsynced = OrderSync.objects.exclude(state=OrderSync.State.SYNCED)
    assert list(unsynced.values("order_id", "state", "attempts", "error_kind", "error")) == []
    leads = entities(amo, "leads")
    assert sorted(lead["id"] for lead in leads) == sorted(state(o).lead_id for o in orders)
    assert len(entities(amo, "contacts")) == 4
    for order in orders:
        order.refresh_from_db()
        assert lead_of(amo, order)["status_id"] == stage(order.status)[1]


@pytest.mark.django_db
def test_customers_of_one_company_share_one_amocrm_company_even_when_its_create_was_lost(
    amo: Any,
    make_order: Callable[..., Order],
    make_customer: Callable[..., Any],
    make_company: Callable[..., Any],
    fast_client: None,
) -> None:
    from console.amocrm.models import CompanyAmoLink

    company = make_company()
    first, second, third = (make_customer(customer_type="business", company=company) for _ in range(3))
    amo.fault(kind="slow", seconds=1.5, method="POST", path="/api/v4/companies", times=1)
    with committed():
        lost = make_order(customer=first)
    assert sent_at("company", company.pk) is not None

    with committed():
        waiting = make_order(customer=second)

    row = state(waiting)
    assert row.state == OrderSync.State.QUEUED and row.last_error_kind == "customer_busy"
    assert entities(amo, "companies") == []  # still being created by the slow request
    wait_until(lambda: entities(amo, "companies"), what="the slow create to land in amoCRM")
    run_due_retries()
    clear(amo)
    with committed():
        later = make_order(customer=third)
    made = calls(amo)  # the third customer's company is known: no search, no create

    companies = entities(amo, "companies")
    assert len(companies) == 1
    for order in (lost, waiting, later):
        assert state(order).state == OrderSync.State.SYNCED
        assert state(order).company_id == companies[0]["id"]
    assert CompanyAmoLink.objects.get(company=company).amo_id == companies[0]["id"]
    assert not [key for key in made if "/companies" in key and key.startswith(("GET", "POST"))]


def _order_notes(amo: Any, order: Order) -> list[str]:
    return [text for text in notes_of(amo, state(order).lead_id) if text.startswith("Заказ ")]


@pytest.mark.django_db
def test_a_note_whose_answer_was_lost_is_not_added_twice_by_a_change_made_before_it_settled(
    amo: Any, make_order: Callable[..., Order], fast_client: None
) -> None:
    """The deal is created, its note times out; a change synced at once waits for the note to settle, then
    finds it on the deal instead of sending it again."""
    from console.orders.services import order_set_status

    amo.fault(kind="slow", seconds=1.5, method="POST", path="/api/v4/leads/notes", times=1)
    with committed():
        order = make_order()
    assert state(order).lead_id and sent_at("note", order.pk) is not None

    with committed():
        order_set_status(order=order, status="reserved", origin="manager", actor="m")

    waiting = state(order)
    assert waiting.state == OrderSync.State.QUEUED and waiting.last_error_kind == "unknown_outcome_note"
    wait_until(lambda: _order_notes(amo, order), what="the slow note to land in amoCRM")
    run_due_retries()

    assert state(order).state == OrderSync.State.SYNCED
    assert len(_order_notes(amo, order)) == 1
    assert sent_at("note", order.pk) is None and lead_of(amo, order)["status_id"] == stage("reserved")[1]


def _elements(amo: Any) -> list[dict[str, Any]]:
    catalog_id = AmoConnection.get_solo().products_catalog_id
    response = amo.api("GET", f"catalogs/{catalog_id}/elements", params={"limit": 250})
    return response.json()["_embedded"]["elements"] if response.status_code == 200 else []


@pytest.mark.django_db
def test_a_catalog_element_whose_answer_was_lost_is_not_created_twice_by_a_change_made_before_it_settled(
    amo: Any, make_order: Callable[..., Order], fast_client: None
) -> None:
    """The element create times out (amoCRM carries it out late); a change synced at once waits for it to
    settle, then finds the element by its SKU instead of creating a second one."""
    from console.orders.services import order_set_status

    catalog_id = AmoConnection.get_solo().products_catalog_id
    amo.fault(
        kind="slow", seconds=1.5, method="POST", path=f"/api/v4/catalogs/{catalog_id}/elements", times=1
    )
    with committed():
        order = make_order()
    names = sorted(item.product.name for item in order.items.all())
    assert names and all(sent_at("element", item.product_id) for item in order.items.all())

    with committed():
        order_set_status(order=order, status="reserved", origin="manager", actor="m")

    waiting = state(order)
    assert waiting.state == OrderSync.State.QUEUED and waiting.last_error_kind == "unknown_outcome_element"

    def ours() -> list[str]:
        return sorted(e["name"] for e in _elements(amo) if e["name"] in names)

    wait_until(ours, what="the slow create to land in amoCRM")
    run_due_retries()

    assert state(order).state == OrderSync.State.SYNCED
    assert ours() == names  # one element each (the catalog holds the sandbox's own too)
    assert products_of(amo, state(order).lead_id)
