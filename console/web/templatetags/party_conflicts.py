"""``{% party_conflicts customer %}``: the open contact/company conflicts of a customer (the partial
``customers/_conflicts.html``), shown on the customer's orders until the customer page has its own."""

from __future__ import annotations

from typing import Any

from django import template

from console.amocrm.models import Party
from console.amocrm.parties import open_conflicts

register = template.Library()


@register.inclusion_tag("customers/_conflicts.html", takes_context=True)
def party_conflicts(context: Any, customer: Any) -> dict[str, Any]:
    """The customer's open conflicts, then those of its company."""
    rows = open_conflicts(Party.CONTACT, customer.pk)
    if customer.company_id:
        rows += open_conflicts(Party.COMPANY, customer.company_id)
    return {"conflicts": rows, "request": context.get("request"), "csrf_token": context.get("csrf_token")}
