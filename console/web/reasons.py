"""The words for every stored reason (``console.amocrm.reasons``): one message per code, in gettext.

:data:`MESSAGES` maps each code to its message; its placeholders are the reason's parameters put into words
(``%(stage)s`` from ``pipeline_id``/``status_id``, ``%(event)s`` from ``entity``/``action``, statuses and
payments by their labels, times and amounts in the console's formats). A missing parameter or one that
cannot be put into words shows as given: rendering a reason never raises. A test checks that every code has
a message; a stored code this table does not know (a newer version's) is shown as recorded.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from console.amocrm.models import AmoConnection
from console.amocrm.reasons import Code, Reason
from console.web.labels import (
    Stages,
    order_status_label,
    payment_status_label,
    webhook_event_label,
    webhook_outcome_label,
)
from console.web.templatetags.console_format import format_money, format_when

MESSAGES: dict[str, Promise] = {
    Code.DUPLICATE_OF: _("Same content as delivery #%(id)s, so not processed again."),
    Code.NO_ITEMS: _("The delivery holds no deal, contact or company."),
    Code.NO_ACCOUNT: _("The delivery names no amoCRM account."),
    Code.BODY_TOO_LARGE: _("The delivery was too large and was not stored."),
    Code.UNPARSEABLE: _("The delivery could not be read: %(error)s"),
    Code.COUNTS: _("%(counts)s"),
    Code.ITEMS_CAPPED: _("The delivery holds %(count)s items; only the first %(limit)s were processed."),
    Code.WAITING_CIRCUIT: _(
        "Waiting: the console does not call amoCRM now (%(error)s); it is processed once calls resume."
    ),
    Code.WAITING_NO_ANSWER: _(
        "Waiting: amoCRM did not answer (%(error)s); it is tried again within a few minutes."
    ),
    Code.ATTEMPTS_LOST: _(
        "Processing stopped %(attempts)s times before it finished (the worker was stopped or ran out of "
        "time), so it is not tried again by itself; replay it once the cause is fixed."
    ),
    Code.FAILED: _("Processing failed: %(error)s"),
    Code.LEGACY: _("%(text)s"),
    Code.TIME_MILLISECONDS: _("The time amoCRM sent (%(seen)s) is in milliseconds; it was read as seconds."),
    Code.TIME_OUT_OF_RANGE: _(
        "The time amoCRM sent (%(seen)s) is no valid time, so the event was judged as one without a time."
    ),
    Code.TIME_AHEAD: _(
        "The time amoCRM sent (%(seen)s) is ahead of our clock, so the deal was checked in amoCRM."
    ),
    Code.ORDER_DELETED: _("The order is deleted in the console."),
    Code.OLDER_THAN_APPLIED: _(
        "An older state of the deal (%(seen)s) than one already applied (%(applied)s)."
    ),
    Code.OUR_STAGE: _("The deal is at %(stage)s, which the console set itself."),
    Code.PUSH_IN_FLIGHT: _(
        "The console was sending this order at that moment and sets the stage; it checks again later."
    ),
    Code.LOCAL_STATUS_WINS: _(
        "The order's status was changed in the console after this change in amoCRM; the console's wins."
    ),
    Code.STAGE_AMBIGUOUS: _(
        "Several order statuses (%(statuses)s) are mapped to %(stage)s, so the move is ignored."
    ),
    Code.STAGE_DISABLED: _("The mapping of %(stage)s is turned off, so the move is ignored."),
    Code.STAGE_UNMAPPED: _("No order status is mapped to %(stage)s, so the move is ignored."),
    Code.ALREADY_STATUS: _("The order already has the status “%(status)s”."),
    Code.STATUS_SET: _("Status set to “%(status)s” from %(stage)s."),
    Code.NO_ORDER: _("No order is linked to this deal."),
    Code.SEVERAL_ORDERS: _("Several orders are linked to this deal."),
    Code.LEAD_GONE: _("The deal no longer exists in amoCRM."),
    Code.SUPERSEDED: _("Out of date: amoCRM already shows the stage the console set later."),
    Code.DEAL_DELETED: _("The deal was deleted in amoCRM."),
    Code.DEAL_RESTORED: _("The deal was restored in amoCRM."),
    Code.NO_LEAD_ID: _("The event carries no deal number."),
    Code.NO_STAGE: _("The event carries no pipeline or stage."),
    Code.NOTES_NOT_SYNCED: _("Notes are not synced."),
    Code.CONTACTS_NOT_SYNCED: _("Contact events are not synced."),
    Code.COMPANIES_NOT_SYNCED: _("Company events are not synced."),
    Code.NOT_SYNCED: _("%(event)s: not synced."),
    Code.NO_ENTITY_ID: _("The event carries no contact or company number."),
    Code.PARTY_NOT_LINKED: _("The contact or company is not linked to a customer here."),
    Code.DRAFT_CREATED: _("The deal became draft order %(number)s (%(lines)s lines), to be confirmed."),
    Code.DRAFT_OWN_DEAL: _("The console created this deal itself (order %(number)s): no draft is made."),
    Code.DRAFT_EXISTS: _("A draft order for this deal exists already."),
    Code.DRAFT_NO_CONTACT: _("The deal has no contact the console can use: no draft order is made."),
    Code.DRAFT_INVALID: _("The deal's data make no valid order (%(fields)s): no draft order is made."),
    Code.PARTY_GONE: _("The contact or company is no longer in amoCRM."),
    Code.PARTY_DELETED: _("The contact or company was deleted in amoCRM; the customer is kept."),
    Code.PARTY_SAME: _("amoCRM holds the console's values (nothing changed)."),
    Code.PARTY_TAKEN: _("Taken from amoCRM: %(fields)s."),
    Code.PARTY_CONFLICT: _("Not taken (changed in the console too): %(fields)s; a manager decides."),
    Code.PARTY_REFUSED: _("amoCRM's values are not valid here: %(fields)s."),
    Code.PAYMENT_LOCAL_WINS: _(
        "The payment was changed in the console after its last push; the console's wins."
    ),
    Code.PAYMENT_INVALID: _("The payment in amoCRM is not valid: %(errors)s"),
    Code.PAYMENT_SET: _("Payment taken from the deal: %(amount)s, “%(payment)s”."),
    Code.RESPONSIBLE_SET: _("Responsible manager taken from the deal: %(user)s."),
    Code.LOSS_REASON_SET: _("Loss reason taken from the deal: %(reason)s."),
    Code.RESPONSIBLE_UNKNOWN_USER: _(
        "The deal's responsible amoCRM user %(amo_user)s is linked to no console user; the order's "
        "responsible is unchanged (link the user on the users page)."
    ),
    Code.RESPONSIBLE_LOCAL_WINS: _(
        "The responsible manager was changed in the console after its last push; the console's wins."
    ),
    Code.RESPONSIBLE_CHANGED: _("Responsible manager: %(from_user)s → %(to_user)s."),
    Code.NO_TASK_ID: _("The event carries no task number."),
    Code.TASK_NOT_OURS: _("The task is not one of the console's order tasks."),
    Code.TASK_DONE: _("The order's task “%(kind)s” is done in amoCRM."),
    Code.TASK_REOPENED: _("The order's task “%(kind)s” is open again in amoCRM."),
    Code.TASK_SAME: _("The order's task “%(kind)s” is unchanged."),
    Code.WEBHOOK_OK: _("Our webhook is registered in amoCRM and enabled."),
    Code.WEBHOOK_MISSING: _("Our webhook was not registered in amoCRM: registered again."),
    Code.WEBHOOK_EVENTS_MISSING: _("Our webhook lacked the events %(events)s: subscribed again."),
    Code.WEBHOOK_DISABLED: _("amoCRM had disabled our webhook: it was re-enabled."),
    Code.WEBHOOK_RECREATED: _("Our webhook stayed disabled: it was deleted and created again."),
    Code.WEBHOOK_STILL_WRONG: _("The repair did not help; still wrong:"),
    Code.WEBHOOK_NO_BASE_URL: _(
        "The webhook cannot be checked: the console's public address is not in the server's settings; ask "
        "whoever runs the server to add it."
    ),
    Code.WEBHOOK_CHECK_ERROR: _("amoCRM answered the webhook check with an error: %(error)s"),
    Code.ALERT_CONNECTION: _(
        "The console cannot call amoCRM: the connection is “%(connection_state)s”. Orders wait in the queue "
        "until an administrator fixes it on the connection page."
    ),
    Code.ALERT_FAILED_SYNCS: _(
        "%(count)s orders failed to sync or wait for a retry (the alert threshold is %(threshold)s)."
    ),
    Code.ALERT_WEBHOOK_SILENCE: _(
        "No webhook has arrived from amoCRM for %(minutes)s minutes, yet the reconciliation found "
        "%(changes)s deal changes that no webhook brought. Check the webhook on the connection page."
    ),
}
# A variant of a code's message chosen by a parameter that is true.
VARIANTS: dict[tuple[str, str], Promise] = {
    (Code.STATUS_SET, "verified"): _("Status set to “%(status)s” from %(stage)s (checked in amoCRM first)."),
}


@dataclass(frozen=True)
class ShownReason:
    """Stored reasons in words (``text``); ``raw`` their codes (what support searches for); ``known`` False
    when a code has no words here (the template shows ``raw`` as recorded)."""

    text: str
    raw: str
    known: bool


def _seconds(value: Any) -> str:
    return format_when(value, "seconds")


def _statuses(codes: Any) -> str:
    return ", ".join(order_status_label(str(code)) for code in codes or [])


def _counts(counts: Any) -> str:
    parts = (
        gettext("%(outcome)s: %(count)s.") % {"outcome": webhook_outcome_label(str(o)), "count": n}
        for o, n in dict(counts or {}).items()
    )
    return " ".join(parts)


CONVERT: dict[str, Callable[[Any], str]] = {
    "status": lambda code: order_status_label(str(code)),
    "statuses": _statuses,
    "payment": lambda code: payment_status_label(str(code)),
    "amount": format_money,
    "seen": _seconds,
    "applied": _seconds,
    "counts": _counts,
    "errors": lambda errors: "; ".join(str(e) for e in errors or []),
    "fields": lambda fields: ", ".join(str(f) for f in fields or []),
    "connection_state": lambda state: str(AmoConnection.State(state).label),
    "from_user": lambda name: str(name or "") or gettext("nobody"),
    "to_user": lambda name: str(name or "") or gettext("nobody"),
}


def _stage_phrase(params: dict[str, Any], stages: Stages) -> str:
    """The stage as a sentence names it: the stage “Pipeline → Stage”, or an unknown stage (1/22)."""
    pipeline_id, status_id = params.get("pipeline_id"), params.get("status_id")
    try:
        name = stages.get((int(pipeline_id), int(status_id)))
    except (TypeError, ValueError):
        name = None
    if name:
        return gettext("the stage “%(name)s”") % {"name": name}
    return gettext("an unknown stage (%(pipeline)s/%(status)s)") % {
        "pipeline": pipeline_id,
        "status": status_id,
    }


def _arguments(params: dict[str, Any], stages: Stages) -> dict[str, Any]:
    args: dict[str, Any] = {}
    for name, value in params.items():
        try:
            args[name] = CONVERT.get(name, str)(value)
        except (TypeError, ValueError, ArithmeticError):
            args[name] = str(value)
    if "pipeline_id" in params:
        args["stage"] = _stage_phrase(params, stages)
    if "entity" in params:
        args["event"] = webhook_event_label(str(params["entity"]), str(params.get("action", "")))
    return args


class _AsGiven(dict):
    """Placeholders of a message a stored reason lacks show as their name, never a KeyError."""

    def __missing__(self, key: str) -> str:
        return f"%({key})s"


def reason_text(one: Reason, stages: Stages) -> str | None:
    """One reason in words, or None when its code has no message here."""
    code, params = str(one.get("code", "")), dict(one.get("params") or {})
    message = next((m for (c, flag), m in VARIANTS.items() if c == code and params.get(flag)), None)
    message = message or MESSAGES.get(code)
    if message is None:
        return None
    try:
        return str(message) % _AsGiven(_arguments(params, stages))
    except (TypeError, ValueError):
        return str(message)


def _as_recorded(one: Reason) -> str:
    if one.get("code") == Code.LEGACY:
        return str((one.get("params") or {}).get("text", ""))
    return json.dumps(one, ensure_ascii=False)


def shown_reasons(reasons: Any, stages: Stages) -> ShownReason:
    """Stored reasons (a list of ``{"code", "params"}``) in words, joined; see :class:`ShownReason`."""
    reasons = [r for r in reasons if isinstance(r, dict)] if isinstance(reasons, list) else []
    raw = "; ".join(str(r.get("code", "")) for r in reasons)
    texts = [reason_text(r, stages) for r in reasons]
    if any(t is None for t in texts) or any(r.get("code") == Code.LEGACY for r in reasons):
        recorded = "; ".join(
            str(r.get("params", {}).get("text"))
            if r.get("code") == Code.LEGACY
            else json.dumps(r, ensure_ascii=False)
            for r in reasons
        )
        return ShownReason(text=recorded, raw=recorded, known=False)
    return ShownReason(text=" ".join(t for t in texts if t), raw=raw, known=bool(texts))
