"""Manager controls of the amoCRM sync (push, skip, unskip, unlink, link to a lead; one order or many) and the
support pages (sync log, failed syncs with retry).

Every control is a POST that calls a service of ``console.amocrm.outbound.controls``. Without htmx it
redirects back (``next``, else the orders list) with a message; with htmx it answers 204 and
``HX-Trigger: orders-changed`` so the orders table refreshes itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, ngettext_lazy
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event

from console.amocrm.api.errors import kind_of
from console.amocrm.models import SyncLog
from console.amocrm.outbound import controls, selectors
from console.amocrm.outbound.queueing import order_sync_state
from console.amocrm.outbound.retries import max_attempts
from console.orders.models import Order
from console.web import live
from console.web.decorators import staff_required
from console.web.errors import failure_groups
from console.web.exchanges import failed_with_exchanges
from console.web.forms import IdListField, LinkLeadForm
from console.web.labels import actor_roles, amo_base_url, party_names, trigger_people
from console.web.permissions import requires
from console.web.views.bulk import BULK_TRACKED, bulk_confirm, bulk_progress_response, bulk_push_choice

PER_PAGE = 50
CHANGED_EVENT = "orders-changed"


def _trigger(request: HttpRequest) -> str:
    return f"manager:{request.user.get_username()}"


def _done(request: HttpRequest, text: str, level: int = messages.SUCCESS) -> HttpResponse:
    """Redirect back with a message, or for htmx a 204 that tells the page the orders changed and carries the
    message (shown by ``static/console/toasts.js``; kept out of the session, where it would show again)."""
    if request.htmx:
        detail = {"message": text, "level": messages.DEFAULT_TAGS.get(level, "info")}
        return trigger_client_event(HttpResponse(status=204), CHANGED_EVENT, detail)
    messages.add_message(request, level, text)
    target = request.POST.get("next") or request.headers.get("referer") or ""
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        target = ""
    return redirect(target or "web:orders")


def _order_ids(request: HttpRequest) -> list[int]:
    """The order ids posted as ``order_ids`` (repeated, or comma-separated); ``ValidationError`` names one
    that is not an id."""
    raw = request.POST.getlist("order_ids") or request.POST.getlist("order_ids[]")
    return IdListField(required=False).clean(raw)


def _one(request: HttpRequest, pk: int, action: Callable[..., object], text: Any) -> HttpResponse:
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
    controls.PushResult.DRAFT: (
        messages.WARNING,
        gettext_lazy("Order %(order)s is a draft from AmoCRM: confirm it first."),
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
        # Back to the order afterwards: the referer would be this POST-only address.
        back = request.POST.get("next") or reverse("web:order_detail", args=[order.pk])
        context = {"order": order, "previous_lead_id": sync.previous_lead_id, "next": back}
        template = "sync/push_choice.html#choice" if request.htmx else "sync/push_choice.html"
        return render(request, template, context)
    level, text = PUSH_MESSAGES[result]
    return _done(request, str(text) % {"order": order}, level)


OrderView = Callable[[HttpRequest, int], HttpResponse]


def _control(action: Callable[..., object], text: Any, doc: str) -> OrderView:
    """A manager's one-order control: POST runs ``action`` on the order and says ``text``."""

    @require_POST
    @requires("sync.control")
    def view(request: HttpRequest, pk: int) -> HttpResponse:
        return _one(request, pk, action, text)

    view.__doc__ = doc
    return view


sync_skip = _control(
    controls.order_skip,
    gettext_lazy("Order %(order)s will not be synced."),
    "Never sync this order (its lead, if any, stays as it is).",
)
sync_unskip = _control(
    controls.order_unskip,
    gettext_lazy("Order %(order)s will be synced again."),
    "Sync this order again (queues a push).",
)
sync_unlink = _control(
    controls.order_unlink,
    gettext_lazy("Order %(order)s is unlinked from its deal."),
    "Forget the order's lead without touching amoCRM.",
)


