"""Manager controls of the amoCRM sync (push, skip, unskip, unlink, link to a lead; one order or many) and the
support pages (sync log, failed syncs with retry).

Every control is a POST that calls a service of ``console.amocrm.outbound.controls``. Without htmx it
redirects back (``next``, else the orders list) with a message; with htmx it answers 204 and
``HX-Trigger: orders-changed`` so the orders table refreshes itself.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event

from console.amocrm.models import SyncLog
from console.amocrm.outbound import controls, selectors
from console.amocrm.outbound.queueing import order_sync_state
from console.orders.models import Order
from console.web.decorators import staff_required
from console.web.permissions import requires

PER_PAGE = 50
CHANGED_EVENT = "orders-changed"


def _trigger(request: HttpRequest) -> str:
    return f"manager:{request.user.get_username()}"


def _done(request: HttpRequest, text: str, level: int = messages.SUCCESS) -> HttpResponse:
    """Redirect back with a message, or for htmx a 204 that tells the page the orders changed."""
    messages.add_message(request, level, text)
    if request.htmx:
        return trigger_client_event(HttpResponse(status=204), CHANGED_EVENT, {"message": text})
    target = request.POST.get("next") or request.headers.get("referer") or ""
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        target = ""
    return redirect(target or "web:orders")


def _order_ids(request: HttpRequest) -> list[int]:
    """The order ids posted as ``order_ids`` (repeated, or comma-separated)."""
    raw = request.POST.getlist("order_ids") or request.POST.getlist("order_ids[]")
    ids = []
    for value in raw:
        ids += [int(v) for v in str(value).replace(" ", "").split(",") if v.isdigit()]
    return list(dict.fromkeys(ids))


def _one(request: HttpRequest, pk: int, action: Callable[..., object], text: str) -> HttpResponse:
    order = get_object_or_404(Order, pk=pk)
    action(order_id=order.pk, trigger=_trigger(request))
    return _done(request, text % {"order": order})


PUSH_MESSAGES = {
    controls.PushResult.QUEUED: (messages.SUCCESS, gettext_lazy("Order %(order)s is queued for AmoCRM.")),
    controls.PushResult.SKIPPED: (
        messages.WARNING,
        gettext_lazy("Order %(order)s is marked “do not sync”: resume syncing first."),
    ),
    controls.PushResult.NOTHING: (
        messages.WARNING,
        gettext_lazy("Order %(order)s is cancelled and never had a deal: no deal is made for it."),
    ),
    controls.PushResult.RELINKING: (
        messages.SUCCESS,
        gettext_lazy("Order %(order)s will be linked to its old deal again once AmoCRM confirms it."),
    ),
}


@require_POST
@requires("sync.control")
def sync_push(request: HttpRequest, pk: int) -> HttpResponse:
    """Push the order to amoCRM now (a full sync). An order unlinked from a deal first asks: a new deal, or
    the old one again (``mode`` = new | relink)."""
    order = get_object_or_404(Order, pk=pk)
    mode = request.POST.get("mode", "")
    result = controls.order_push(order_id=order.pk, trigger=_trigger(request), mode=mode)
    if result == controls.PushResult.CHOOSE:
        sync = order_sync_state(order=order)
        context = {
            "order": order,
            "previous_lead_id": sync.previous_lead_id,
            "next": request.POST.get("next", ""),
        }
        template = "sync/push_choice.html#choice" if request.htmx else "sync/push_choice.html"
        return render(request, template, context)
    level, text = PUSH_MESSAGES[result]
    return _done(request, str(text) % {"order": order}, level)


@require_POST
@requires("sync.control")
def sync_skip(request: HttpRequest, pk: int) -> HttpResponse:
    """Never sync this order (its lead, if any, stays as it is)."""
    return _one(request, pk, controls.order_skip, _("Order %(order)s will not be synced."))


@require_POST
@requires("sync.control")
def sync_unskip(request: HttpRequest, pk: int) -> HttpResponse:
    """Sync this order again (queues a push)."""
    return _one(request, pk, controls.order_unskip, _("Order %(order)s will be synced again."))


@require_POST
@requires("sync.control")
def sync_unlink(request: HttpRequest, pk: int) -> HttpResponse:
    """Forget the order's lead without touching amoCRM."""
    return _one(request, pk, controls.order_unlink, _("Order %(order)s is unlinked from its deal."))


