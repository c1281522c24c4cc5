"""The order page's read side: one timeline of what happened to an order (status changes, responsible
changes, sync attempts, webhook deliveries), the deal's stage by name, and the links to the deal, contact
and company in amoCRM."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils.translation import gettext as _

from console.amocrm.models import OrderLossReason, OrderSync, SyncLog, WebhookInbox
from console.amocrm.reasons import Code, Reason, reason
from console.orders.models import Order, OrderResponsibleChange, OrderStatusChange
from console.web.labels import Stages, actor_roles, amo_base_url, trigger_people

TIMELINE_LIMIT = 100


@dataclass(frozen=True)
class Event:
    """One line of the timeline; ``kind`` is "status", "responsible", "sync", "webhook" or "loss" (the
    order's loss reason), ``row`` the underlying row; ``reasons`` what it says as stored reasons (a
    responsible change)."""

    at: datetime
    kind: str
    row: Any
    reasons: list[Reason] = field(default_factory=list)


def _responsible_event(row: OrderResponsibleChange) -> Event:
    said = reason(Code.RESPONSIBLE_CHANGED, from_user=row.from_user, to_user=row.to_user)
    return Event(row.created_at, "responsible", row, [said])


def order_timeline(order: Order, *, limit: int = TIMELINE_LIMIT) -> list[Event]:
    """The newest ``limit`` events of ``order`` across status and responsible changes, sync log rows,
    webhook deliveries and its loss reason, newest first (five queries)."""
    changes = OrderStatusChange.objects.filter(order=order).order_by("-created_at", "-id")[:limit]
    managers = OrderResponsibleChange.objects.filter(order=order).order_by("-created_at", "-id")[:limit]
    attempts = SyncLog.objects.filter(order=order).order_by("-started_at", "-id")[:limit]
    hooks = WebhookInbox.objects.filter(order=order).defer("body", "headers", "results")
    hooks = hooks.order_by("-received_at", "-id")[:limit]
    events = [Event(row.created_at, "status", row) for row in changes]
    events += [_responsible_event(row) for row in managers]
    events += [Event(row.started_at, "sync", row) for row in attempts]
    events += [Event(row.received_at, "webhook", row) for row in hooks]
    events += [Event(row.set_at, "loss", row) for row in OrderLossReason.objects.filter(order=order)]
    events.sort(key=lambda event: event.at, reverse=True)
    return events[:limit]


def timeline_roles(events: list[Event]) -> dict[str, str]:
    """The roles of the people the timeline names (status changes and sync triggers), in one query."""
    names = [e.row.actor for e in events if e.kind == "status" and e.row.origin == "manager"]
    names += trigger_people(e.row.trigger for e in events if e.kind == "sync")
    return actor_roles(names)


def stage_name(pipeline_id: int | None, status_id: int | None, stages: Stages) -> str:
    """ "Pipeline → Stage" from ``stages`` (``stagemap.stage_labels()``, the pipeline cache); a stage missing
    from the cache is said so, never shown as raw ids; "" when the deal's stage was never seen."""
    if pipeline_id is None or status_id is None:
        return ""
    name = stages.get((int(pipeline_id), int(status_id)))
    return name or _("a stage missing from the pipeline cache (run the account setup again)")


@dataclass(frozen=True)
class AmoLinks:
    """Addresses of the order's deal, contact and company in amoCRM's web interface ("" when unknown)."""

    lead: str = ""
    contact: str = ""
    company: str = ""


def amo_links(sync: OrderSync | None) -> AmoLinks:
    """Links to the cards in amoCRM (``{base_url}/leads/detail/{id}``, ``/contacts/…``, ``/companies/…``)."""
    if sync is None:
        return AmoLinks()
    base = amo_base_url()
    if not base:
        return AmoLinks()

    def card(kind: str, entity_id: int | None) -> str:
        return f"{base}/{kind}/detail/{entity_id}" if entity_id else ""

    return AmoLinks(
        lead=card("leads", sync.lead_id),
        contact=card("contacts", sync.contact_id),
        company=card("companies", sync.company_id),
    )
