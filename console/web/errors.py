"""Errors people can act on: for every kind of sync error (``console.amocrm.api.errors.ERROR_KINDS``, where
the kinds are defined), what happened and what to do, in plain words. Only the words live here.

The integration stores each failure with its kind (``OrderSync.last_error_kind``, ``SyncLog.error_kind``) and
amoCRM's own text (title, detail, HTTP status, ``X-Request-Id``). The console leads with the kind's message;
amoCRM's text is kept as details for support (:class:`ShownError`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from console.amocrm.api.errors import CUSTOMER_BUSY, DEAL_DELETED, OTHER, kind_of

RETRIES_ITSELF = _("Nothing to do: the console tries again by itself.")

# kind -> (what happened, what to do)
MESSAGES: dict[str, tuple[Promise, Promise]] = {
    "paused": (
        _("The sync with amoCRM is paused by an administrator."),
        _(
            "Nothing is lost: changes wait in the queue. An administrator resumes the sync on the "
            "connection page."
        ),
    ),
    "blocked": (
        _("amoCRM has blocked requests from this console."),
        _(
            "Ask amoCRM support to lift the block; then an administrator presses “Resume” on the connection "
            "page and the waiting orders are sent."
        ),
    ),
    "unpaid": (
        _("The amoCRM account is not paid, so amoCRM refuses every request."),
        _(
            "Renew the amoCRM subscription; then an administrator presses “Resume” on the connection page "
            "and the waiting orders are sent."
        ),
    ),
    "revoked": (
        _("amoCRM withdrew the console's access to the account."),
        _("An administrator connects the account again on the connection page."),
    ),
    "rejected": (
        _("amoCRM does not accept the integration's id or secret key."),
        _(
            "An administrator copies both again from the integration's settings in amoCRM, saves them on "
            "the connection page and connects again."
        ),
    ),
    "not_connected": (
        _("The console is not connected to an amoCRM account."),
        _("An administrator connects the account on the connection page; waiting orders are sent then."),
    ),
    "rate_limited": (
        _("amoCRM asked the console to slow down: too many requests at once."),
        RETRIES_ITSELF,
    ),
    "unknown_outcome": (
        _("amoCRM did not confirm whether the deal was created: its answer was lost."),
        _(
            "Nothing to do: the next attempt first looks for the deal in amoCRM, so no duplicate is made. "
            "If it keeps failing, check amoCRM for a duplicate deal."
        ),
    ),
    "unknown_outcome_note": (
        _("amoCRM did not confirm whether the deal's note was created: its answer was lost."),
        _(
            "Nothing to do: once amoCRM has carried out the lost request, the console looks for the note "
            "and writes it only if it is missing, so the deal gets no second note."
        ),
    ),
    "unknown_outcome_element": (
        _("amoCRM did not confirm whether a product was added to the catalog: its answer was lost."),
        _(
            "Nothing to do: once amoCRM has carried out the lost request, the console looks the product up "
            "in the catalog and adds it only if it is missing, so no product is listed twice."
        ),
    ),
    "server": (
        _("amoCRM had an internal error and did not process the request."),
        _("Nothing to do: the console tries again by itself. If it lasts for hours, contact amoCRM support."),
    ),
    "network": (
        _("The console could not reach amoCRM: no answer, or the connection dropped."),
        _("Check the server's internet connection; the console tries again by itself."),
    ),
    "auth": (
        _("amoCRM did not accept the console's access token."),
        _(
            "Usually this passes once the token is renewed. If it keeps happening, an administrator "
            "connects the account again on the connection page."
        ),
    ),
    "validation": (
        _("amoCRM refused the order's data: a field holds a value amoCRM does not accept."),
        _(
            "See amoCRM's answer below for the field. Correct the order (or ask an administrator to run "
            "the account setup again if the field is ours), then retry."
        ),
    ),
    "not_found": (
        _("The deal, contact or company is not in amoCRM (deleted, or a wrong number)."),
        _("Check the number in amoCRM. To start over, unlink the order from its deal and push it again."),
    ),
    "forbidden": (
        _("amoCRM refused: the connected amoCRM user may not do this."),
        _("Give that user administrator rights in amoCRM (or connect as an administrator), then retry."),
    ),
    DEAL_DELETED: (
        _("The order's deal was deleted in amoCRM."),
        _("Restore the deal in amoCRM, or unlink the order and push it to create a new deal."),
    ),
    CUSTOMER_BUSY: (
        _(
            "Another sync is creating this customer's contact or company in amoCRM right now, or amoCRM "
            "has not confirmed their creation yet."
        ),
        _("Nothing to do: the order is sent again once it is done."),
    ),
    "internal": (
        _("An error inside the console stopped the sync."),
        _("Retry. If it fails again, send the details below to the developers."),
    ),
    OTHER: (
        _("The sync stopped with an error the console does not recognise."),
        _(
            "Read the details below and retry once the cause is fixed. If it is unclear, send the details "
            "and the request id to amoCRM support."
        ),
    ),
}


def error_message(kind: str) -> tuple[str, str]:
    """``(what happened, what to do)`` for an error kind, translated; an unknown kind reads as "other"."""
    what, todo = MESSAGES.get(kind) or MESSAGES[OTHER]
    return str(what), str(todo)


@dataclass(frozen=True)
class ShownError:
    """A stored failure as the console shows it: the kind's message first, amoCRM's own text as details."""

    kind: str
    what: str
    todo: str
    title: str = ""
    detail: str = ""
    status: int | None = None
    request_id: str = ""


def shown_error(row: Any) -> ShownError | None:
    """The error on an ``OrderSync`` (``last_error_*``) or a ``SyncLog`` row (``error_*``); None if none."""
    prefix = "last_error_" if hasattr(row, "last_error_title") else "error_"
    title = getattr(row, f"{prefix}title", "") or ""
    kind = getattr(row, f"{prefix}kind", "") or ""
    if not (title or kind):
        return None
    status = getattr(row, f"{prefix}status", None)
    request_id = getattr(row, "last_error_request_id", None) or getattr(row, "request_id", "") or ""
    kind = kind_of(kind, status)
    what, todo = error_message(kind)
    detail = getattr(row, f"{prefix}detail", "") or ""
    return ShownError(kind, what, todo, title, detail, status, request_id)


@dataclass
class FailureGroup:
    """Failed syncs of one kind: the message, how many, and the first ``rows`` of them."""

    kind: str
    what: str
    todo: str
    count: int = 0
    rows: list[Any] = field(default_factory=list)


def failure_groups(syncs: Iterable[Any], *, shown: int = 50) -> list[FailureGroup]:
    """``OrderSync`` rows grouped by error kind, largest group first; each keeps its first ``shown`` rows."""
    groups: dict[str, FailureGroup] = {}
    for sync in syncs:
        kind = kind_of(sync.last_error_kind, sync.last_error_status)
        group = groups.get(kind) or groups.setdefault(kind, FailureGroup(kind, *error_message(kind)))
        group.count += 1
        if len(group.rows) < shown:
            group.rows.append(sync)
    return sorted(groups.values(), key=lambda g: (-g.count, g.kind))