@require_POST
@requires("sync.control")
def sync_link(request: HttpRequest, pk: int) -> HttpResponse:
    """Link the order to an existing lead (``lead_id``): the cluster checks it in amoCRM, then pushes."""
    order = get_object_or_404(Order, pk=pk)
    form = LinkLeadForm(request.POST)
    if not form.is_valid():
        return _done(request, " ".join(form.errors["lead_id"]), messages.ERROR)
    lead_id = form.cleaned_data["lead_id"]
    try:
        controls.order_link_request(order_id=order.pk, lead_id=lead_id, trigger=_trigger(request))
    except ValueError:  # the only refusal before the cluster looks the deal up in amoCRM
        text = _("Deal %(lead)s is already linked to another order.") % {"lead": lead_id}
        return _done(request, text, messages.ERROR)
    return _done(
        request,
        _("Order %(order)s will be linked to deal %(lead)s once AmoCRM confirms it (see the sync log).")
        % {"order": order, "lead": lead_id},
    )


BULK_ACTIONS = {
    "skip": (
        controls.order_skip,
        ngettext_lazy("%(count)s order will not be synced.", "%(count)s orders will not be synced.", "count"),
    ),
    "unskip": (
        controls.order_unskip,
        ngettext_lazy(
            "%(count)s order will be synced again.", "%(count)s orders will be synced again.", "count"
        ),
    ),
    "unlink": (
        controls.order_unlink,
        ngettext_lazy(
            "%(count)s order is unlinked from its deal.",
            "%(count)s orders are unlinked from their deals.",
            "count",
        ),
    ),
}


def _queued_text(count: int) -> str:
    return ngettext(
        "%(count)s order is queued for AmoCRM.", "%(count)s orders are queued for AmoCRM.", count
    ) % {"count": count}


@require_POST
@requires("sync.control")
def sync_bulk(request: HttpRequest, action: str) -> HttpResponse:
    """``push`` (batched), ``skip``, ``unskip`` or ``unlink`` for the posted ``order_ids``."""
    try:
        ids = _order_ids(request)
    except ValidationError as exc:
        return _done(request, " ".join(exc.messages), messages.ERROR)
    if not ids:
        return _bulk_done(request, [], _("Select at least one order."), messages.WARNING)
    if action == "unlink" and request.POST.get("confirm") != "1":
        return bulk_confirm(request, action, ids)
    if action == "push":
        return _bulk_push(request, ids)
    if action not in BULK_ACTIONS:
        return HttpResponse(status=404)
    service, text = BULK_ACTIONS[action]
    existing = list(Order.objects.filter(pk__in=ids).values_list("pk", flat=True))
    for order_id in existing:
        service(order_id=order_id, trigger=_trigger(request))
    return _bulk_done(request, existing, text % {"count": len(existing)})


def _bulk_push(request: HttpRequest, ids: list[int]) -> HttpResponse:
    """Push the orders in batches; when some were unlinked from their deals, ask first (``unlinked`` =
    new | relink) instead of making second deals silently."""
    answer = request.POST.get("unlinked", "")
    if answer not in (controls.Unlinked.NEW, controls.Unlinked.RELINK):
        unlinked = controls.orders_unlinked(order_ids=ids)
        if unlinked:
            return bulk_push_choice(request, ids, unlinked)
    trigger = f"bulk:{request.user.get_username()}"
    count = controls.orders_push_bulk(order_ids=ids, trigger=trigger, unlinked=answer)
    return _bulk_done(request, ids, _queued_text(count))


def _bulk_done(
    request: HttpRequest, ids: list[int], text: str, level: int = messages.SUCCESS
) -> HttpResponse:
    """htmx: the progress bar following the orders to the end; without it: back with ``text``."""
    if request.htmx:
        return bulk_progress_response(request, ids[:BULK_TRACKED], text)
    return _done(request, text, level)


