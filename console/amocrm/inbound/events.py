"""What each webhook event does: one table, :data:`HANDLERS`, from (entity, action) to a handler.

amoCRM sends leads, contacts and companies (companies under ``contacts`` with ``type=company``) with the
actions add, update, delete, restore, status (leads only), responsible and note:
https://www.amocrm.ru/developers/content/crm_platform/webhooks-format
Only a lead's stage and payment fields change an order (``inbound.rules``, ``inbound.payments``), a deal
created in amoCRM becomes a draft order (``inbound.drafts``) and a deleted or restored deal marks its
order's sync state; every other known event is recorded as ``ignored``
with a plain reason, and so is an event we do not know, named in the reason. A linked contact's or
company's edits come back field by field (``inbound.parties``); a task's tell whether an order's task is
done (``inbound.tasks``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from console.amocrm.inbound.drafts import lead_draft, lead_is_linked
from console.amocrm.inbound.items import STATE_ACTIONS, WebhookItem
from console.amocrm.inbound.loss import loss_reason_observe
from console.amocrm.inbound.parties import party_changed, party_deleted
from console.amocrm.inbound.payments import combine, payment_from_webhook, payment_observe
from console.amocrm.inbound.responsible import responsible_observe
from console.amocrm.inbound.rules import ItemResult, LeadObservation, Outcome, lead_mark_deleted, lead_observe
from console.amocrm.inbound.tasks import task_changed
from console.amocrm.loss import LOST
from console.amocrm.models import LossReason
from console.amocrm.reasons import Code, has, reason

ClientFactory = Callable[[], Any] | None
Handler = Callable[[WebhookItem, ClientFactory], ItemResult]

# The actions amoCRM sends for contacts and for companies (leads have ``status`` as well).
PARTY_ACTIONS = ("add", "update", "delete", "restore", "responsible", "note")
# Contact and company events whose edits come back (``inbound.parties``); their notes are not synced.
PARTIES = ("contacts", "companies")
PARTY_CHANGES = ("add", "update", "restore", "responsible")


def _ignored(code: Code) -> Handler:
    def handler(item: WebhookItem, client_factory: ClientFactory) -> ItemResult:
        return ItemResult(outcome=Outcome.IGNORED, reasons=[reason(code)])

    return handler


def _no_lead_id() -> ItemResult:
    return ItemResult(outcome=Outcome.INVALID, reasons=[reason(Code.NO_LEAD_ID)])


def _lead_stage(item: WebhookItem, client_factory: ClientFactory) -> ItemResult:
    """add, update, status, responsible: the lead's stage as of ``last_modified``, by the lead rules."""
    if item.id is None:
        return _no_lead_id()
    if item.status_id is None or item.pipeline_id is None:
        return ItemResult(outcome=Outcome.IGNORED, reasons=[reason(Code.NO_STAGE)])
    obs = LeadObservation(
        lead_id=item.id,
        pipeline_id=item.pipeline_id,
        status_id=item.status_id,
        modified=item.last_modified,
        source="webhook",
    )
    stage = lead_observe(obs, client_factory=client_factory)
    if stage.outcome == Outcome.STALE and has(stage.reasons, Code.OLDER_THAN_APPLIED):
        return stage  # an out-of-date report: its payment is out of date as well
    if item.status_id == LOST and stage.outcome == Outcome.APPLIED and LossReason.objects.exists():
        # read only when the account has reasons at all (as last refreshed): else nothing to find
        stage = combine(stage, loss_reason_observe(lead_id=item.id, client_factory=client_factory))
    stage = combine(stage, payment_observe(lead_id=item.id, seen=payment_from_webhook(item.fields)))
    return combine(
        stage, responsible_observe(lead_id=item.id, amo_user_id=_int(item.fields.get("responsible_user_id")))
    )


def _int(value: object) -> int | None:
    """A webhook field's integer (forms carry text), else ``None``."""
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def _lead_add(item: WebhookItem, client_factory: ClientFactory) -> ItemResult:
    """add: a deal an order owns is judged by the lead rules; a deal made in amoCRM becomes a draft order."""
    if item.id is None:
        return _no_lead_id()
    if lead_is_linked(item.id):
        return _lead_stage(item, client_factory)
    return lead_draft(item, client_factory)


def _lead_delete(item: WebhookItem, client_factory: ClientFactory) -> ItemResult:
    if item.id is None:
        return _no_lead_id()
    return lead_mark_deleted(lead_id=item.id)


def _lead_restore(item: WebhookItem, client_factory: ClientFactory) -> ItemResult:
    """The deal is back (``applied``: its order's sync state forgets the deletion); when the item carries
    the deal's stage, that stage is judged as well and the reason tells both."""
    if item.id is None:
        return _no_lead_id()
    restored = lead_mark_deleted(lead_id=item.id, deleted=False)
    if restored.outcome != Outcome.APPLIED or not (item.status_id and item.pipeline_id):
        return restored
    stage = _lead_stage(item, client_factory)
    restored.reasons = [*restored.reasons, *stage.reasons]
    restored.http_calls = stage.http_calls
    return restored


HANDLERS: dict[tuple[str, str], Handler] = {
    **{("leads", action): _lead_stage for action in STATE_ACTIONS},
    ("leads", "add"): _lead_add,
    ("leads", "delete"): _lead_delete,
    ("leads", "restore"): _lead_restore,
    ("leads", "note"): _ignored(Code.NOTES_NOT_SYNCED),
    **{(entity, action): party_changed for entity in PARTIES for action in PARTY_CHANGES},
    **{(entity, "delete"): party_deleted for entity in PARTIES},
    ("contacts", "note"): _ignored(Code.CONTACTS_NOT_SYNCED),
    ("companies", "note"): _ignored(Code.COMPANIES_NOT_SYNCED),
    **{("task", action): task_changed for action in ("add", "update", "responsible")},
}


def _unknown(item: WebhookItem, client_factory: ClientFactory) -> ItemResult:
    return ItemResult(
        outcome=Outcome.IGNORED, reasons=[reason(Code.NOT_SYNCED, entity=item.entity, action=item.action)]
    )


def item_process(item: WebhookItem, *, client_factory: ClientFactory = None) -> ItemResult:
    """Process one webhook item by its entry in :data:`HANDLERS` (an unknown event is ignored, named)."""
    handler = HANDLERS.get((item.entity, item.action), _unknown)
    result = handler(item, client_factory)
    result.entity, result.action, result.id = item.entity, item.action, item.id
    if item.time_reason is not None:
        result.reasons = [item.time_reason, *result.reasons]
    return result
