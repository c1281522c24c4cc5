"""``{% party_conflicts customer %}``: the open contact/company conflicts of a customer (the partial
``customers/_conflicts.html``), shown on the customer's card and
on its orders' pages."""

from __future__ import annotations

from typing import Any

from django import template
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Model
from django.utils.text import capfirst

from console.amocrm.models import Party
from console.amocrm.parties import open_conflicts
from console.customers.models import Company, Customer

register = template.Library()


def field_label(model: type[Model], key: str) -> str:
    """The field's name as the forms say it ("Last name"), the key itself for a field the model lacks."""
    try:
        return capfirst(model._meta.get_field(key).verbose_name)
    except FieldDoesNotExist:
        return key


@register.inclusion_tag("customers/_conflicts.html", takes_context=True)
def party_conflicts(context: Any, customer: Any) -> dict[str, Any]:
    """The customer's open conflicts, then those of its company."""
    rows = open_conflicts(Party.CONTACT, customer.pk)
    for row in rows:
        row.label = field_label(Customer, row.field)
    if customer.company_id:
        companies = open_conflicts(Party.COMPANY, customer.company_id)
        for row in companies:
            row.label = field_label(Company, row.field)
        rows += companies
    return {"conflicts": rows, "request": context.get("request"), "csrf_token": context.get("csrf_token")}
