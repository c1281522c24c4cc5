"""Write services of the customers app: customers and companies.

Every service takes keyword-only arguments, validates the resulting row (``full_clean``) and raises Django's
``ValidationError`` with a field -> messages dict on bad input; the API turns that into a 400. Phones are
stored as entered plus ``phone_normalized`` (E.164); e-mails are stored lower-cased. Duplicates (phone,
e-mail, INN) are reported with a message naming the existing row.

Writes take ``origin`` ("storefront" | "manager" | "amocrm" | "system") and ``actor`` (who) and send
``customer_changed`` / ``company_changed`` (``console.customers.signals``) once, after commit, when something
changed; a write that changes nothing saves and sends nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.dispatch import Signal
from django.utils.translation import gettext as _

from console.customers.models import COMPANY_FIELDS, Company, Customer
from console.customers.normalize import normalize_email, normalize_phone
from console.customers.selectors import CONTACT_FIELDS, contact_clean, contact_differences
from console.customers.signals import company_changed, customer_changed

ORIGINS = frozenset({"storefront", "manager", "amocrm", "system"})
CUSTOMER_FIELDS = (
    "customer_type",
    "first_name",
    "last_name",
    "display_name",
    "email",
    "phone",
    "tags",
    "company",
    "is_active",
)


# --- Shared helpers ------------------------------------------------------------------------------------


def by_manager(user: Any) -> dict[str, str]:
    """``origin`` and ``actor`` of a write made by the signed-in ``user`` (console, admin or API)."""
    return {"origin": "manager", "actor": user.get_username()}


def _check_origin(origin: str) -> None:
    if origin not in ORIGINS:
        raise ValueError(f"unknown origin {origin!r}")


def _values(row: models.Model, fields: tuple[str, ...]) -> dict[str, Any]:
    """The fields' current values (a foreign key by its id), to tell afterwards what changed."""
    return {field: getattr(row, row._meta.get_field(field).attname) for field in fields}


def _changed(row: models.Model, before: dict[str, Any]) -> frozenset[str]:
    return frozenset(field for field, value in _values(row, tuple(before)).items() if value != before[field])


def _notify(signal: Signal, row: models.Model, *, action: str, changed: frozenset[str], **who: str) -> None:
    """Send ``signal`` for ``row`` after the surrounding transaction commits (``who``: origin, actor)."""
    sender = type(row)
    ids = {f"{sender._meta.model_name}_id": row.pk}

    def send() -> None:
        signal.send(sender=sender, action=action, changed=changed, **ids, **who)

    transaction.on_commit(send)


# --- Companies ---------------------------------------------------------------------------------------


def _company_check_inn_unique(*, inn: str, exclude_pk: int | None = None) -> None:
    if not inn:
        return
    existing = Company.objects.filter(inn=inn).exclude(pk=exclude_pk).first()
    if existing is not None:
        raise ValidationError(
            {
                "inn": _("A company with this INN already exists: %(name)s (#%(id)s).")
                % {"name": existing.name, "id": existing.pk}
            }
        )


def _company_apply(company: Company, data: dict[str, Any]) -> None:
    for field in COMPANY_FIELDS:
        if field in data:
            value = (data[field] or "").strip()
            setattr(company, field, normalize_email(value) if field == "email" else value)
    if "phone" in data and company.phone:
        company.phone = _phone_or_error(company.phone)


def _company_validate(company: Company) -> None:
    _company_check_inn_unique(inn=company.inn, exclude_pk=company.pk)
    company.full_clean(validate_constraints=False)


def _check(
    row: models.Model, data: dict[str, Any], apply: Callable[..., Any], validate: Callable[..., Any]
) -> None:
    """Apply ``data`` to a copy of ``row`` and validate it: the error a write would raise, nothing written."""
    candidate = copy.copy(row)
    apply(candidate, data)
    validate(candidate)


@dataclass(frozen=True)
class _Rules:
    """How one kind of row is written: its tracked fields, how data lands on it, its checks, its save and the
    signal that tells the integration."""

    fields: tuple[str, ...]
    apply: Callable[..., Any]
    validate: Callable[..., Any]
    save: Callable[..., Any]
    signal: Signal


def _write(rules: _Rules, row: models.Model, data: dict[str, Any], **who: str) -> Any:
    """Create (``row`` unsaved) or update ``row`` from ``data`` under ``rules``; an update changing nothing
    saves and sends nothing."""
    _check_origin(who["origin"])
    creating = row.pk is None
    before = _values(row, rules.fields)
    rules.apply(row, data)
    rules.validate(row)
    changed = frozenset(rules.fields) if creating else _changed(row, before)
    if changed:
        rules.save(row)
        _notify(rules.signal, row, action="created" if creating else "updated", changed=changed, **who)
    return row


def company_check(*, data: dict[str, Any], company: Company | None = None) -> None:
    """Raise the ``ValidationError`` that ``company_create`` (no ``company``) or ``company_update`` would
    raise for ``data``; writes nothing and leaves ``company`` as it is."""
    _check(company or Company(), data, _company_apply, _company_validate)


