"""The orders list's bulk actions, seen through to the end: the confirmation a destructive one asks first, and
the progress bar that follows the selected orders until none is queued or running.

The actions themselves stay in ``console.web.views.sync`` (``sync_bulk``); these helpers shape its answers.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django_htmx.http import trigger_client_event

from console.orders.models import Order
from console.web import sync_state

# The most orders one progress bar follows (the ids travel in its polling address).
BULK_TRACKED = 500
CHANGED_EVENT = "orders-changed"


def _status_url(ids: list[int]) -> str:
    return reverse("web:sync_bulk_status") + "?" + urlencode({"ids": ",".join(map(str, ids))})


def bulk_progress_response(request: HttpRequest, ids: list[int], message: str = "") -> HttpResponse:
    """The progress of the orders ``ids``: the fragment for htmx (polling itself until done, then telling
    the page the orders changed), else the bulk page."""
    progress = sync_state.bulk_progress(order_ids=ids, ctx=sync_state.sync_context())
    context = {"progress": progress, "status_url": _status_url(ids), "message": message}
    if not request.htmx:
        return render(request, "orders/bulk.html", context)
    response = render(request, "orders/bulk.html#progress", context)
    return trigger_client_event(response, CHANGED_EVENT) if progress.finished else response


def bulk_confirm(request: HttpRequest, action: str, ids: list[int]) -> HttpResponse:
    """The question a destructive bulk action asks without JavaScript (the page's dialog sends
    ``confirm=1``)."""
    context = {
        "title": ngettext(
            "Unlink %(count)s order from its deal?", "Unlink %(count)s orders from their deals?", len(ids)
        )
        % {"count": len(ids)},
        "question": _(
            "The console forgets their deals; AmoCRM keeps them, with a note. A later push asks whether to "
            "make a new deal or link the old one again."
        ),
        "action": reverse("web:sync_bulk", args=[action]),
        "fields": [("order_ids", order_id) for order_id in ids] + [("next", request.POST.get("next", ""))],
        "confirm_label": _("Unlink"),
        "back": reverse("web:orders"),
    }
    return render(request, "orders/confirm.html", context)


def bulk_push_choice(request: HttpRequest, ids: list[int], unlinked: list[Order]) -> HttpResponse:
    """The question a bulk push asks when some of its orders were unlinked from their deals: link each to
    its old deal again, or make new deals. The answer re-posts every selected order with ``unlinked``."""
    context = {
        "unlinked": unlinked,
        "count": len(ids),
        "fields": [("order_ids", order_id) for order_id in ids] + [("next", request.POST.get("next", ""))],
    }
    template = "orders/bulk_choice.html#choice" if request.htmx else "orders/bulk_choice.html"
    return render(request, template, context)
