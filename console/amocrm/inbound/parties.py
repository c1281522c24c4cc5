"""Contact and company webhooks: a linked customer's or company's amoCRM edits come back, field by field.

``contacts[add|update|restore|responsible][i]`` names the entity; ``type`` (contact or company) is
documented on add and delete only, so an item without it is read as a contact and, when no customer is
linked to that id, as a company (amoCRM's contacts and companies share one id space). The entity is re-read
from the API (once per delivery: ``inbox._OneReadPerDeal``) and judged by ``amocrm.parties`` through the
customers app's services (origin ``amocrm``, so nothing is pushed back).
https://www.amocrm.ru/developers/content/crm_platform/webhooks-format
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from console.amocrm import parties
from console.amocrm.account.access import account_client
from console.amocrm.inbound.items import WebhookItem
from console.amocrm.inbound.rules import ItemResult, Outcome
from console.amocrm.models import AmoConnection, CompanyAmoLink, CustomerAmoLink, Party
from console.amocrm.reasons import Code, reason
from console.customers.models import Company, Customer
from console.customers.services import company_update, customer_update

ACTOR = "amoCRM"


def _their_time(doc: Mapping[str, Any]) -> datetime | None:
    stamp = doc.get("updated_at")
    return datetime.fromtimestamp(int(stamp), UTC) if isinstance(stamp, int) else None


def _judge_all(
    party: str, object_id: int, ours: dict[str, str], theirs: dict[str, str], their_at: datetime | None
) -> tuple[dict[str, str], dict[str, str]]:
    """``(to take, in conflict)``: amoCRM's values of the fields it changed, split by the rule."""
    rows = parties.fields_of(party, object_id)
    unsent = (
        parties.customer_unsent(object_id) if party == Party.CONTACT else parties.company_unsent(object_id)
    )
    take: dict[str, str] = {}
    conflicts: dict[str, str] = {}
    for key, value in theirs.items():
        row = rows.get(key)
        verdict = parties.judge(
            ours=ours[key],
            theirs=value,
            agreed=row.value if row is not None and row.agreed_at else None,
            pending=parties.is_pending(row, unsent=unsent),
            console_at=row.console_at if row is not None else None,
            their_at=their_at,
        )
        if verdict == parties.Verdict.TAKE:
            take[key] = value
        elif verdict == parties.Verdict.CONFLICT:
            conflicts[key] = value
    return take, conflicts


def _settle(
    party: str, row: Customer | Company, theirs: dict[str, str], their_at: datetime | None
) -> ItemResult:
    """Take what amoCRM changed later, keep the rest as conflicts; the reasons name the fields."""
    values = parties.customer_values if party == Party.CONTACT else parties.company_values
    ours = values(row)
    take, conflicts = _judge_all(party, row.pk, ours, theirs, their_at)
    for key, value in conflicts.items():
        parties.conflict_keep(
            party=party, object_id=row.pk, field=key, ours=ours[key], theirs=value, their_at=their_at
        )
    reasons = []
    if take:
        try:
            with transaction.atomic():
                apply_values(party, row, take)
        except ValidationError as exc:
            fields = sorted(getattr(exc, "message_dict", {}) or take)
            return ItemResult(outcome=Outcome.INVALID, reasons=[reason(Code.PARTY_REFUSED, fields=fields)])
        parties.fields_agreed(party=party, object_id=row.pk, values=take)
        reasons.append(reason(Code.PARTY_TAKEN, fields=sorted(take)))
    if conflicts:
        reasons.append(reason(Code.PARTY_CONFLICT, fields=sorted(conflicts)))
    if not reasons:
        return ItemResult(outcome=Outcome.ECHO, reasons=[reason(Code.PARTY_SAME)])
    return ItemResult(outcome=Outcome.APPLIED if take else Outcome.IGNORED, reasons=reasons)


def apply_values(party: str, row: Customer | Company, data: dict[str, str]) -> None:
    """Write amoCRM's values through the customers app (origin ``amocrm``: nothing is pushed back)."""
    if party == Party.CONTACT:
        customer_update(customer=row, data=data, origin="amocrm", actor=ACTOR)
    else:
        company_update(company=row, data=data, origin="amocrm", actor=ACTOR)


def _contact(item: WebhookItem, client: Any) -> ItemResult | None:
    link = CustomerAmoLink.objects.filter(contact_id=item.id).select_related("customer").first()
    if link is None:
        return None
    return _judged(Party.CONTACT, link.customer, client.get_contact(item.id), parties.contact_values)


def _company(item: WebhookItem, client: Any) -> ItemResult | None:
    link = CompanyAmoLink.objects.filter(amo_id=item.id).select_related("company").first()
    if link is None:
        return None

    def values(doc: Mapping[str, Any]) -> dict[str, str]:
        return parties.amo_company_values(doc, AmoConnection.get_solo().company_field_ids or {})

    return _judged(Party.COMPANY, link.company, client.get_company(item.id), values)


def _judged(
    party: str,
    row: Any,
    doc: Mapping[str, Any] | None,
    values_of: Callable[[Mapping[str, Any]], dict[str, str]],
) -> ItemResult:
    """The outcome of one read of a linked contact or company (``doc``; None: gone from amoCRM)."""
    if doc is None:
        return ItemResult(outcome=Outcome.IGNORED, reasons=[reason(Code.PARTY_GONE)], http_calls=1)
    result = _settle(party, row, values_of(doc), _their_time(doc))
    result.http_calls = 1
    return result


def party_changed(item: WebhookItem, client_factory: Callable[[], Any] | None) -> ItemResult:
    """add, update, restore, responsible of a contact or company: its edits judged field by field."""
    if item.id is None:
        return ItemResult(outcome=Outcome.INVALID, reasons=[reason(Code.NO_ENTITY_ID)])
    client = (client_factory or account_client)()
    typed = item.fields.get("type")
    steps = (_company,) if item.entity == "companies" else (_contact,)
    if item.entity == "contacts" and typed != "contact":
        steps = (_contact, _company)  # ``type`` missing: a contact, else a company with that id
    for step in steps:
        result = step(item, client)
        if result is not None:
            return result
    return ItemResult(outcome=Outcome.IGNORED, reasons=[reason(Code.PARTY_NOT_LINKED)])


def party_deleted(item: WebhookItem, client_factory: Callable[[], Any] | None) -> ItemResult:
    """A contact or company deleted in amoCRM: our customer stays as it is (said in the reason)."""
    return ItemResult(outcome=Outcome.IGNORED, reasons=[reason(Code.PARTY_DELETED)])
