"""Write services of the customers app: customers and companies.

Every service takes keyword-only arguments, validates the resulting row (``full_clean``) and raises Django's
``ValidationError`` with a field -> messages dict on bad input; the API turns that into a 400. Phones are
stored as entered plus ``phone_normalized`` (E.164); e-mails are stored lower-cased. Duplicates (phone,
e-mail, INN) are reported with a message naming the existing row.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from console.customers.models import Company, Customer
from console.customers.normalize import normalize_email, normalize_phone

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
COMPANY_FIELDS = ("name", "legal_name", "inn", "kpp", "ogrn", "legal_address", "email", "phone")


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


def company_create(*, data: dict[str, Any]) -> Company:
    """Create a company from ``data`` (keys of ``COMPANY_FIELDS``; ``name`` required). INN must be unique."""
    company = Company()
    _company_apply(company, data)
    _company_check_inn_unique(inn=company.inn)
    company.full_clean(validate_constraints=False)
    company.save()
    return company


def company_update(*, company: Company, data: dict[str, Any]) -> Company:
    """Change the given fields of ``company``; the INN stays unique."""
    _company_apply(company, data)
    _company_check_inn_unique(inn=company.inn, exclude_pk=company.pk)
    company.full_clean(validate_constraints=False)
    company.save()
    return company


def company_find_or_create(*, data: dict[str, Any]) -> tuple[Company, bool]:
    """The company with ``data["inn"]`` (its blanks filled from ``data``) or a new one: (company, created).

    Without an INN a new company is always created: a name alone does not identify a legal entity.
    """
    inn = (data.get("inn") or "").strip()
    if inn:
        existing = Company.objects.filter(inn=inn).first()
        if existing is not None:
            blanks = {k: v for k, v in data.items() if k in COMPANY_FIELDS and v and not getattr(existing, k)}
            if blanks:
                company_update(company=existing, data=blanks)
            return existing, False
    return company_create(data=data), True


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


def customer_create(*, data: dict[str, Any]) -> Customer:
    """Create a customer. ``data`` holds ``CUSTOMER_FIELDS`` (``company`` is a Company or None).

    Needs a name and a phone or e-mail; phone and e-mail are unique across customers.
    """
    customer = Customer()
    _customer_apply(customer, data)
    _customer_validate(customer)
    _customer_save(customer)
    return customer


def customer_update(*, customer: Customer, data: dict[str, Any]) -> Customer:
    """Change the given fields of ``customer`` under the same rules as ``customer_create``."""
    _customer_apply(customer, data)
    _customer_validate(customer)
    _customer_save(customer)
    return customer


def customer_deactivate(*, customer: Customer) -> Customer:
    """Soft delete: the customer stays (orders keep pointing at it) but is marked inactive."""
    if customer.is_active:
        customer.is_active = False
        customer.save(update_fields=["is_active", "updated_at"])
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


def _customer_fill_blanks(customer: Customer, data: dict[str, Any]) -> None:
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
            customer_update(customer=customer, data=changes)
    except ValidationError:
        # The new phone/e-mail belongs to someone else: keep the match and drop the extra contact.
        customer.refresh_from_db()


def customer_find_or_create(*, data: dict[str, Any]) -> tuple[Customer, bool]:
    """The storefront's inline customer, found by phone, then e-mail, or created: (customer, created).

    ``data`` holds customer fields and optionally ``company_data`` (dict of company fields: the company is
    found by INN or created). An existing customer keeps its data; only its empty fields are filled in.
    """
    data = dict(data)
    company_data = data.pop("company_data", None)
    if company_data:
        data["company"], _created = company_find_or_create(data=company_data)
    phone = (data.get("phone") or "").strip()
    if phone:
        _phone_or_error(phone)
    existing = customer_find(phone=phone, email=data.get("email") or "")
    if existing is not None:
        _customer_fill_blanks(existing, data)
        return existing, False
    try:
        with transaction.atomic():
            return customer_create(data=data), True
    except ValidationError:
        # Lost a race with a concurrent checkout of the same person: that row is the answer.
        existing = customer_find(phone=phone, email=data.get("email") or "")
        if existing is None:
            raise
        return existing, False


def company_delete(*, company: Company) -> None:
    """Delete a company that no customer belongs to; otherwise a ``ValidationError``."""
    if company.customers.exists():
        raise ValidationError(_("This company still has customers; move or deactivate them first."))
    company.delete()
