"""Customers pages: the list (search by name, phone in any spelling, e-mail, INN; filter by type), the card
(details, orders with their sync state, the amoCRM contact and company, history) and the create/edit form.

Every write goes through ``console.customers.services`` (the API's rules and its ``customer_changed``
signal, which the integration listens to); errors stay on the form. Managers and admins edit, support reads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

import django_tables2 as tables
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET
from django_filters import FilterSet
from django_tables2 import RequestConfig

from console.amocrm.models import CompanyAmoLink, CustomerAmoLink, SyncLog
from console.customers.history import customer_changes
from console.customers.models import ContactChange, Customer
from console.customers.services import by_manager, customer_create, customer_update
from console.web import sync_state
from console.web.customer_forms import CompanyForm, CustomerForm, show_errors
from console.web.customer_lists import CustomerFilter, CustomerTable, customers_queryset
from console.web.decorators import staff_required
from console.web.labels import amo_base_url, party_names
from console.web.live import CARD_ORDERS, customer_page_version, list_page_version, live_condition
from console.web.permissions import requires
from console.web.views.orders import htmx_fragment

PER_PAGE = 50
CARD_HISTORY = 50


def list_view(
    filter_class: type[FilterSet],
    rows: Callable[[], QuerySet],
    table_class: type[tables.Table],
    template: str,
    doc: str,
    live_kind: str,
) -> Callable[[HttpRequest], HttpResponse]:
    """A list page of the customers pages: ``rows()`` through ``filter_class`` in ``list_page``, live
    (``console.web.live``) over its ``live_kind`` rows."""

    @require_GET
    @staff_required
    @live_condition(list_page_version(live_kind))
    def view(request: HttpRequest) -> HttpResponse:
        return list_page(request, filter_class(request.GET or None, queryset=rows()), table_class, template)

    view.__doc__ = doc
    return view


customer_list = list_view(
    CustomerFilter,
    customers_queryset,
    CustomerTable,
    "customers/list.html",
    "All active customers (inactive ones on request), searched and filtered; htmx gets the table only.",
    "customers",
)


def list_page(
    request: HttpRequest, list_filter: FilterSet, table_class: type[tables.Table], template: str
) -> HttpResponse:
    """One list of the customers pages: ``list_filter``'s rows in ``table_class``, paginated, in
    ``template``; htmx gets its ``table`` partial only."""
    table = table_class(list_filter.qs)
    RequestConfig(request, paginate={"per_page": PER_PAGE}).configure(table)
    context = {"filter": list_filter, "table": table, "total": table.paginator.count}
    return render(request, f"{template}#table" if htmx_fragment(request) else template, context)


@dataclass(frozen=True)
class AmoSide:
    """The customer's contact and company in amoCRM and whether our latest edit reached them."""

    contact_id: int | None
    company_id: int | None
    state: str  # "not_linked" | "pending" | "synced"
    label: str


def amo_side(customer: Customer) -> AmoSide:
    """Where ``customer`` stands in amoCRM (its ``CustomerAmoLink``; the company's own link as a fallback)."""
    link = CustomerAmoLink.objects.filter(customer=customer).first()
    company_id = link.company_id if link else None
    if company_id is None and customer.company_id:
        company_id = (
            CompanyAmoLink.objects.filter(company_id=customer.company_id)
            .values_list("amo_id", flat=True)
            .first()
        )
    if link is None or not link.contact_id:
        label = _("Not in amoCRM yet: the contact is found or created when the customer's first order syncs.")
        return AmoSide(None, company_id, "not_linked", label)
    if link.update_pending:
        return AmoSide(link.contact_id, company_id, "pending", _("An edit waits to be sent to amoCRM."))
    return AmoSide(link.contact_id, company_id, "synced", _("The contact in amoCRM has the latest details."))


def customer_history(customer: Customer, side: AmoSide) -> list[SyncLog]:
    """The newest sync log rows of the customer's orders and of its contact, newest first."""
    condition = Q(order__customer=customer)
    if side.contact_id:
        condition |= Q(contact_id=side.contact_id)
    rows = SyncLog.objects.filter(condition).select_related("order").defer("error_detail")
    return list(rows.order_by("-started_at", "-id")[:CARD_HISTORY])


