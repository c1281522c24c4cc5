"""Field-by-field sync of linked customers (amoCRM contacts) and companies: the side edited later wins.

Per field we keep the value both sides last agreed on (what we last sent, or last took from amoCRM) and
when the console last edited it (``PartyField``). An amoCRM value is judged by :func:`judge`:

- the same as ours: nothing to do (our own push coming back is an echo);
- the same as the value last agreed: amoCRM did not change it (a newer console edit goes out on its own);
- else amoCRM changed it: taken, unless the console's edit of the field is not sent yet or was made after
  amoCRM's edit time; then it is a conflict (``PartyConflict``) a manager resolves: keep ours (pushed
  again) or take theirs.

The values are compared normalised (phones in E.164, e-mails lower-cased), as text.
Contacts: https://www.amocrm.ru/developers/content/crm_platform/contacts-api,
companies: https://www.amocrm.ru/developers/content/crm_platform/companies-api
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from console.amocrm.api.client import cf_values
from console.amocrm.fields import COMPANY_FIELDS
from console.amocrm.models import CustomerAmoLink, Party, PartyConflict, PartyField
from console.customers.normalize import normalize_email, normalize_phone

CONTACT_KEYS = ("first_name", "last_name", "phone", "email")
# A company's own fields, then the requisites we keep in company custom fields (``fields.COMPANY_FIELDS``).
REQUISITE_KEYS = tuple(key.removeprefix("company_") for key in COMPANY_FIELDS)
COMPANY_KEYS = ("name", "phone", "email", *REQUISITE_KEYS)
KEYS = {Party.CONTACT: CONTACT_KEYS, Party.COMPANY: COMPANY_KEYS}


class Verdict(StrEnum):
    SAME = "same"  # amoCRM has our value (an echo of our push, or both sides agree)
    UNCHANGED = "unchanged"  # amoCRM still has the value last agreed: its side did not change it
    TAKE = "take"  # amoCRM's edit is the later one: it is applied
    CONFLICT = "conflict"  # the console's edit is not sent yet or is later: kept for a manager


def judge(
    *,
    ours: str,
    theirs: str,
    agreed: str | None,
    pending: bool,
    console_at: datetime | None,
    their_at: datetime | None,
) -> Verdict:
    """The rule for one field (pure): ``agreed`` is the value last sent or taken (None: not known),
    ``pending`` says the console's edit of it is not sent yet, ``their_at`` is amoCRM's edit time."""
    if theirs == ours:
        return Verdict.SAME
    if agreed is not None and theirs == agreed:
        return Verdict.UNCHANGED
    later_here = console_at is not None and their_at is not None and console_at > their_at
    return Verdict.CONFLICT if pending or later_here else Verdict.TAKE


def phone_text(raw: str) -> str:
    """A phone as compared: E.164 where it parses, else the text as typed."""
    try:
        return normalize_phone(raw or "")
    except ValidationError:
        return (raw or "").strip()


def customer_values(customer: Any) -> dict[str, str]:
    """The contact fields of a customer as compared."""
    return {
        "first_name": customer.first_name or "",
        "last_name": customer.last_name or "",
        "phone": customer.phone_normalized or phone_text(customer.phone),
        "email": normalize_email(customer.email),
    }


def company_values(company: Any) -> dict[str, str]:
    """The company fields (requisites included) of a company as compared."""
    values = {key: str(getattr(company, key) or "") for key in COMPANY_KEYS}
    values.update(phone=phone_text(company.phone), email=normalize_email(company.email))
    return values


def _first(doc: Mapping[str, Any], **where: Any) -> str:
    return next(iter(cf_values(dict(doc), **where)), "")


def contact_values(doc: Mapping[str, Any]) -> dict[str, str]:
    """The fields of an amoCRM contact (``GET /api/v4/contacts/{id}``) as compared."""
    return {
        "first_name": doc.get("first_name") or "",
        "last_name": doc.get("last_name") or "",
        "phone": phone_text(_first(doc, code="PHONE")),
        "email": normalize_email(_first(doc, code="EMAIL")),
    }


def amo_company_values(doc: Mapping[str, Any], field_ids: Mapping[str, int]) -> dict[str, str]:
    """The fields of an amoCRM company as compared; a requisite whose field id is unknown is left out."""
    values = {
        "name": doc.get("name") or "",
        "phone": phone_text(_first(doc, code="PHONE")),
        "email": normalize_email(_first(doc, code="EMAIL")),
    }
    for key in REQUISITE_KEYS:
        field_id = field_ids.get(f"company_{key}")
        if field_id:
            values[key] = _first(doc, field_id=int(field_id))
    return values


def fields_of(party: str, object_id: int) -> dict[str, PartyField]:
    return {row.field: row for row in PartyField.objects.filter(party=party, object_id=object_id)}


def fields_agreed(*, party: str, object_id: int, values: Mapping[str, str]) -> None:
    """Remember ``values`` as what both sides now hold (after a push, or after taking amoCRM's)."""
    now = timezone.now()
    PartyField.objects.bulk_create(
        [
            PartyField(party=party, object_id=object_id, field=k, value=v, agreed_at=now)
            for k, v in values.items()
        ],
        update_conflicts=True,
        unique_fields=["party", "object_id", "field"],
        update_fields=["value", "agreed_at"],
    )


def customer_sent(customer: Any) -> None:
    """The customer's contact fields were just pushed to amoCRM."""
    fields_agreed(party=Party.CONTACT, object_id=customer.pk, values=customer_values(customer))


def company_sent(company: Any) -> None:
    """The company's fields were just pushed to amoCRM."""
    fields_agreed(party=Party.COMPANY, object_id=company.pk, values=company_values(company))


def fields_edited(*, party: str, object_id: int, changed: Iterable[str]) -> None:
    """The console edited these fields now (only the ones we sync are kept)."""
    now = timezone.now()
    keys = sorted(set(changed) & set(KEYS[Party(party)]))
    PartyField.objects.bulk_create(
        [PartyField(party=party, object_id=object_id, field=k, console_at=now) for k in keys],
        update_conflicts=True,
        unique_fields=["party", "object_id", "field"],
        update_fields=["console_at"],
    )


def is_pending(row: PartyField | None, *, unsent: bool) -> bool:
    """The console's edit of a field is not sent yet (no record of the field: the link's pending flag)."""
    if row is None or row.console_at is None:
        return unsent and row is None
    return row.agreed_at is None or row.console_at > row.agreed_at


def customer_unsent(customer_id: int) -> bool:
    return CustomerAmoLink.objects.filter(customer_id=customer_id, update_pending=True).exists()


def company_unsent(company_id: int) -> bool:
    return CustomerAmoLink.objects.filter(customer__company_id=company_id, update_pending=True).exists()


def open_conflicts(party: str, object_id: int) -> list[PartyConflict]:
    return list(PartyConflict.objects.filter(party=party, object_id=object_id, resolved_at__isnull=True))


def conflict_keep(
    *, party: str, object_id: int, field: str, ours: str, theirs: str, their_at: datetime | None
) -> PartyConflict:
    """Store (or refresh: one open conflict per field) amoCRM's value that was not applied."""
    row, _ = PartyConflict.objects.update_or_create(
        party=party,
        object_id=object_id,
        field=field,
        resolved_at__isnull=True,
        defaults={"ours": ours, "theirs": theirs, "their_at": their_at},
    )
    return row
