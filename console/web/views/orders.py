"""Orders pages: the list with sync state, filters and bulk actions; one order with its history."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django_tables2 import RequestConfig

from console.amocrm.models import AmoConnection
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
from console.web.decorators import staff_required
from console.web.filters import OrderFilter
from console.web.forms import OrderForm, OrderLineFormSet, OrderPaymentForm, OrderStatusForm, formset_lines
from console.web.permissions import requires
from console.web.tables import OrderTable

PER_PAGE = 50


def _orders_queryset():  # noqa: ANN202
    return Order.objects.select_related("customer", "customer__company", "amo_sync")


@require_GET
@staff_required
def order_list(request: HttpRequest) -> HttpResponse:
    """All orders with their AmoCRM sync state; htmx requests get only the table fragment."""
    order_filter = OrderFilter(request.GET or None, queryset=_orders_queryset())
    orders = order_filter.qs  # built once: the filter set's ``qs`` re-applies the "active only" default
    table = OrderTable(orders)
    RequestConfig(request, paginate={"per_page": PER_PAGE}).configure(table)
    context = {"filter": order_filter, "table": table, "total": orders.count()}
    template = "orders/list.html#table" if request.htmx and not request.htmx.boosted else "orders/list.html"
    return render(request, template, context)


@require_GET
@staff_required
def order_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One order: lines, delivery, payment, status history, AmoCRM link and its sync log, and where the
    details its storefront checkout typed differ from the customer record."""
    order = get_object_or_404(_orders_queryset().prefetch_related("items__product"), pk=pk)
    sync = getattr(order, "amo_sync", None)
    account = AmoConnection.objects.filter(pk=1).values_list("base_url", flat=True).first() or ""
    sync_log = Paginator(order.amo_sync_log.order_by("-started_at", "-id"), 20).get_page(
        request.GET.get("page")
    )
    context = {
        "order": order,
        "sync": sync,
        "lead_url": f"{account.rstrip('/')}/leads/detail/{sync.lead_id}"
        if sync and sync.lead_id and account
        else "",
        "sync_log": sync_log,
        "status_changes": order.status_changes.all()[:50],
        "status_form": OrderStatusForm(initial={"status": order.status}),
        "payment_form": OrderPaymentForm(
            initial={"paid_amount": order.paid_amount, "payment_status": order.payment_status}
        ),
        "contact_differences": contact_differences(customer=order.customer, contact=order.checkout_contact),
    }
    return render(request, "orders/detail.html", context)


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
    }
    lines = [{"product": item.product_id, "quantity": item.quantity} for item in order.items.all()]
    return initial, lines


@requires("orders.edit")
def order_form(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """Create (no ``pk``) or edit an order through the orders services; errors stay on the form."""
    order = get_object_or_404(Order, pk=pk, is_active=True) if pk else None
    initial, lines = _order_initial(order) if order else ({}, [])
    if request.method == "POST":
        form = OrderForm(request.POST)
        formset = OrderLineFormSet(request.POST, prefix="lines")
        if form.is_valid() and formset.is_valid():
            data = form.service_data(formset_lines(formset))
            actor = request.user.get_username()
            try:
                if order is None:
                    order = order_create(data=data, origin="manager", actor=actor, created_by=request.user)
                    messages.success(request, _("Order %(number)s created.") % {"number": order.number})
                else:
                    order = order_update(order=order, data=data, origin="manager", actor=actor)
                    messages.success(request, _("Order %(number)s saved.") % {"number": order.number})
                return redirect("web:order_detail", pk=order.pk)
            except ValidationError as exc:
                _apply_service_errors(exc, form, formset)
    else:
        form = OrderForm(initial=initial)
        formset = OrderLineFormSet(initial=lines, prefix="lines")
    return render(request, "orders/form.html", {"form": form, "formset": formset, "order": order})


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
            order_set_status(order=order, status=form.cleaned_data["status"], origin="manager", actor=actor)
            messages.success(
                request, _("Status changed to “%(status)s”.") % {"status": order.get_status_display()}
            )
        elif action == "payment":
            _set_payment(request, order, actor)
        elif action == "cancel":
            order_cancel(order=order, origin="manager", actor=actor)
            messages.success(request, _("Order cancelled."))
        elif action == "delete":
            order_soft_delete(order=order, origin="manager", actor=actor)
            messages.success(request, _("Order deleted (kept in the archive of inactive orders)."))
        else:
            messages.error(request, _("Unknown action."))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("web:order_detail", pk=order.pk)


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
