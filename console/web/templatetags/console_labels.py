"""Words for stored codes, and errors people can act on: ``{% load console_labels %}``.

Filters: ``sync_event``, ``sync_action``, ``sync_trigger``, ``sync_outcome`` (sync log codes),
``webhook_events`` (``WebhookInbox.events``), ``webhook_event:action`` (on an entity), ``webhook_outcome``,
``order_status``, ``reasons_text`` (stored reasons in words), ``short_ids`` ("1, 2, 3 +4"),
``webhook_counter``.
Tags: ``{% sync_error row %}`` (an ``OrderSync`` or ``SyncLog`` error: the kind's message, amoCRM's text in a
``<details>``; ``headline=False`` for the details only), ``{% amo_link "contacts" id %}`` (a link to the card
in amoCRM; the view puts ``amo_base_url`` in the context), ``{% webhook_reason reasons %}`` (stored
reasons in words; the view puts ``stage_names`` in the context), ``{% stage_name pipeline_id status_id %}``.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from console.web import labels
from console.web.errors import shown_error
from console.web.reasons import shown_reasons

register = template.Library()

register.filter("sync_event", labels.sync_event_label)
register.filter("sync_action", labels.sync_action_label)
register.filter("sync_trigger", labels.sync_trigger_label)
register.filter("sync_outcome", labels.sync_outcome_label)
register.filter("webhook_events", labels.webhook_events_label)
register.filter("webhook_event", labels.webhook_event_label)
register.filter("webhook_outcome", labels.webhook_outcome_label)
register.filter("order_status", labels.order_status_label)


@register.filter
def reasons_text(value: Any) -> str:
    """A stored reason (or list of them) in words, plain text (mails, titles)."""
    return shown_reasons(value if isinstance(value, list) else [value], {}).text


AMO_CARDS = {"leads": _("Deal"), "contacts": _("Contact"), "companies": _("Company")}


@register.filter
def webhook_counter(key: str) -> str:
    return str(labels.WEBHOOK_COUNTERS.get(key, key))


@register.filter
def short_ids(value: str, shown: int = 3) -> str:
    """Comma-separated ids cut to the first ``shown``: "5001, 5002, 5003 +12" (the full list: a title)."""
    ids = [part.strip() for part in (value or "").split(",") if part.strip()]
    head = ", ".join(ids[:shown])
    return f"{head} +{len(ids) - shown}" if len(ids) > shown else head


@register.inclusion_tag("sync/_error.html")
def sync_error(row: Any, headline: bool = True) -> dict[str, Any]:
    return {"error": shown_error(row) if row is not None else None, "headline": headline}


# A contact or company our records name (``amo_parties`` in the context: ``labels.party_names``).
NAMED_CARD = _("%(card)s “%(name)s”")
# A contact or company we hold no record of: no amoCRM number in the words, only in the link.
UNNAMED_CARD = {"contacts": _("a contact in amoCRM"), "companies": _("a company in amoCRM")}


@register.simple_tag(takes_context=True)
def amo_link(context: template.Context, entity: str, entity_id: Any) -> str:
    """ "Deal 123" linking to ``{base_url}/leads/detail/123`` in amoCRM ("—" without an id); a contact or
    company by our name for it (with a link to its card in the console), never by amoCRM's number."""
    if not entity_id:
        return "—"
    party = (context.get("amo_parties") or {}).get((entity, _int(entity_id)))
    if party:
        label = str(NAMED_CARD) % {"card": AMO_CARDS.get(entity, entity), "name": party[0]}
    elif entity in UNNAMED_CARD:
        label = str(UNNAMED_CARD[entity])
    else:
        label = f"{AMO_CARDS.get(entity, entity)} {entity_id}"
    base = context.get("amo_base_url") or ""
    shown = format_html("{}", label)
    if base:
        url = f"{base}/{entity}/detail/{entity_id}"
        shown = format_html('<a href="{}" target="_blank" rel="noopener">{}</a>', url, label)
    here = getattr(context.get("request"), "path", "")
    if party and reverse(party[1], args=[party[2]]) != here:  # no link to the page it is on
        card = format_html(
            ' <a href="{}" class="small">{}</a>', reverse(party[1], args=[party[2]]), _("card")
        )
        shown = format_html("{}{}", shown, card)
    return shown


def _int(value: Any) -> int | None:
    return int(value) if str(value).isdigit() else None


@register.inclusion_tag("webhooks/_reason.html", takes_context=True)
def webhook_reason(context: template.Context, reasons: Any) -> dict[str, Any]:
    return {"reason": shown_reasons(reasons or [], context.get("stage_names") or {})}


@register.simple_tag(takes_context=True)
def status_by(context: template.Context, row: Any) -> str:
    """Who changed an order's status (an ``OrderStatusChange``), the person by role: the view puts
    ``actor_roles`` (``labels.actor_roles``) in the context."""
    return labels.status_change_by(row.origin, row.actor, context.get("actor_roles"))


@register.simple_tag(takes_context=True)
def stage_name(context: template.Context, pipeline_id: Any, status_id: Any) -> str:
    if pipeline_id in (None, "") or status_id in (None, ""):
        return "—"
    return labels.stage_label(pipeline_id, status_id, context.get("stage_names") or {})