CHANGE_ACTIONS = {
    "created": gettext_lazy("Created"),
    "updated": gettext_lazy("Changed"),
    "deactivated": gettext_lazy("Deactivated"),
}
ORIGIN_LABELS = {
    "storefront": gettext_lazy("Storefront"),
    "manager": gettext_lazy("Manager"),
    "amocrm": gettext_lazy("amoCRM"),
    "system": gettext_lazy("System"),
}


@dataclass(frozen=True)
class ShownChange:
    """One line of the card's change history, in words."""

    at: datetime
    whose: str  # the customer or its company
    action: str
    fields: str
    who: str


def _field_words(row: ContactChange) -> str:
    form = CompanyForm if row.company_id else CustomerForm
    labels = {name: str(field.label) for name, field in form.base_fields.items()} | {"tags": _("Tags")}
    known = [label for name, label in labels.items() if name in row.fields]
    return ", ".join(known + [name for name in row.fields if name not in labels])


def shown_changes(customer: Customer) -> list[ShownChange]:
    """The customer's and its company's changes (``console.customers.history``), newest first, in words."""
    rows = customer_changes(customer_id=customer.pk, company_id=customer.company_id, limit=CARD_HISTORY)
    return [
        ShownChange(
            at=row.created_at,
            whose=_("Company") if row.company_id else _("Customer"),
            action=str(CHANGE_ACTIONS.get(row.action, row.action)),
            fields="" if row.action == "created" else _field_words(row),
            who=row.actor
            if row.origin == "manager" and row.actor
            else str(ORIGIN_LABELS.get(row.origin, row.origin)),
        )
        for row in rows
    ]


@require_GET
@staff_required
@live_condition(customer_page_version)
def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One customer: details, orders with their sync state, the amoCRM contact and company, history."""
    customer = get_object_or_404(Customer.objects.select_related("company"), pk=pk)
    ctx = sync_state.sync_context()
    orders = list(customer.orders.select_related("amo_sync").order_by("-created_at", "-id")[:CARD_ORDERS])
    for order in orders:
        order.sync_display = sync_state.display_state(order, ctx)
    side = amo_side(customer)
    context = {
        "customer": customer,
        "orders": orders,
        "order_total": customer.orders.count(),
        "amo": side,
        "amo_parties": party_names(contact_ids=[side.contact_id], company_ids=[side.company_id]),
        "amo_base_url": amo_base_url(),
        "history": customer_history(customer, side),
        "changes": shown_changes(customer),
        # The contacts work fills templates/customers/_conflicts.html and sets this flag when amoCRM's
        # contact differs from ours.
    }
    return render(request, "customers/detail.html", context)


@requires("customers.edit")
def customer_form(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """Create (no ``pk``) or edit a customer through the customers services; errors stay on the form."""
    customer = get_object_or_404(Customer.objects.select_related("company"), pk=pk) if pk else None
    return form_page(request, CUSTOMER_FORM, customer)


@dataclass(frozen=True)
class FormPage:
    """The create/edit page of one kind of row: its form and template, the card it goes to once saved, the
    services that create and update it (the row passed to ``update`` as ``keyword``) and what they say."""

    form_class: type[CustomerForm] | type[CompanyForm]
    template: str
    card: str
    create: Callable[..., Any]
    update: Callable[..., Any]
    keyword: str
    created: str
    saved: str


CUSTOMER_FORM = FormPage(
    CustomerForm,
    "customers/form.html",
    "web:customer_detail",
    customer_create,
    customer_update,
    "customer",
    gettext_lazy("Customer %(name)s created."),
    gettext_lazy("Customer %(name)s saved."),
)


def form_page(request: HttpRequest, page: FormPage, row: Any) -> HttpResponse:
    """Show ``page``'s form for ``row`` (None: a new one); on a valid POST, write it through the page's
    service (as the signed-in manager), say so and go to the card. A service's ``ValidationError`` stays on
    the form."""
    context = {page.keyword: row}
    if request.method != "POST":
        initial = page.form_class.initial_of(row) if row is not None else None
        return render(request, page.template, {"form": page.form_class(initial=initial), **context})
    form = page.form_class(request.POST)
    if form.is_valid():
        write = page.create if row is None else partial(page.update, **{page.keyword: row})
        try:
            saved = write(data=form.service_data(), **by_manager(request.user))
        except ValidationError as exc:
            show_errors(form, exc)
        else:
            messages.success(request, (page.created if row is None else page.saved) % {"name": saved.name})
            return redirect(page.card, pk=saved.pk)
    return render(request, page.template, {"form": form, **context})
