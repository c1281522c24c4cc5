"""Words for the codes the integration stores: sync log events, actions, triggers and outcomes; webhook
events and outcomes; a stage missing from the pipelines cache; the address of amoCRM's cards (reasons:
``web.reasons``).

The codes stay what they are in the database (support searches by them); every page shows these words
instead. An unknown code is shown as it is, never hidden.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from console.amocrm.models import AmoConnection, CompanyAmoLink, CustomerAmoLink, SyncLog, WebhookInbox
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


# A person by the role they hold (``actor_roles``); someone without a role reads as a manager did before.
PERSON_LABELS: dict[str, Promise] = {
    "admin": _("Administrator %(name)s"),
    "support": _("Support %(name)s"),
    "manager": _("Manager %(name)s"),
}
# Which role names a person holding several (the widest first).
ROLE_ORDER = ("admin", "manager", "support")


def actor_roles(names: Iterable[str]) -> dict[str, str]:
    """``{user name: role}`` of the named console users, in one query (the page's whole list at once); a
    name without a user or a role is left out."""
    wanted = {name for name in names if name}
    if not wanted:
        return {}
    rows = get_user_model().objects.filter(username__in=wanted)
    held: dict[str, set[str]] = {}
    for name, group, superuser in rows.values_list("username", "groups__name", "is_superuser"):
        held.setdefault(name, set()).update({group} | ({"admin"} if superuser else set()))
    return {
        name: next(r for r in ROLE_ORDER if r in roles)
        for name, roles in held.items()
        if roles & {*ROLE_ORDER}
    }


def trigger_people(triggers: Iterable[str]) -> list[str]:
    """The user names ``manager:<name>`` and ``bulk:<name>`` triggers carry."""
    return [
        who for kind, _sep, who in (t.partition(":") for t in triggers) if who and kind in ("manager", "bulk")
    ]


def person_label(name: str, roles: dict[str, str] | None = None) -> str:
    """ "Support anna" / "Administrator anna" / "Manager anna" by the role ``roles`` says ``name`` holds."""
    role = (roles or {}).get(name, "manager")
    return str(PERSON_LABELS[role]) % {"name": name}


def sync_trigger_label(trigger: str, roles: dict[str, str] | None = None) -> str:
    """``manager:anna`` -> "Manager anna" (or "Support anna", "Administrator anna" by the role ``roles``
    gives anna: :func:`actor_roles`), ``bulk:anna`` -> "Bulk action by anna", ``schedule`` -> "Retry
    schedule"; anything unknown as it is."""
    kind, _sep, who = trigger.partition(":")
    if who and kind == "manager":
        return person_label(who, roles)
    if who and kind == "bulk":
        return gettext("Bulk action by %(name)s") % {"name": who}
    return str(SYNC_TRIGGERS.get(trigger, trigger))


STATUS_ORIGINS: dict[str, Promise] = {
    "storefront": _("Storefront"),
    "manager": _("Manager"),
    "amocrm": _("AmoCRM"),
    "system": _("System"),
}


def status_change_by(origin: str, actor: str, roles: dict[str, str] | None = None) -> str:
    """Who changed an order's status: a person by role and name, otherwise where it came from (the
    storefront's API account name is not shown)."""
    if origin == "manager" and actor:
        return person_label(actor, roles)
    return str(STATUS_ORIGINS.get(origin, origin))


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


# ``{("contacts" | "companies", amoCRM id): (our name, the card's URL name, our pk)}``: :func:`party_names`.
Parties = dict[tuple[str, int], tuple[str, str, int]]


def party_names(*, contact_ids: Iterable[int | None], company_ids: Iterable[int | None]) -> Parties:
    """Our customers and companies behind amoCRM contact and company ids (two queries for a whole page),
    so a page names them instead of showing amoCRM's numbers."""
    contacts = {i for i in contact_ids if i}
    companies = {i for i in company_ids if i}
    found: Parties = {}
    links = CustomerAmoLink.objects.filter(contact_id__in=contacts).select_related("customer")
    for link in links if contacts else []:
        found[("contacts", link.contact_id)] = (link.customer.name, "web:customer_detail", link.customer_id)
    rows = CompanyAmoLink.objects.filter(amo_id__in=companies).select_related("company")
    for row in rows if companies else []:
        found[("companies", row.amo_id)] = (row.company.name, "web:company_detail", row.company_id)
    return found
