"""Tables of the console (django-tables2)."""

from __future__ import annotations

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from console.orders.models import Order


class OrderTable(tables.Table):
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
        verbose_name=_("Total, ₽"), attrs={"td": {"class": "num"}, "th": {"class": "num"}}
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
        row_attrs = {"data-order-id": lambda record: record.pk}
        order_by = ("-created_at",)
        empty_text = _("No orders match.")

    def render_number(self, record: Order) -> str:
        url = reverse("web:order_detail", args=[record.pk])
        inactive = format_html(' <span class="badge">{}</span>', _("deleted")) if not record.is_active else ""
        return format_html('<a href="{}">{}</a>{}', url, record.number or f"#{record.pk}", inactive)

    def render_customer(self, record: Order) -> str:
        customer = record.customer
        company = f" · {customer.company.name}" if customer.company_id else ""
        return format_html(
            "{}{}<br><span class='muted small'>{}</span>", customer.name, company, customer.phone
        )

    def render_status(self, record: Order) -> str:
        return format_html('<span class="badge {}">{}</span>', record.status, record.get_status_display())

    def render_total_amount(self, value) -> str:  # noqa: ANN001
        return f"{value:,.2f}".replace(",", " ")

    def render_source(self, record: Order) -> str:
        return record.get_source_display()

    def render_sync(self, record: Order) -> str:
        sync = getattr(record, "amo_sync", None)
        if sync is None:
            if record.sync_disabled:
                return format_html('<span class="badge skipped">{}</span>', _("skipped"))
            return format_html('<span class="badge not_synced">{}</span>', _("not synced"))
        lead = (
            format_html("<br><span class='muted small'>{} {}</span>", _("lead"), sync.lead_id)
            if sync.lead_id
            else ""
        )
        error = ""
        if sync.state == "failed" and sync.last_error_title:
            error = format_html(
                "<br><span class='small' title='{}'>{}</span>",
                sync.last_error_detail,
                sync.last_error_title[:80],
            )
        return format_html(
            '<span class="badge {}">{}</span>{}{}', sync.state, sync.get_state_display(), lead, error
        )
