"""Finding a customer's contact and company that already exist in amoCRM, before creating new ones.

One search per contact and one per company, confirmed in the found entities' fields, because amoCRM's
``query`` matches any filled field: https://www.amocrm.ru/developers/content/crm_platform/duplication-control
"""

from __future__ import annotations

import re
from typing import Any

from console.amocrm.api.client import AmoCRMClient, cf_values


def phone_key(value: str) -> str:
    """The last 10 digits of a phone (``+7 999 …``, ``8 999 …`` and ``999 …`` are the same number)."""
    digits = re.sub(r"\D", "", value or "")
    return digits[-10:] if len(digits) >= 10 else digits


def find_contact_id(client: AmoCRMClient, customer: Any) -> int | None:
    """The amoCRM contact of ``customer`` found with one search: by phone (last 10 digits, confirmed in the
    PHONE values, which matches the +7/8/bare spellings alike) when the customer has a phone, else by e-mail.

    One query per new customer (not one per phone spelling) keeps a bulk push under 0.5 calls per order. The
    phone is our customers' identity (unique in the customers table), so a contact that only shares the
    e-mail is deliberately not merged. Among several matches the oldest (lowest id) wins.
    """
    key = phone_key(customer.phone_normalized or customer.phone)
    if key:
        found = client.search("contacts", key)
        hits = [c for c in found if key in {phone_key(v) for v in cf_values(c, code="PHONE")}]
    elif customer.email:
        wanted = customer.email.strip().casefold()
        found = client.search("contacts", customer.email.strip())
        hits = [c for c in found if wanted in {v.strip().casefold() for v in cf_values(c, code="EMAIL")}]
    else:
        hits = []
    return min(int(c["id"]) for c in hits) if hits else None


def _same_name(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def find_company_id(client: AmoCRMClient, *, inn: str | None = None, name: str | None = None) -> int | None:
    """The company with this INN in any custom field, else with exactly this name (case and spaces aside),
    with one search each; the oldest (lowest id) wins."""
    if inn and inn.strip():
        wanted = re.sub(r"\D", "", inn)
        hits = [
            c
            for c in client.search("companies", wanted)
            if any(
                re.sub(r"\D", "", str(v.get("value", ""))) == wanted
                for f in c.get("custom_fields_values") or []
                for v in f.get("values") or []
            )
        ]
        if hits:
            return min(int(c["id"]) for c in hits)
    if name and name.strip():
        hits = [
            c
            for c in client.search("companies", " ".join(name.split()))
            if _same_name(c.get("name", ""), name)
        ]
        if hits:
            return min(int(c["id"]) for c in hits)
    return None
