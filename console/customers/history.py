"""The customers app's own history: a ``ContactChange`` row for every ``customer_changed`` and
``company_changed`` signal (sent once per committed change by ``console.customers.services``)."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from console.customers.models import ContactChange
from console.customers.signals import company_changed, customer_changed


def _row(*, action: str, changed: frozenset[str], origin: str, actor: str, **ids: Any) -> None:
    ContactChange.objects.create(
        action=action, fields=sorted(changed), origin=origin, actor=actor or "", **ids
    )


@receiver(customer_changed, dispatch_uid="customers.history.customer")
def record_customer_change(sender: Any, *, customer_id: int, **kwargs: Any) -> None:
    """Record a customer's change (the signal's ``action``, ``changed``, ``origin``, ``actor``)."""
    _row(customer_id=customer_id, **_facts(kwargs))


@receiver(company_changed, dispatch_uid="customers.history.company")
def record_company_change(sender: Any, *, company_id: int, **kwargs: Any) -> None:
    """Record a company's change."""
    _row(company_id=company_id, **_facts(kwargs))


def _facts(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {key: kwargs.get(key, "") for key in ("action", "origin", "actor")} | {
        "changed": frozenset(kwargs.get("changed") or ())
    }


def customer_changes(*, customer_id: int, company_id: int | None, limit: int = 50) -> list[ContactChange]:
    """The newest ``limit`` changes of the customer and of its company, newest first."""
    rows = ContactChange.objects.filter(customer_id=customer_id)
    if company_id:
        rows = rows | ContactChange.objects.filter(company_id=company_id)
    return list(rows.order_by("-created_at", "-id")[:limit])