_COMPANY = _Rules(COMPANY_FIELDS, _company_apply, _company_validate, Company.save, company_changed)


def company_create(*, data: dict[str, Any], origin: str = "system", actor: str = "") -> Company:
    """Create a company from ``data`` (keys of ``COMPANY_FIELDS``; ``name`` required). INN must be unique."""
    return _write(_COMPANY, Company(), data, origin=origin, actor=actor)


def company_update(
    *, company: Company, data: dict[str, Any], origin: str = "system", actor: str = ""
) -> Company:
    """Change the given fields of ``company``; the INN stays unique. No change: nothing saved or sent."""
    return _write(_COMPANY, company, data, origin=origin, actor=actor)


def company_find_or_create(
    *, data: dict[str, Any], fill_blanks: bool = True, origin: str = "system", actor: str = ""
) -> tuple[Company, bool]:
    """The company with ``data["inn"]`` or a new one: (company, created). The existing company's empty
    fields are filled from ``data`` unless ``fill_blanks`` is false (then it is returned untouched).

    Without an INN a new company is always created: a name alone does not identify a legal entity.
    """
    inn = (data.get("inn") or "").strip()
    if inn:
        existing = Company.objects.filter(inn=inn).first()
        if existing is not None:
            blanks = {k: v for k, v in data.items() if k in COMPANY_FIELDS and v and not getattr(existing, k)}
            if blanks and fill_blanks:
                company_update(company=existing, data=blanks, origin=origin, actor=actor)
            return existing, False
    return company_create(data=data, origin=origin, actor=actor), True


def company_delete(*, company: Company) -> None:
    """Delete a company that no customer belongs to; otherwise a ``ValidationError``."""
    if company.customers.exists():
        raise ValidationError(_("This company still has customers; move or deactivate them first."))
    company.delete()


# --- Customers ---------------------------------------------------------------------------------------


def _phone_or_error(raw: str) -> str:
    try:
        return normalize_phone(raw)
    except ValidationError as exc:
        raise ValidationError({"phone": exc.messages}) from exc


def customer_describe(customer: Customer) -> str:
    """How an error message names an existing customer: "Name (#id)"."""
    return f"{customer.name} (#{customer.pk})"


def _customer_check_unique(customer: Customer) -> None:
    errors: dict[str, str] = {}
    others = Customer.objects.exclude(pk=customer.pk)
    if customer.phone_normalized:
        dup = others.filter(phone_normalized=customer.phone_normalized).first()
        if dup is not None:
            errors["phone"] = _("A customer with this phone already exists: %(c)s.") % {
                "c": customer_describe(dup)
            }
    if customer.email:
        dup = others.filter(email=customer.email).first()
        if dup is not None:
            errors["email"] = _("A customer with this e-mail already exists: %(c)s.") % {
                "c": customer_describe(dup)
            }
    if errors:
        raise ValidationError(errors)


def _customer_apply(customer: Customer, data: dict[str, Any]) -> None:
    for field in CUSTOMER_FIELDS:
        if field not in data:
            continue
        value = data[field]
        if isinstance(value, str):
            value = value.strip()
        setattr(customer, field, value)
    customer.email = normalize_email(customer.email)
    if "phone" in data:
        customer.phone_normalized = _phone_or_error(customer.phone) if customer.phone else ""


def _customer_validate(customer: Customer) -> None:
    errors: dict[str, str] = {}
    if not (customer.phone or customer.email):
        errors["phone"] = _("Give a phone or an e-mail.")
    if not (customer.first_name or customer.last_name or customer.display_name):
        errors["first_name"] = _("Give the customer's name.")
    if customer.customer_type == Customer.Type.BUSINESS and customer.company_id is None:
        errors["company"] = _("A business customer needs a company.")
    if errors:
        raise ValidationError(errors)
    _customer_check_unique(customer)
    customer.full_clean(validate_constraints=False)


def _customer_save(customer: Customer) -> None:
    """Save; a concurrent insert of the same phone/e-mail surfaces as the usual duplicate error."""
    try:
        with transaction.atomic():
            customer.save()
    except IntegrityError:
        _customer_check_unique(customer)
        raise


_CUSTOMER = _Rules(CUSTOMER_FIELDS, _customer_apply, _customer_validate, _customer_save, customer_changed)


def customer_check(*, data: dict[str, Any], customer: Customer | None = None) -> None:
    """Raise the ``ValidationError`` that ``customer_create`` (no ``customer``) or ``customer_update`` would
    raise for ``data``; writes nothing and leaves ``customer`` as it is."""
    _check(customer or Customer(), data, _customer_apply, _customer_validate)


