"""Read side of the customers app: the contact details a storefront checkout typed, and where they differ
from what the customer record holds.

A *contact* is a plain JSON-able dict kept on the order (``Order.checkout_contact``): the non-empty text
values of ``CONTACT_FIELDS`` (``customer_type`` only when "business": "individual" is the storefront's
default and says nothing) and, when company details were typed, ``"company"``: a dict of the non-empty
``COMPANY_FIELDS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from console.customers.models import COMPANY_FIELDS, Company, Customer
from console.customers.normalize import normalize_email, normalize_phone

CONTACT_FIELDS = ("customer_type", "first_name", "last_name", "display_name", "phone", "email")


@dataclass(frozen=True)
class ContactDifference:
    """One field where the typed contact and the stored customer disagree (values as people read them)."""

    field: str  # "first_name", ... or "company.inn", ...
    label: str
    stored: str
    typed: str


def _texts(source: Any, fields: tuple[str, ...]) -> dict[str, str]:
    if not isinstance(source, dict):
        return {}
    values = {field: source.get(field) for field in fields}
    return {
        field: value.strip() for field, value in values.items() if isinstance(value, str) and value.strip()
    }


def _contact(fields: dict[str, Any], company: Any) -> dict[str, Any]:
    contact: dict[str, Any] = _texts(fields, CONTACT_FIELDS)
    if contact.get("customer_type") != Customer.Type.BUSINESS:
        contact.pop("customer_type", None)
    company_fields = _texts(company, COMPANY_FIELDS)
    if company_fields:
        contact["company"] = company_fields
    return contact


def contact_from_data(data: dict[str, Any]) -> dict[str, Any]:
    """The contact in the input of ``customer_find_or_create`` (customer fields, ``company_data``)."""
    return _contact(data, data.get("company_data"))


def contact_clean(contact: Any) -> dict[str, Any]:
    """A stored contact with only the known keys and text values (anything else in the JSON is ignored)."""
    return _contact(contact, contact.get("company")) if isinstance(contact, dict) else {}


def _phone_key(raw: str) -> str:
    try:
        return normalize_phone(raw)
    except ValidationError:
        return raw.strip()


def _same(field: str, stored: str, typed: str) -> bool:
    """Equal as the services would store them: phones in any spelling, e-mails in any case."""
    if field == "phone":
        return _phone_key(stored) == _phone_key(typed)
    if field == "email":
        return normalize_email(stored) == normalize_email(typed)
    return stored.strip() == typed.strip()


def _shown(field: str, value: str) -> str:
    if field == "customer_type" and value in Customer.Type.values:
        return str(Customer.Type(value).label)
    return value


def contact_differences(*, customer: Customer, contact: Any) -> list[ContactDifference]:
    """The fields where ``contact`` (e.g. an order's ``checkout_contact``) differs from ``customer`` and its
    company, in display order. A field the contact does not name is no difference; company fields are
    compared with the customer's company (blank when it has none)."""
    contact = contact_clean(contact)
    differences = [
        ContactDifference(
            field=field,
            label=capfirst(Customer._meta.get_field(field).verbose_name),
            stored=_shown(field, getattr(customer, field)),
            typed=_shown(field, contact[field]),
        )
        for field in CONTACT_FIELDS
        if field in contact and not _same(field, getattr(customer, field), contact[field])
    ]
    company = customer.company
    for field, typed in contact.get("company", {}).items():
        stored = getattr(company, field) if company is not None else ""
        if not _same(field, stored, typed):
            label = _("Company: %(field)s") % {"field": Company._meta.get_field(field).verbose_name}
            differences.append(
                ContactDifference(field=f"company.{field}", label=label, stored=stored, typed=typed)
            )
    return differences
