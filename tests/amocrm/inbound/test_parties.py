"""A linked contact's amoCRM edits: taken field by field, echoes ignored, a clash kept as a conflict.

The client here is a stand-in answering ``get_contact`` (what ``GET /api/v4/contacts/{id}`` returns)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from console.amocrm.inbound.conflicts import conflict_resolve
from console.amocrm.inbound.events import item_process
from console.amocrm.inbound.items import WebhookItem
from console.amocrm.models import CustomerAmoLink, Party, PartyConflict
from console.amocrm.parties import customer_sent, fields_of, is_pending
from console.customers.services import customer_update
from console.orders.models import Order

pytestmark = pytest.mark.django_db(transaction=True)
CONTACT = 4242


class Contacts:
    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc, self.reads = doc, 0

    def __call__(self) -> Contacts:
        return self

    def get_contact(self, contact_id: int) -> dict[str, Any]:
        self.reads += 1
        return self.doc


def contact(customer: Any, **change: str) -> dict[str, Any]:
    values = {"first_name": customer.first_name, "last_name": customer.last_name, **change}
    fields = [
        {"field_code": "PHONE", "values": [{"value": change.get("phone", customer.phone)}]},
        {"field_code": "EMAIL", "values": [{"value": customer.email}]},
    ]
    return {"id": CONTACT, **values, "custom_fields_values": fields, "updated_at": int(time.time()) + 5}


def deliver(client: Contacts) -> Any:
    return item_process(WebhookItem("contacts", "update", CONTACT), client_factory=client)


@pytest.fixture
def customer(make_order: Callable[..., Order]) -> Any:
    customer = make_order().customer
    CustomerAmoLink.objects.update_or_create(customer=customer, defaults={"contact_id": CONTACT})
    customer_sent(customer)
    return customer


def test_an_amocrm_edit_of_the_name_is_taken(customer: Any) -> None:
    result = deliver(Contacts(contact(customer, first_name="Пётр")))
    customer.refresh_from_db()
    assert (result.outcome, customer.first_name) == ("applied", "Пётр")
    assert result.reasons[0]["params"]["fields"] == ["first_name"]


def test_our_push_coming_back_changes_nothing(customer: Any) -> None:
    result = deliver(Contacts(contact(customer)))
    assert (result.outcome, result.reasons[0]["code"]) == ("echo", "party_same")


def test_an_edit_over_an_unsent_console_change_is_kept_as_a_conflict(customer: Any) -> None:
    customer_update(customer=customer, data={"first_name": "Ольга"}, origin="manager", actor="m")
    result = deliver(Contacts(contact(customer, first_name="Пётр")))
    customer.refresh_from_db()
    assert (result.outcome, customer.first_name) == ("ignored", "Ольга")
    conflict = PartyConflict.objects.get(party=Party.CONTACT, object_id=customer.pk)
    assert (conflict.field, conflict.ours, conflict.theirs) == ("first_name", "Ольга", "Пётр")


def conflicted(customer: Any) -> PartyConflict:
    customer_update(customer=customer, data={"first_name": "Ольга"}, origin="manager", actor="m")
    deliver(Contacts(contact(customer, first_name="Пётр")))
    return PartyConflict.objects.get(party=Party.CONTACT, object_id=customer.pk, resolved_at__isnull=True)


def test_taking_theirs_writes_amocrms_value_and_records_who(customer: Any) -> None:
    done = conflict_resolve(conflict_id=conflicted(customer).pk, keep_ours=False, actor="anna")
    customer.refresh_from_db()
    assert (customer.first_name, done.resolution, done.resolved_by) == ("Пётр", "theirs", "anna")


def test_keeping_ours_leaves_the_customer_and_pushes_it_again(customer: Any) -> None:
    done = conflict_resolve(conflict_id=conflicted(customer).pk, keep_ours=True, actor="anna")
    customer.refresh_from_db()
    state = fields_of(Party.CONTACT, customer.pk)["first_name"]
    assert (customer.first_name, done.resolution) == ("Ольга", "ours")
    assert is_pending(state, unsent=False)  # ours waits to go out again
    with pytest.raises(PartyConflict.DoesNotExist):
        conflict_resolve(conflict_id=done.pk, keep_ours=False)