def customer_create(*, data: dict[str, Any], origin: str = "system", actor: str = "") -> Customer:
    """Create a customer. ``data`` holds ``CUSTOMER_FIELDS`` (``company`` is a Company or None).

    Needs a name and a phone or e-mail; phone and e-mail are unique across customers.
    """
    return _write(_CUSTOMER, Customer(), data, origin=origin, actor=actor)


def customer_update(
    *, customer: Customer, data: dict[str, Any], origin: str = "system", actor: str = ""
) -> Customer:
    """Change the given fields of ``customer`` under the same rules as ``customer_create``. Nothing changed:
    nothing saved or sent."""
    return _write(_CUSTOMER, customer, data, origin=origin, actor=actor)


def customer_deactivate(*, customer: Customer, origin: str = "system", actor: str = "") -> Customer:
    """Soft delete: the customer stays (orders keep pointing at it) but is marked inactive."""
    _check_origin(origin)
    if customer.is_active:
        customer.is_active = False
        customer.save(update_fields=["is_active", "updated_at"])
        changed = frozenset({"is_active"})
        _notify(customer_changed, customer, action="deactivated", changed=changed, origin=origin, actor=actor)
    return customer


def customer_find(*, phone: str = "", email: str = "") -> Customer | None:
    """The customer with this phone (any spelling) or else this e-mail, or None. Phone wins over e-mail."""
    phone_normalized = normalize_phone(phone) if phone else ""
    if phone_normalized:
        found = Customer.objects.filter(phone_normalized=phone_normalized).first()
        if found is not None:
            return found
    email = normalize_email(email)
    if email:
        return Customer.objects.filter(email=email).first()
    return None


def _customer_fill_blanks(customer: Customer, data: dict[str, Any], **who: str) -> None:
    """Fill the existing customer's empty fields from ``data``; never overwrite what is known."""
    changes: dict[str, Any] = {}
    for field in ("first_name", "last_name", "display_name", "phone", "email", "company"):
        value = data.get(field)
        if value and not getattr(customer, field):
            changes[field] = value
    if not changes:
        return
    try:
        with transaction.atomic():
            customer_update(customer=customer, data=changes, **who)
    except ValidationError:
        # The new phone/e-mail belongs to someone else: keep the match and drop the extra contact.
        customer.refresh_from_db()


def customer_find_or_create(
    *, data: dict[str, Any], fill_blanks: bool = True, origin: str = "system", actor: str = ""
) -> tuple[Customer, bool]:
    """The inline customer of an order, found by phone, then e-mail, or created: (customer, created).

    ``data`` holds customer fields and optionally ``company_data`` (dict of company fields: the company is
    found by INN or created). An existing customer keeps its data; only its empty fields (and its company's)
    are filled in, and not even those when ``fill_blanks`` is false: then an existing customer is returned
    untouched and company details only serve a customer that is created.
    """
    data = dict(data)
    company_data = data.pop("company_data", None)
    phone = (data.get("phone") or "").strip()
    if phone:
        _phone_or_error(phone)
    existing = customer_find(phone=phone, email=data.get("email") or "")
    if existing is not None and not fill_blanks:
        return existing, False
    who = {"origin": origin, "actor": actor}
    if company_data:
        data["company"], _created = company_find_or_create(data=company_data, fill_blanks=fill_blanks, **who)
    if existing is not None:
        _customer_fill_blanks(existing, data, **who)
        return existing, False
    try:
        with transaction.atomic():
            return customer_create(data=data, **who), True
    except ValidationError:
        # Lost a race with a concurrent checkout of the same person: that row is the answer.
        existing = customer_find(phone=phone, email=data.get("email") or "")
        if existing is None:
            raise
        return existing, False


# --- Checkout details ----------------------------------------------------------------------------------


def _contact_company(customer: Customer, typed: dict[str, str], **who: str) -> Company:
    """The customer's company made to match the typed company details: its own company when the INN is the
    same (or none was typed), else the company with the typed INN, found or created."""
    company = customer.company
    if company is None or typed.get("inn", company.inn) != company.inn:
        company, _created = company_find_or_create(data=typed, fill_blanks=False, **who)
    return company_update(company=company, data=typed, **who)


def customer_apply_contact(
    *, customer: Customer, contact: Any, origin: str = "system", actor: str = ""
) -> Customer:
    """Make ``customer`` match ``contact`` (an order's ``checkout_contact``, see
    ``console.customers.selectors``) wherever ``contact_differences`` finds them apart, through
    ``customer_update`` (and ``company_update`` for company details). All or nothing: a ``ValidationError``
    (e.g. the typed phone belongs to another customer) writes nothing."""
    differences = contact_differences(customer=customer, contact=contact)
    if not differences:
        return customer
    contact = contact_clean(contact)
    data: dict[str, Any] = {d.field: contact[d.field] for d in differences if d.field in CONTACT_FIELDS}
    with transaction.atomic():
        if any(d.field.startswith("company.") for d in differences):
            data["company"] = _contact_company(customer, contact["company"], origin=origin, actor=actor)
        return customer_update(customer=customer, data=data, origin=origin, actor=actor)