@require_POST
@requires("sync.control")
def sync_link(request: HttpRequest, pk: int) -> HttpResponse:
    """Link the order to an existing lead (``lead_id``): the cluster checks it in amoCRM, then pushes."""
    order = get_object_or_404(Order, pk=pk)
    lead_id = request.POST.get("lead_id", "").strip()
    if not lead_id.isdigit() or len(lead_id) > 18:
        return _done(request, _("Enter the deal number (digits only)."), messages.ERROR)
    try:
        controls.order_link_request(order_id=order.pk, lead_id=int(lead_id), trigger=_trigger(request))
    except ValueError as exc:
        return _done(request, str(exc), messages.ERROR)
    return _done(
        request,
        _("Order %(order)s will be linked to deal %(lead)s once AmoCRM confirms it (see the sync log).")
        % {"order": order, "lead": lead_id},
    )


BULK_ACTIONS = {
    "skip": (controls.order_skip, gettext_lazy("%(count)s orders will not be synced.")),
    "unskip": (controls.order_unskip, gettext_lazy("%(count)s orders will be synced again.")),
    "unlink": (controls.order_unlink, gettext_lazy("%(count)s orders are unlinked from their deals.")),
}


@require_POST
@requires("sync.control")
def sync_bulk(request: HttpRequest, action: str) -> HttpResponse:
    """``push`` (batched), ``skip``, ``unskip`` or ``unlink`` for the posted ``order_ids``."""
    ids = _order_ids(request)
    if not ids:
        return _done(request, _("Select at least one order."), messages.WARNING)
    if action == "push":
        count = controls.orders_push_bulk(order_ids=ids, trigger=f"bulk:{request.user.get_username()}")
        return _done(request, _("%(count)s orders are queued for AmoCRM.") % {"count": count})
    if action not in BULK_ACTIONS:
        return HttpResponse(status=404)
    service, text = BULK_ACTIONS[action]
    existing = list(Order.objects.filter(pk__in=ids).values_list("pk", flat=True))
    for order_id in existing:
        service(order_id=order_id, trigger=_trigger(request))
    return _done(request, str(text) % {"count": len(existing)})


@require_GET
@staff_required
def sync_log(request: HttpRequest) -> HttpResponse:
    """The sync log, newest first, filtered by ``order``, ``outcome`` or ``trigger``; htmx gets the table."""
    order = request.GET.get("order", "").strip()
    rows = selectors.sync_log_list(
        order_id=int(order) if order.isdigit() else None,
        outcome=request.GET.get("outcome", ""),
        trigger=request.GET.get("trigger", "").strip(),
    )
    context = {
        "page": Paginator(rows, PER_PAGE).get_page(request.GET.get("page")),
        "outcomes": SyncLog.Outcome.choices,
        "outcome": request.GET.get("outcome", ""),
        "order": order,
        "trigger": request.GET.get("trigger", ""),
    }
    template = "sync/log.html#table" if request.htmx and not request.htmx.boosted else "sync/log.html"
    return render(request, template, context)


@require_GET
@staff_required
def sync_failed(request: HttpRequest) -> HttpResponse:
    """Orders whose sync failed or waits for a retry, with the error and a retry button."""
    page = Paginator(selectors.sync_failed_list(), PER_PAGE).get_page(request.GET.get("page"))
    template = "sync/failed.html#table" if request.htmx and not request.htmx.boosted else "sync/failed.html"
    return render(request, template, {"page": page})


@require_POST
@requires("sync.retry")
def sync_retry(request: HttpRequest) -> HttpResponse:
    """Retry the posted failed orders now (``order_ids``), or all of them with ``all=1``."""
    ids = _order_ids(request)
    if request.POST.get("all"):
        ids = list(selectors.sync_failed_list().values_list("order_id", flat=True))
    count = controls.orders_push_bulk(order_ids=ids, trigger=_trigger(request)) if ids else 0
    return _done(request, _("%(count)s orders are queued for AmoCRM.") % {"count": count})
