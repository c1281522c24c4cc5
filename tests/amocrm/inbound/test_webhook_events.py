"""Every event amoCRM sends for leads, contacts and companies is recognised: applied, or ignored with a plain
reason, never invalid. Bodies as in https://www.amocrm.ru/developers/content/crm_platform/webhooks-format"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from console.amocrm.inbound.events import HANDLERS, item_process
from console.amocrm.inbound.formparse import parse_form
from console.amocrm.inbound.items import WebhookItem, webhook_items
from console.amocrm.models import AmoConnection, OrderSync, StageMapping, WebhookInbox
from console.amocrm.reasons import Code, codes, reason
from console.orders.models import Order, OrderStatusChange
from tests.amocrm.inbound.hookbodies import PIPELINE, STAGES, T0, hook_body, last_row, lead_item
from tests.fixtures.samples import sample_path

pytestmark = pytest.mark.django_db

LEAD = 5001


def note(
    element_id: int, element_type: int = 2, note_id: int | None = 4000001, **extra: Any
) -> dict[str, Any]:
    """A note item as amoCRM sends it: everything under ``note``, no top-level ``id``."""
    body: dict[str, Any] = {
        "text": "Клиент просит доставку к 10:00",
        "note_type": 4,
        "element_type": element_type,
        "element_id": element_id,
        "account_id": 17769199,
        "date_create": "2024-03-01 12:00:00",
        "created_by": 2079676,
        "created_at": T0,
        "updated_at": T0,
    }
    if note_id is not None:
        body["id"] = note_id
    return {"note": body | extra}


def party(party_id: int, kind: str = "contact") -> dict[str, Any]:
    """A contact or company item (legacy v2 names; both arrive under ``contacts`` and differ by ``type``)."""
    return {
        "id": party_id,
        "name": "ООО Ромашка" if kind == "company" else "Анна Петрова",
        "responsible_user_id": 2079676,
        "date_create": T0 - 3600,
        "last_modified": T0,
        "modified_user_id": 2079718,
        "created_user_id": 2076025,
        "type": kind,
        "account_id": 17769199,
    }


LEAD_EVENTS = [
    (
        "add",
        lead_item(LEAD, "in_rent", T0),
        "applied",
        "status_set",
    ),
    ("update", lead_item(LEAD, "in_rent", T0), "applied", "status_set"),
    ("status", lead_item(LEAD, "in_rent", T0), "applied", "status_set"),
    ("responsible", lead_item(LEAD, "in_rent", T0, old_responsible_user_id=1), "applied", "status_set"),
    (
        "delete",
        {"id": LEAD, "status_id": STAGES["new"], "pipeline_id": PIPELINE},
        "applied",
        "deal_deleted",
    ),
    ("restore", {"id": LEAD}, "applied", "deal_restored"),
    ("restore", lead_item(LEAD, "in_rent", T0), "applied", "status_set"),
    ("note", note(LEAD), "ignored", "notes_not_synced"),
]


@pytest.mark.parametrize(("action", "item", "outcome", "reason"), LEAD_EVENTS)
def test_every_lead_event_is_recognised(
    post: Callable[..., Any],
    link: Callable[..., Order],
    action: str,
    item: dict[str, Any],
    outcome: str,
    reason: str,
) -> None:
    link(LEAD)
    assert post(hook_body({"leads": {action: [item]}})).status_code == 200
    row = last_row()
    assert (row.events, row.entity_ids) == (f"leads[{action}]", str(LEAD))
    assert row.outcome == outcome, row.reasons
    assert reason in codes(row.reasons)
    if reason == "status_set":
        assert row.reasons[-1]["params"]["status"] == "in_rent"
    assert row.results[0]["id"] == LEAD


@pytest.mark.parametrize("action", ["add", "update", "delete", "restore", "responsible", "note"])
@pytest.mark.parametrize("kind", ["contact", "company"])
def test_an_unlinked_contact_or_company_event_is_ignored_with_a_plain_reason(
    post: Callable[..., Any], stage_map: None, action: str, kind: str
) -> None:
    if action == "note":
        item = note(1110, element_type=1 if kind == "contact" else 3)
    elif action == "delete":
        item = {"id": 1110, "type": kind}
    else:
        item = party(1110, kind) | ({"old_responsible_user_id": 1} if action == "responsible" else {})
    post(hook_body({"contacts": {action: [item]}}))
    row = last_row()
    entity = "contacts" if kind == "contact" else "companies"
    expected = {"note": f"{entity}_not_synced", "delete": "party_deleted"}.get(action, "party_not_linked")
    assert (row.outcome, codes(row.reasons)) == ("ignored", [expected])
    assert (row.events, row.entity_ids) == (f"{entity}[{action}]", "1110")


@pytest.mark.parametrize(
    ("group", "action", "item"),
    [
        ("task", "delete", {"id": 77, "element_id": LEAD, "element_type": 2, "text": "Позвонить"}),
        ("contacts", "status", {"id": 1110, "type": "contact"}),
        ("leads", "merge", {"id": LEAD}),
    ],
)
def test_an_event_we_do_not_know_is_ignored_and_named(
    post: Callable[..., Any], stage_map: None, group: str, action: str, item: dict[str, Any]
) -> None:
    post(hook_body({group: {action: [item]}}))
    row = last_row()
    assert row.outcome == "ignored"
    assert row.reasons == [reason(Code.NOT_SYNCED, entity=group, action=action)]


def test_each_lead_party_and_task_event_has_its_handler() -> None:
    lead_actions = {"add", "update", "status", "responsible", "delete", "restore", "note"}
    party_actions = lead_actions - {"status"}
    expected = {("leads", a) for a in lead_actions} | {
        (e, a) for e in ("contacts", "companies") for a in party_actions
    }
    expected |= {("task", a) for a in ("add", "update", "responsible")}
    assert set(HANDLERS) == expected


# --- notes ----------------------------------------------------------------------------------------


def test_a_lead_note_takes_its_lead_id_from_element_id() -> None:
    (item,) = webhook_items(parse_form(hook_body({"leads": {"note": [note(LEAD, note_id=4000042)]}})))
    assert (item.entity, item.action, item.id, item.note_id, item.last_modified) == (
        "leads",
        "note",
        LEAD,
        4000042,
        T0,
    )


def test_a_note_on_a_company_arrives_under_contacts_and_is_read_as_a_company() -> None:
    (item,) = webhook_items(parse_form(hook_body({"contacts": {"note": [note(1110, element_type=3)]}})))
    assert (item.entity, item.id) == ("companies", 1110)


def test_a_note_without_a_lead_id_is_still_ignored_not_invalid(
    post: Callable[..., Any], stage_map: None
) -> None:
    post(hook_body({"leads": {"note": [{"note": {"id": 4000001, "text": "без сделки", "note_type": 4}}]}}))
    assert (last_row().outcome, last_row().reasons) == ("ignored", [reason(Code.NOTES_NOT_SYNCED)])


def test_notes_are_told_apart_by_their_own_id_and_a_repeated_note_is_a_duplicate(
    post: Callable[..., Any], link: Callable[..., Order]
) -> None:
    link(LEAD)
    post(hook_body({"leads": {"note": [note(LEAD, note_id=1)]}}))
    post(hook_body({"leads": {"note": [note(LEAD, note_id=2)]}}))  # same lead, same second, another note
    post(hook_body({"leads": {"note": [note(LEAD + 1, note_id=3)]}}))
    post(hook_body({"leads": {"note": [note(LEAD, note_id=1)]}}))  # amoCRM's retry of the first
    outcomes = list(WebhookInbox.objects.order_by("id").values_list("outcome", flat=True))
    assert outcomes == ["ignored", "ignored", "ignored", "duplicate"]


def test_notes_without_an_id_are_told_apart_by_their_content(
    post: Callable[..., Any], stage_map: None
) -> None:
    post(hook_body({"leads": {"note": [note(LEAD, note_id=None, text="первая")]}}))
    post(hook_body({"leads": {"note": [note(LEAD, note_id=None, text="вторая")]}}))
    post(hook_body({"leads": {"note": [note(LEAD, note_id=None, text="первая")]}}))
    outcomes = list(WebhookInbox.objects.order_by("id").values_list("outcome", flat=True))
    assert outcomes == ["ignored", "ignored", "duplicate"]


def test_a_note_never_counts_as_a_stage_event_of_its_lead(
    post: Callable[..., Any], link: Callable[..., Order]
) -> None:
    order = link(LEAD)
    post(hook_body({"leads": {"note": [note(LEAD)]}}))
    post(hook_body({"leads": {"status": [lead_item(LEAD, "reserved", T0)]}}))
    assert list(WebhookInbox.objects.order_by("id").values_list("outcome", flat=True)) == [
        "ignored",
        "applied",
    ]
    order.refresh_from_db()
    assert order.status == "reserved"


def test_a_body_mixing_a_stage_move_and_a_note_applies_the_move(
    post: Callable[..., Any], link: Callable[..., Order]
) -> None:
    link(LEAD)
    post(hook_body({"leads": {"status": [lead_item(LEAD, "reserved", T0)], "note": [note(LEAD)]}}))
    row = last_row()
    assert (row.outcome, row.reasons) == (
        "applied",
        [reason(Code.COUNTS, counts={"applied": 1, "ignored": 1})],
    )
    assert [r["action"] for r in row.results] == ["status", "note"]


def test_item_process_reports_the_item_it_judged() -> None:
    result = item_process(WebhookItem("leads", "note", LEAD, note_id=9))
    assert (result.outcome, result.entity, result.action, result.id) == ("ignored", "leads", "note", LEAD)


# --- recorded amoCRM bodies -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "event", "outcome", "reason"),
    [
        ("webhook-18-add_company.txt", "companies[add]", "ignored", "party_not_linked"),
        # A deal a person created (no order owns it): its draft needs a read of the deal, and this account
        # is not connected, so the delivery waits.
        ("webhook-19-add_lead-custom_fields.txt", "leads[add]", "pending", "waiting_circuit"),
        ("webhook-20-status_lead-custom_fields.txt", "leads[status]", "applied", "status_set"),
        ("webhook-21-update_lead-custom_fields.txt", "leads[update]", "applied", "status_set"),
        ("webhook-22-responsible_lead.txt", "leads[responsible]", "applied", "status_set"),
        ("webhook-23-add_contact.txt", "contacts[add]", "ignored", "party_not_linked"),
        ("webhook-24-restore_contact.txt", "contacts[restore]", "ignored", "party_not_linked"),
    ],
)
def test_every_recorded_amocrm_body_is_recognised(
    post: Callable[..., Any],
    link: Callable[..., Order],
    connection: AmoConnection,
    name: str,
    event: str,
    outcome: str,
    reason: str,
) -> None:
    body = sample_path(name).read_bytes()
    AmoConnection.objects.filter(pk=connection.pk).update(subdomain="test000002", account_id=None)
    # The samples' lead 31926520 sits at stage 2116/10216994 (captured March 2016): map it, link an order
    # pushed and changed here before then.
    StageMapping.objects.filter(order_status="in_progress").update(pipeline_id=2116, status_id=10216994)
    order = link(31926520)
    long_ago = dt.datetime(2016, 1, 1, tzinfo=dt.UTC)
    OrderSync.objects.filter(order=order).update(last_synced_at=long_ago)
    OrderStatusChange.objects.filter(order=order).update(created_at=long_ago)
    assert post(body).status_code == 200
    row = last_row()
    assert row.events == event
    assert row.outcome == outcome, row.reasons
    assert reason in codes(row.reasons)
    if reason == "status_set":
        assert row.reasons[-1]["params"]["status"] == "in_progress"
