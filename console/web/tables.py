"""Tables of the console (django-tables2)."""

from __future__ import annotations

from collections.abc import Iterator

import django_tables2 as tables
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from console.customers.normalize import display_phone
from console.orders.models import Order
from console.web.errors import shown_error
from console.web.sync_state import SyncContext, SyncDisplay, display_state

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class OrderTable(tables.Table):
    """The orders list: its columns, sorting and pages. A row's cells are written in ``orders/_table.html``
    (django-tables2 renders each cell through an introspected ``render_*`` call, several times slower on
    a page of 50 orders); each record carries its ``sync_display``, set by the view, and the table the
    account's address for the deal links (``amo_base_url``, "" when none is set)."""

    amo_base_url = ""

    select = tables.CheckBoxColumn(
        accessor="pk",
        attrs={
            "th__input": {"data-select-all": "1", "aria-label": _("Select all")},
            "td__input": {"name": "order_ids", "form": "bulk-form"},
        },
        orderable=False,
    )
    number = tables.Column(verbose_name=_("Number"), order_by=("id",))
    customer = tables.Column(
        verbose_name=_("Customer"), order_by=("customer__last_name", "customer__first_name")
    )
    status = tables.Column(verbose_name=_("Status"))
    installation_date = tables.DateColumn(verbose_name=_("Installation"), format="d.m.Y")
    dismantle_date = tables.DateColumn(verbose_name=_("Dismantle"), format="d.m.Y")
    total_amount = tables.Column(
        verbose_name=_("Total"), attrs={"td": {"class": "num"}, "th": {"class": "num"}}
    )
    source = tables.Column(verbose_name=_("Source"))
    sync = tables.Column(
        verbose_name=_("AmoCRM"), accessor="amo_sync", order_by=("amo_sync__state",), empty_values=()
    )
    created_at = tables.DateTimeColumn(verbose_name=_("Created"), format="d.m.Y H:i")

    class Meta:
        model = Order
        fields = (
            "select",
            "number",
            "customer",
            "status",
            "installation_date",
            "dismantle_date",
            "total_amount",
            "source",
            "sync",
            "created_at",
        )
        attrs = {"class": "orders", "id": "orders"}
        order_by = ("-created_at",)
        empty_text = _("No orders match.")
        template_name = "orders/_table.html"


def _csv_header() -> list[str]:
    # Column names in English here; the translation pass gives them their Russian names.
    return [
        str(name)
        for name in (
            _("Number"),
            _("Created"),
            _("Customer"),
            _("Phone"),
            _("E-mail"),
            _("Company"),
            _("Status"),
            _("Installation"),
            _("Dismantle"),
            _("Total, ₽"),
            _("Paid, ₽"),
            _("Payment status"),
            _("Source"),
            _("AmoCRM state"),
            _("AmoCRM deal"),
            _("Sync error"),
        )
    ]


def _cell(value: str) -> str:
    """A typed value that a spreadsheet would read as a formula is kept as text (OWASP "CSV injection"):
    one starting with "=", "@", a tab or a carriage return, or with "+" or "-" followed by anything but a
    plain number (digits, spaces, "." and ","): "-5" stays as it is, "-2+3" and "+cmd|…" are guarded."""
    first, rest = value[:1], value[1:]
    if first in ("+", "-") and rest.strip() and all(c.isdigit() or c in " .," for c in rest):
        return value
    return f"'{value}" if first in FORMULA_STARTS else value


def _csv_row(order: Order, display: SyncDisplay) -> list[str]:
    customer = order.customer
    sync = getattr(order, "amo_sync", None)
    error = shown_error(sync) if sync is not None else None
    return [
        order.number or "",
        timezone.localtime(order.created_at).strftime("%d.%m.%Y %H:%M"),
        _cell(customer.name),
        _cell(display_phone(customer.phone)),  # "8 (999) …": a spreadsheet reads it as text, no guard
        _cell(customer.email),
        _cell(customer.company.name if customer.company_id else ""),
        order.get_status_display(),
        order.installation_date.strftime("%d.%m.%Y"),
        order.dismantle_date.strftime("%d.%m.%Y"),
        f"{order.total_amount:.2f}".replace(".", ","),
        f"{order.paid_amount:.2f}".replace(".", ","),
        order.get_payment_status_display(),
        order.get_source_display(),
        display.label,
        str(sync.lead_id) if sync is not None and sync.lead_id else "",
        error.what if error else "",  # in words, as the pages say it (amoCRM's own text stays in the app)
    ]


def order_csv_rows(orders: QuerySet[Order], ctx: SyncContext) -> Iterator[list[str]]:
    """The header, then one row per order of ``orders`` (read in chunks, never all at once)."""
    yield _csv_header()
    for order in orders.iterator(chunk_size=2000):
        yield _csv_row(order, display_state(order, ctx))
