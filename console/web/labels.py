"""Words for the codes the integration stores: sync log events, actions, triggers and outcomes; webhook
events, outcomes and reasons; a stage missing from the pipelines cache; the address of amoCRM's cards.

The codes stay what they are in the database (support searches by them); every page shows these words
instead. An unknown code is shown as it is, never hidden.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from console.amocrm.models import AmoConnection, SyncLog, WebhookInbox
from console.orders.models import Order
from console.web.templatetags.console_format import format_money, format_when

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


# --- why a webhook did what it did --------------------------------------------------------------------------


@dataclass(frozen=True)
class Reason:
    """A stored reason in words (``text``), or not understood (``known`` False: show ``raw`` as it is)."""

    text: str
    raw: str
    known: bool


STAGE = r"(?P<pipeline_id>\d+)/(?P<status_id>\d+)"
# The reasons ``console.amocrm.inbound`` (rules, events, payments, inbox, the intake view) and the stage map
# write: a pattern and its words. Named groups fill the placeholders of the same name, in words (see
# ``_CONVERT``); ``pipeline_id``/``status_id`` fill ``%(stage)s``, ``entity``/``action`` fill ``%(event)s``.
# A reason of several items, or of a stage and a payment, joins them with "; ".
_REASONS: list[tuple[str, Promise]] = [
    ("the order is deleted", _("The order is deleted in the console.")),
    (
        r"last_modified (?P<seen>\d+) is older than (?P<applied>\d+) already applied",
        _("An older state of the deal (%(seen)s) than one already applied (%(applied)s)."),
    ),
    (
        rf"stage {STAGE} is the one we pushed last",
        _("The deal is at %(stage)s, which the console set itself."),
    ),
    (
        "a push of this order was in flight and overwrites the stage; reconciliation re-checks",
        _("The console was sending this order at that moment and sets the stage; it checks again later."),
    ),
    (
        "the order's status was changed here after this amoCRM change; our push wins",
        _("The order's status was changed in the console after this change in amoCRM; the console's wins."),
    ),
    (
        rf"stage {STAGE} is mapped to several statuses: (?P<statuses>[\w, ]+?)",
        _("Several order statuses (%(statuses)s) are mapped to %(stage)s, so the move is ignored."),
    ),
    (
        rf"the mapping of stage {STAGE} is disabled",
        _("The mapping of %(stage)s is turned off, so the move is ignored."),
    ),
    (
        rf"stage {STAGE} is not mapped to an order status",
        _("No order status is mapped to %(stage)s, so the move is ignored."),
    ),
    (r"the order already has status (?P<status>\w+)", _("The order already has the status “%(status)s”.")),
    (
        rf"status (?P<status>\w+) from stage {STAGE} \(confirmed by re-reading the lead\)",
        _("Status set to “%(status)s” from %(stage)s (checked in amoCRM first)."),
    ),
    (
        rf"status (?P<status>\w+) from stage {STAGE}",
        _("Status set to “%(status)s” from %(stage)s."),
    ),
    ("no order is linked to this lead", _("No order is linked to this deal.")),
    ("several orders are linked to this lead", _("Several orders are linked to this deal.")),
    (
        r"last_modified (?P<seen>\d+) lies more than \d+ minutes after our clock, not trusted",
        _("The time amoCRM sent (%(seen)s) is ahead of our clock, so the deal was checked in amoCRM."),
    ),
    ("the lead no longer exists in amoCRM", _("The deal no longer exists in amoCRM.")),
    (
        "superseded by our later push: amoCRM shows the stage we pushed",
        _("Out of date: amoCRM already shows the stage the console set later."),
    ),
    ("the deal was deleted in amoCRM", _("The deal was deleted in amoCRM.")),
    ("the deal was restored in amoCRM", _("The deal was restored in amoCRM.")),
    ("the item has no lead id", _("The event carries no deal number.")),
    ("the item carries no pipeline/stage", _("The event carries no pipeline or stage.")),
    ("note events are not synced", _("Notes are not synced.")),
    ("contacts events are not synced", _("Contact events are not synced.")),
    ("companies events are not synced", _("Company events are not synced.")),
    (r"(?P<entity>\w+)\[(?P<action>\w+)\] events are not synced", _("%(event)s: not synced.")),
    (
        "the payment was changed here after our last push; our push wins",
        _("The payment was changed in the console after its last push; the console's wins."),
    ),
    (
        r"amoCRM's payment is not valid here: (?P<errors>.*)",
        _("The payment in amoCRM is not valid: %(errors)s"),
    ),
    (
        r"payment (?P<amount>[\d.]+) ₽, (?P<payment>\w+) from the deal",
        _("Payment taken from the deal: %(amount)s, “%(payment)s”."),
    ),
    (
        r"same content as delivery #(?P<id>\d+)",
        _("Same content as delivery #%(id)s, so not processed again."),
    ),
    ("no entity items in the body", _("The delivery holds no deal, contact or company.")),
    ("no account in the body", _("The delivery names no amoCRM account.")),
    ("body too large, not stored", _("The delivery was too large and was not stored.")),
    (r"unparseable body: (?P<error>.*)", _("The delivery could not be read: %(error)s")),
    (
        r"waiting: amoCRM may not be called now \((?P<state>\w+): (?P<error>[^)]*)\)",
        _("Waiting: the console does not call amoCRM now (%(error)s); it is processed once calls resume."),
    ),
    (
        r"waiting: amoCRM did not answer \((?P<error>[^)]*)\), tried again later",
        _("Waiting: amoCRM did not answer (%(error)s); it is tried again within a few minutes."),
    ),
    (rf"(?P<count>\d+) (?P<outcome>{'|'.join(WebhookInbox.Outcome.values)})", _("%(outcome)s: %(count)s.")),
]
_PATTERNS = [(re.compile(rf"(?:{pattern})(?:; |$)"), message) for pattern, message in _REASONS]


def _statuses(codes: str) -> str:
    return ", ".join(order_status_label(code.strip()) for code in codes.split(","))


def _seconds(value: str) -> str:
    return format_when(value, "seconds")


_CONVERT = {
    "status": order_status_label,
    "statuses": _statuses,
    "payment": lambda code: _choice_label(Order.PaymentStatus, code),
    "outcome": webhook_outcome_label,
    "amount": format_money,
    "seen": _seconds,
    "applied": _seconds,
}


def _stage_phrase(pipeline_id: str, status_id: str, stages: Stages) -> str:
    """The stage as a sentence names it: the stage “Pipeline → Stage”, or an unknown stage (1/22)."""
    name = stages.get((int(pipeline_id), int(status_id)))
    if name:
        return gettext("the stage “%(name)s”") % {"name": name}
    return gettext("an unknown stage (%(pipeline)s/%(status)s)") % {
        "pipeline": pipeline_id,
        "status": status_id,
    }


def _words(match: re.Match[str], message: Promise, stages: Stages) -> str:
    raw = {name: value for name, value in match.groupdict().items() if value is not None}
    args = {name: _CONVERT.get(name, str)(value) for name, value in raw.items()}
    if "pipeline_id" in raw:
        args["stage"] = _stage_phrase(raw["pipeline_id"], raw["status_id"], stages)
    if "entity" in raw:
        args["event"] = webhook_event_label(raw["entity"], raw["action"])
    return str(message) % args if args else str(message)


def reason_label(reason: str, stages: Stages) -> Reason:
    """A stored webhook reason in words, part by part; when a part is not understood the whole reason is
    shown as it is (``known`` False)."""
    parts, pos = [], 0
    while pos < len(reason):
        for pattern, message in _PATTERNS:
            match = pattern.match(reason, pos)
            if match and match.end() > pos:
                parts.append(_words(match, message, stages))
                pos = match.end()
                break
        else:
            return Reason(text=reason, raw=reason, known=False)
    return Reason(text=" ".join(parts), raw=reason, known=bool(parts))
