"""Filters of the console's lists (django-filter)."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from console.amocrm.models import OrderSync
from console.orders.models import Order

SYNC_STATE_CHOICES = OrderSync.State.choices


class OrderFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label=_("Search"))
    status = django_filters.ChoiceFilter(
        choices=Order.Status.choices, label=_("Status"), empty_label=_("Any")
    )
    sync_state = django_filters.ChoiceFilter(
        choices=SYNC_STATE_CHOICES, method="filter_sync_state", label=_("AmoCRM sync"), empty_label=_("Any")
    )
    source = django_filters.ChoiceFilter(
        choices=Order.Source.choices, label=_("Source"), empty_label=_("Any")
    )
    installation_from = django_filters.DateFilter(
        field_name="installation_date",
        lookup_expr="gte",
        label=_("Installation from"),
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    installation_to = django_filters.DateFilter(
        field_name="installation_date",
        lookup_expr="lte",
        label=_("Installation to"),
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    shown = django_filters.ChoiceFilter(
        choices=[("all", _("Active and deleted")), ("deleted", _("Deleted only"))],
        method="filter_shown",
        label=_("Show"),
        empty_label=_("Active orders"),
        null_value=None,
    )

    class Meta:
        model = Order
        fields: list[str] = []

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        if not value:
            return queryset
        digits = "".join(ch for ch in value if ch.isdigit())
        condition = (
            Q(number__icontains=value)
            | Q(customer__first_name__icontains=value)
            | Q(customer__last_name__icontains=value)
            | Q(customer__display_name__icontains=value)
            | Q(customer__email__icontains=value)
            | Q(customer__company__name__icontains=value)
        )
        if len(digits) >= 4:
            condition |= Q(customer__phone_normalized__contains=digits[-10:])
        if digits and value.isdigit():
            condition |= Q(amo_sync__lead_id=int(digits)) if len(digits) < 19 else Q()
        return queryset.filter(condition)

    @property
    def qs(self) -> QuerySet:
        queryset = super().qs
        shown = self.form.cleaned_data.get("shown") if self.form.is_valid() else None
        return queryset if shown else queryset.filter(is_active=True)

    def filter_shown(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(is_active=False) if value == "deleted" else queryset

    def filter_sync_state(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value == OrderSync.State.NOT_SYNCED:
            return queryset.filter(Q(amo_sync__isnull=True) | Q(amo_sync__state=value))
        return queryset.filter(amo_sync__state=value)