@require_GET
@staff_required
def sync_bulk_status(request: HttpRequest) -> HttpResponse:
    """How far a bulk action over ``ids`` (comma-separated) got: the progress fragment, polled by the orders
    list until none of them is queued or running (then ``HX-Trigger: orders-changed``); without htmx a
    page."""
    try:
        ids = IdListField(required=False).clean(request.GET.get("ids", ""))
    except ValidationError as exc:
        return HttpResponseBadRequest(" ".join(exc.messages))
    return bulk_progress_response(request, ids[:BULK_TRACKED])


ORDER_NUMBER = re.compile(r"(?:R-?)?0*(\d{1,12})", re.IGNORECASE)


def order_pk_from_text(text: str) -> int | None:
    """The order an order filter names: "R-000297", "297" or "000297" (numbers are "R-" and the primary key
    in six digits); None when the text names none."""
    match = ORDER_NUMBER.fullmatch(text.strip())
    return int(match.group(1)) if match and int(match.group(1)) else None


def _log_rows(request: HttpRequest) -> QuerySet[SyncLog]:
    """The sync log filtered by the request's ``order`` (its number or id), ``outcome`` and ``trigger``."""
    order = request.GET.get("order", "").strip()
    order_id = order_pk_from_text(order)
    rows = selectors.sync_log_list(
        order_id=order_id,
        outcome=request.GET.get("outcome", ""),
        trigger=request.GET.get("trigger", "").replace("\x00", "").strip(),  # PostgreSQL refuses NUL
    )
    return rows.none() if order and order_id is None else rows


@require_GET
@staff_required
@live.live_condition(live.log_page_version("sync", _log_rows))
def sync_log(request: HttpRequest) -> HttpResponse:
    """The sync log, newest first, filtered by ``order`` (its number or id), ``outcome`` or ``trigger``; htmx
    gets the table."""
    order = request.GET.get("order", "").strip()
    rows = _log_rows(request)
    page = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "actor_roles": actor_roles(trigger_people(row.trigger for row in page)),
        "amo_parties": party_names(
            contact_ids=[row.contact_id for row in page], company_ids=[row.company_id for row in page]
        ),
        "outcomes": SyncLog.Outcome.choices,
        "outcome": request.GET.get("outcome", ""),
        "order": order,
        "trigger": request.GET.get("trigger", ""),
        "amo_base_url": amo_base_url(),
    }
    template = "sync/log.html#table" if request.htmx and not request.htmx.boosted else "sync/log.html"
    return render(request, template, context)


def _failed_of_kind(kind: str) -> list[int]:
    """Order ids of the failed syncs whose error is of ``kind`` (as the failed page groups them)."""
    rows = selectors.sync_failed_list().only("order_id", "error_kind", "error")
    return [s.order_id for s in rows if kind_of(s.last_error_kind, s.last_error_status) == kind]


@require_GET
@staff_required
@live.live_condition(lambda request: live.failed_version())
def sync_failed(request: HttpRequest) -> HttpResponse:
    """Orders whose sync failed or waits for a retry, grouped by the kind of error: what happened, what to
    do, a retry button per group and the orders (attempt n of ``AMOCRM_MAX_ATTEMPTS``, when the next retry
    is)."""
    groups = failed_with_exchanges(failure_groups(selectors.sync_failed_list()), request.user)
    context = {"groups": groups, "max_attempts": max_attempts()}
    template = "sync/failed.html#table" if request.htmx and not request.htmx.boosted else "sync/failed.html"
    return render(request, template, context)


@require_POST
@requires("sync.retry")
def sync_retry(request: HttpRequest) -> HttpResponse:
    """Retry now the posted failed orders (``order_ids``), every failed order of one error ``kind``, or all of
    them with ``all=1``."""
    try:
        ids = _order_ids(request)
    except ValidationError as exc:
        return _done(request, " ".join(exc.messages), messages.ERROR)
    if request.POST.get("kind"):
        ids = _failed_of_kind(request.POST["kind"])
    if request.POST.get("all"):
        ids = list(selectors.sync_failed_list().values_list("order_id", flat=True))
    count = controls.orders_push_bulk(order_ids=ids, trigger=_trigger(request)) if ids else 0
    return _done(request, _queued_text(count))
