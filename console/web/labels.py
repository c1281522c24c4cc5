"""Words for the codes the integration stores: sync log events, actions, triggers and outcomes; webhook
events and outcomes; a stage missing from the pipelines cache; the address of amoCRM's cards (reasons:
``web.reasons``).

The codes stay what they are in the database (support searches by them); every page shows these words
instead. An unknown code is shown as it is, never hidden.
"""

from __future__ import annotations

import re

from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from console.amocrm.models import AmoConnection, SyncLog, WebhookInbox
from console.orders.models import Order

# --- the sync log -------------------------------------------------------------------------------------------

# ``SyncLog.event`` (and ``OrderSync.pending_event``): what started the sync.
SYNC_EVENTS: dict[str, Promise] = {
    "created": _("Order created"),
    "updated": _("Order changed"),
    "cancelled": _("Order cancelled"),
    "deleted": _("Order deleted"),
    "unlinked": _("Order unlinked from its deal"),
    "push": _("Sent by hand"),
    "bulk": _("Sent with others"),
    "link": _("Linked to a deal"),
    "customer": _("Customer changed"),
    "sync": _("Sync"),
    "manager": _("Manager"),
    "webhook": _("From amoCRM"),
    "reconcile": _("Check against amoCRM"),
}

# ``SyncLog.action``: what the sync did.
SYNC_ACTIONS: dict[str, Promise] = {
    "create": _("Deal created"),
    "update": _("Deal updated"),
    "none": _("Nothing to send"),
    "wait": _("Postponed"),
    "sync": _("Sync attempt"),
    "skip": _("Sync turned off"),
    "unskip": _("Sync turned on again"),
    "unlink": _("Unlinked from the deal"),
    "link_to_lead": _("Linked to an existing deal"),
    "contact_update": _("Contact updated in amoCRM"),
    "lead_deleted": _("Deal closed: its order was deleted"),
    "lead_unlinked": _("Note left on the unlinked deal"),
    "reconcile": _("Deals compared with amoCRM"),
    "amocrm_add": _("Deal created in amoCRM"),
    "amocrm_update": _("Deal changed in amoCRM"),
    "amocrm_status": _("Stage changed in amoCRM"),
    "amocrm_responsible": _("Responsible changed in amoCRM"),
    "amocrm_restore": _("Deal restored in amoCRM"),
}

# ``SyncLog.trigger`` without a person (``manager:<name>`` and ``bulk:<name>`` name one).
SYNC_TRIGGERS: dict[str, Promise] = {
    "manager": _("Manager"),
    "schedule": _("Retry schedule"),
    "storefront": _("Storefront"),
    "webhook": _("amoCRM webhook"),
    "reconcile": _("Check against amoCRM"),
    "customer": _("Customer change"),
    "system": _("System"),
}


def sync_event_label(code: str) -> str:
    return str(SYNC_EVENTS.get(code, code))


def sync_action_label(code: str) -> str:
    return str(SYNC_ACTIONS.get(code, code))


def sync_trigger_label(trigger: str) -> str:
    """``manager:anna`` -> "Manager anna", ``bulk:anna`` -> "Bulk action by anna", ``schedule`` -> "Retry
    schedule"; anything unknown as it is."""
    kind, _sep, who = trigger.partition(":")
    if who and kind == "manager":
        return gettext("Manager %(name)s") % {"name": who}
    if who and kind == "bulk":
        return gettext("Bulk action by %(name)s") % {"name": who}
    return str(SYNC_TRIGGERS.get(trigger, trigger))


def sync_outcome_label(code: str) -> str:
    return _choice_label(SyncLog.Outcome, code)


# --- webhooks -----------------------------------------------------------------------------------------------

# (entity, action) of a webhook item: https://www.amocrm.ru/developers/content/crm_platform/webhooks-format
WEBHOOK_EVENTS: dict[tuple[str, str], Promise] = {
    ("leads", "add"): _("Deal created"),
    ("leads", "update"): _("Deal changed"),
    ("leads", "status"): _("Deal stage changed"),
    ("leads", "responsible"): _("Deal responsible changed"),
    ("leads", "delete"): _("Deal deleted"),
    ("leads", "restore"): _("Deal restored"),
    ("leads", "note"): _("Note added to a deal"),
    ("contacts", "add"): _("Contact created"),
    ("contacts", "update"): _("Contact changed"),
    ("contacts", "responsible"): _("Contact responsible changed"),
    ("contacts", "delete"): _("Contact deleted"),
    ("contacts", "restore"): _("Contact restored"),
    ("contacts", "note"): _("Note added to a contact"),
    ("companies", "add"): _("Company created"),
    ("companies", "update"): _("Company changed"),
    ("companies", "responsible"): _("Company responsible changed"),
    ("companies", "delete"): _("Company deleted"),
    ("companies", "restore"): _("Company restored"),
    ("companies", "note"): _("Note added to a company"),
    ("task", "add"): _("Task created"),
    ("task", "update"): _("Task changed"),
    ("task", "responsible"): _("Task responsible changed"),
}
_EVENT_CODE = re.compile(r"(\w+)\[(\w+)\]")

# Counters of refused deliveries the inbox page shows (other counters are internal marks).
WEBHOOK_COUNTERS: dict[str, Promise] = {
    "rejected:secret": _("Refused: wrong secret in the address"),
    "rejected:account": _("Refused: another amoCRM account"),
    "intake:error": _("Intake errors"),
}


def webhook_event_label(entity: str, action: str) -> str:
    return str(WEBHOOK_EVENTS.get((entity, action), f"{entity}[{action}]"))


def webhook_events_label(events: str) -> str:
    """``WebhookInbox.events`` ("leads[status], leads[update]") as words, comma-separated."""
    pairs = _EVENT_CODE.findall(events or "")
    return ", ".join(webhook_event_label(entity, action) for entity, action in pairs) or events


def webhook_outcome_label(code: str) -> str:
    return _choice_label(WebhookInbox.Outcome, code)


def order_status_label(code: str) -> str:
    return _choice_label(Order.Status, code)


def payment_status_label(code: str) -> str:
    return _choice_label(Order.PaymentStatus, code)


def _choice_label(choices: type, code: str) -> str:
    return str(choices(code).label) if code in choices.values else code


# --- amoCRM stages and cards --------------------------------------------------------------------------------

# ``{(pipeline id, status id): "Pipeline → Stage"}``: ``console.amocrm.stagemap.stage_labels()`` names them.
Stages = dict[tuple[int, int], str]


def stage_label(pipeline_id: int | str, status_id: int | str, stages: Stages) -> str:
    """The stage's name, or "unknown stage 1/22" when the pipelines cache does not hold it."""
    name = stages.get((int(pipeline_id), int(status_id)))
    return name or gettext("unknown stage %(pipeline)s/%(status)s") % {
        "pipeline": pipeline_id,
        "status": status_id,
    }


def amo_base_url() -> str:
    """The connected account's address (``https://sub.amocrm.ru``), or "" when none is set."""
    connection = AmoConnection.objects.only("base_url").filter(pk=1).first()
    return (connection.base_url or "").rstrip("/") if connection else ""
