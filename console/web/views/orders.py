"""Orders pages: the list with sync state, filters and bulk actions; one order with its history."""

from __future__ import annotations

import csv

from django.contrib import messages
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django_tables2 import RequestConfig

from console.amocrm.loss import loss_reason_choices, order_loss_reason_set
from console.amocrm.models import LossReason
from console.amocrm.outbound import retries
from console.amocrm.outbound.selectors import order_tasks_shown
from console.amocrm.stagemap import stage_labels
from console.customers.selectors import contact_differences
from console.customers.services import customer_apply_contact
from console.orders.models import Order
from console.orders.services import (
    order_cancel,
    order_create,
    order_set_payment,
    order_set_status,
    order_soft_delete,
    order_update,
)
from console.web import sync_state
from console.web.decorators import staff_required
from console.web.exchanges import timeline_with_exchanges
from console.web.filters import OrderFilter, customer_search
from console.web.forms import OrderForm, OrderLineFormSet, OrderPaymentForm, OrderStatusForm, formset_lines
from console.web.labels import amo_base_url
from console.web.live import live_condition, order_list_version, order_page_version
from console.web.paging import CountedPaginator, DeferredJoinQuerySet
from console.web.permissions import requires
from console.web.tables import OrderTable, order_csv_rows
from console.web.timeline import amo_links, order_timeline, stage_name, timeline_roles

PER_PAGE = 50


def _orders_queryset():  # noqa: ANN202
    return Order.objects.select_related("customer", "customer__company", "amo_sync")


def _orders_pages() -> DeferredJoinQuerySet:
    """The orders list's rows: read a page at a time, its ids first (``DeferredJoinQuerySet``)."""
    return DeferredJoinQuerySet(Order).select_related("customer", "customer__company", "amo_sync")


def htmx_fragment(request: HttpRequest) -> bool:
    """True for an htmx request that wants only the list's fragment (not a boosted page load)."""
    return bool(request.htmx) and not request.htmx.boosted


@require_GET
@staff_required
@live_condition(order_list_version)
def order_list(request: HttpRequest) -> HttpResponse:
    """All orders with their AmoCRM display state; htmx requests get only the table fragment, which polls
    itself while an order on the page is queued or running."""
    ctx = sync_state.sync_context()
    order_filter = OrderFilter(
        request.GET or None, queryset=_orders_pages(), sync_context=ctx, request=request
    )
    table = OrderTable(order_filter.qs)
    table.amo_base_url = amo_base_url()  # each row's deal links to its card in amoCRM
    total = order_filter.total()
    paginate = {"per_page": PER_PAGE, "paginator_class": CountedPaginator, "count": lambda: total.n}
    RequestConfig(request, paginate=paginate).configure(table)
    records = [row.record for row in table.page.object_list]
    for record in records:
        record.sync_display = sync_state.display_state(record, ctx)
    context = {
        "filter": order_filter,
        "table": table,
        "total": total.n,
        "total_estimated": total.estimated,
        "polling": any(record.sync_display.active for record in records),
        "query": request.GET.urlencode(),
    }
    return render(
        request, "orders/list.html#table" if htmx_fragment(request) else "orders/list.html", context
    )


@require_GET
@staff_required
def order_export(request: HttpRequest) -> StreamingHttpResponse:
    """The filtered orders list (the list's filters) as CSV, streamed: UTF-8 with a BOM and ";" between
    fields, as spreadsheet programs in a Russian locale open it."""
    ctx = sync_state.sync_context()
    order_filter = OrderFilter(
        request.GET or None, queryset=_orders_queryset(), sync_context=ctx, request=request
    )
    rows = order_filter.qs.order_by("-created_at", "-id")
    writer = csv.writer(_Echo(), delimiter=";")
    stream = (writer.writerow(row) for row in order_csv_rows(rows, ctx))
    response = StreamingHttpResponse(_with_bom(stream), content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="orders-{stamp}.csv"'
    return response


class _Echo:
    """A file-like object whose ``write`` returns what it is given (csv.writer into a streamed response):
    https://docs.djangoproject.com/en/5.2/howto/outputting-csv/#streaming-large-csv-files"""

    def write(self, value: str) -> str:
        return value


def _with_bom(lines):  # noqa: ANN001, ANN202
    yield "\ufeff"
    yield from lines


@require_GET
@staff_required
@live_condition(order_page_version)
def order_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One order: lines, delivery, payment, its AmoCRM sync panel (state, the deal's stage by name, links,
    drift), a timeline of everything that happened to it, and where its checkout differs from the customer.
    htmx requests (the panel polling itself while a sync is queued or running) get only the sync panel."""
    order = get_object_or_404(
        _orders_queryset().select_related("amo_loss_reason").prefetch_related("items__product"), pk=pk
    )
    context = _sync_panel(order)
    if htmx_fragment(request):
        return render(request, "orders/detail.html#sync_panel", context)
    timeline = timeline_with_exchanges(order_timeline(order), request.user)
    context |= {
        "timeline": timeline,
        "actor_roles": timeline_roles(timeline),
        "status_form": OrderStatusForm(initial={"status": order.status}),
        "payment_form": OrderPaymentForm(
            initial={"paid_amount": order.paid_amount, "payment_status": order.payment_status}
        ),
        "contact_differences": contact_differences(customer=order.customer, contact=order.checkout_contact),
        "asks_loss_reason": LossReason.objects.exists(),
        "order_tasks": order_tasks_shown(order.pk),
    }
    return render(request, "orders/detail.html", context)


def _sync_panel(order: Order) -> dict:
    ctx = sync_state.sync_context()
    sync = getattr(order, "amo_sync", None)
    display = sync_state.display_state(order, ctx)
    drift = None
    if display.state == sync_state.DisplayState.DRIFTED:
        theirs, _why = sync_state.stage_status(sync, ctx)
        drift = {"theirs": theirs, "theirs_label": Order.Status(theirs).label if theirs else ""}
    stages = stage_labels()
    return {
        "order": order,
        "sync": sync,
        "stage_names": stages,
        "display": display,
        "drift": drift,
        "links": amo_links(sync),
        "deal_stage": stage_name(sync.amo_pipeline_id, sync.amo_status_id, stages) if sync else "",
        "max_attempts": retries.max_attempts(),
    }


@require_POST
@requires("sync.control")
def order_take_stage(request: HttpRequest, pk: int) -> HttpResponse:
    """Resolve a drift the amoCRM way: set the order's status to the one the deal's stage maps to."""
    order = get_object_or_404(Order.objects.select_related("amo_sync"), pk=pk)
    ctx = sync_state.sync_context()
    sync = getattr(order, "amo_sync", None)
    if not sync_state.is_drifted(order, sync, ctx):
        messages.info(request, _("The order and its deal agree now: nothing to take."))
        return redirect("web:order_detail", pk=order.pk)
    status, _why = sync_state.stage_status(sync, ctx)
    if status is None:
        messages.warning(
            request,
            _("The deal's stage in AmoCRM maps to no order status: push the order's status instead."),
        )
        return redirect("web:order_detail", pk=order.pk)
    try:
        order_set_status(order=order, status=status, origin="manager", actor=request.user.get_username())
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            _("Status changed to “%(status)s” as in AmoCRM.") % {"status": order.get_status_display()},
        )
    return redirect("web:order_detail", pk=order.pk)


def _apply_service_errors(exc: ValidationError, form: OrderForm, formset) -> None:  # noqa: ANN001
    """Show a service's ``ValidationError`` on the form (field errors) or above it."""
    for field, field_messages in exc.message_dict.items():
        target = field if field in form.fields else None
        for message in field_messages:
            if field == "items":
                formset._non_form_errors = formset.error_class([*formset.non_form_errors(), message])
            elif target:
                form.add_error(target, message)
            else:
                form.add_error(None, f"{field}: {message}" if field != NON_FIELD_ERRORS else message)


def _order_initial(order: Order) -> tuple[dict, list[dict]]:
    initial = {
        "customer": order.customer_id,
        "status": order.status,
        "installation_date": order.installation_date,
        "dismantle_date": order.dismantle_date,
        "delivery_method": order.delivery_method,
        "delivery_address": order.delivery_address,
        "comment": order.comment,
        "sync_disabled": order.sync_disabled,
        "responsible": order.responsible_id,
    }
    lines = [{"product": item.product_id, "quantity": item.quantity} for item in order.items.all()]
    return initial, lines


@requires("orders.edit")
def order_form(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """Create (no ``pk``) or edit an order through the orders services; errors stay on the form.

    "Find" (``find_customer``) re-shows the form as typed with the customers matching ``customer_q``: the
    customer picker without JavaScript (with it, :func:`customer_picker` answers as one types)."""
    order = get_object_or_404(Order, pk=pk, is_active=True) if pk else None
    initial, lines = _order_initial(order) if order else ({"responsible": request.user.pk}, [])
    context: dict = {"order": order, "finding": False, "matches": None}
    if request.method == "POST":
        form = OrderForm(request.POST, responsible_id=initial["responsible"])
        formset = OrderLineFormSet(request.POST, prefix="lines")
        if "find_customer" in request.POST:
            context |= {"finding": True, "matches": customer_search(request.POST.get("customer_q", ""))}
        elif form.is_valid() and formset.is_valid():
            saved = _save_order(request, order, form, formset)
            if saved is not None:
                return redirect("web:order_detail", pk=saved.pk)
    else:
        form = OrderForm(initial=initial, responsible_id=initial["responsible"])
        formset = OrderLineFormSet(initial=lines, prefix="lines")
    context |= {"form": form, "formset": formset, "chosen": form.chosen_customer()}
    return render(request, "orders/form.html", context)


def _save_order(request: HttpRequest, order: Order | None, form: OrderForm, formset) -> Order | None:  # noqa: ANN001
    data = form.service_data(formset_lines(formset))
    actor = request.user.get_username()
    try:
        if order is None:
            order = order_create(data=data, origin="manager", actor=actor, created_by=request.user)
            messages.success(request, _("Order %(number)s created.") % {"number": order.number})
        else:
            order = order_update(order=order, data=data, origin="manager", actor=actor)
            messages.success(request, _("Order %(number)s saved.") % {"number": order.number})
    except ValidationError as exc:
        _apply_service_errors(exc, form, formset)
        return None
    return order


@require_GET
@requires("orders.edit")
def customer_picker(request: HttpRequest) -> HttpResponse:
    """Up to 20 customers matching ``customer_q`` as choices of the order form's ``customer`` field
    (the picker's htmx fragment; without htmx the form's own "Find" button does the same)."""
    context = {"matches": customer_search(request.GET.get("customer_q", "")), "chosen": None, "finding": True}
    return render(request, "orders/form.html#customer_results", context)


def _set_payment(request: HttpRequest, order: Order, actor: str) -> None:
    form = OrderPaymentForm(request.POST)
    if not form.is_valid():
        errors = [f"{form.fields[field].label}: {msg}" for field, msgs in form.errors.items() for msg in msgs]
        messages.error(request, " ".join(errors))
        return
    order_set_payment(order=order, **form.cleaned_data, origin="manager", actor=actor)
    messages.success(request, _("Payment saved."))


@require_POST
@requires("orders.edit")
def order_action(request: HttpRequest, pk: int) -> HttpResponse:
    """Change the status or the payment, cancel or soft-delete an order
    (``action`` = status | payment | cancel | delete)."""
    order = get_object_or_404(Order, pk=pk)
    actor = request.user.get_username()
    action = request.POST.get("action", "")
    try:
        if action == "status":
            form = OrderStatusForm(request.POST)
            if not form.is_valid():
                messages.error(request, _("Unknown status."))
                return redirect("web:order_detail", pk=order.pk)
            order = order_set_status(
                order=order, status=form.cleaned_data["status"], origin="manager", actor=actor
            )
            messages.success(
                request, _("Status changed to “%(status)s”.") % {"status": order.get_status_display()}
            )
        elif action == "payment":
            _set_payment(request, order, actor)
        elif action == "cancel":
            return _cancel(request, order, actor)
        elif action == "delete":
            order_soft_delete(order=order, origin="manager", actor=actor)
            messages.success(request, _("Order deleted (kept in the archive of inactive orders)."))
        else:
            messages.error(request, _("Unknown action."))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("web:order_detail", pk=order.pk)


def _cancel(request: HttpRequest, order: Order, actor: str) -> HttpResponse:
    """Cancel once confirmed, with the amoCRM loss reason chosen when the account has reasons (sent with the
    lost stage); otherwise ask (the page's dialog sends ``confirm=1`` when there is no reason to choose)."""
    reasons = loss_reason_choices()
    chosen = request.POST.get("loss_reason", "")
    if request.POST.get("confirm") != "1" or (reasons and not chosen):
        return _confirm_cancel(request, order, reasons)
    reason = next((r for r in reasons if str(r.pk) == chosen), None)
    if reasons and reason is None and chosen != "none":
        error = _("This reason is no longer in amoCRM: choose another.")
        return _confirm_cancel(request, order, reasons, error=error, status=400)
    with transaction.atomic():
        order_cancel(order=order, origin="manager", actor=actor)
        if reason is not None:
            order_loss_reason_set(order=order, reason=reason, origin="manager", actor=actor)
    messages.success(request, _("Order cancelled."))
    return redirect("web:order_detail", pk=order.pk)


def _confirm_cancel(
    request: HttpRequest, order: Order, reasons: list[LossReason], *, error: str = "", status: int = 200
) -> HttpResponse:
    """Cancelling asks first; with the account's loss reasons to choose from."""
    context = {
        "loss_reasons": reasons,
        "loss_reason_error": error,
        "title": _("Cancel order %(number)s?") % {"number": order.number},
        "question": _("The order is cancelled and its deal in AmoCRM moves to the cancelled stage."),
        "action": request.path,
        "fields": [("action", "cancel")],
        "confirm_label": _("Cancel the order"),
        "back": reverse("web:order_detail", args=[order.pk]),
    }
    return render(request, "orders/confirm.html", context, status=status)


@require_POST
@requires("orders.edit")
def order_apply_contact(request: HttpRequest, pk: int) -> HttpResponse:
    """Update the order's customer with the details its storefront checkout typed, where they differ."""
    order = get_object_or_404(Order.objects.select_related("customer", "customer__company"), pk=pk)
    if not contact_differences(customer=order.customer, contact=order.checkout_contact):
        messages.info(request, _("The customer already matches the checkout details."))
        return redirect("web:order_detail", pk=order.pk)
    try:
        customer_apply_contact(
            customer=order.customer,
            contact=order.checkout_contact,
            origin="manager",
            actor=request.user.get_username(),
        )
    except ValidationError as exc:
        messages.error(
            request, _("The customer was not changed: %(errors)s") % {"errors": " ".join(exc.messages)}
        )
    else:
        messages.success(request, _("The customer's details were updated from the checkout."))
    return redirect("web:order_detail", pk=order.pk)
