"""Query filters of the orders API: ``?status=new&status=reserved&installation_date_after=2026-01-01``."""

from __future__ import annotations

import django_filters

from console.customers.filters import IdFilter
from console.orders.models import Order


class OrderFilter(django_filters.FilterSet):
    """status (repeatable), installation/dismantle date ranges (``<field>_after`` / ``<field>_before``,
    inclusive), customer id, is_active."""

    status = django_filters.MultipleChoiceFilter(choices=Order.Status.choices)
    installation_date = django_filters.DateFromToRangeFilter()
    dismantle_date = django_filters.DateFromToRangeFilter()
    customer = IdFilter(field_name="customer_id")
    is_active = django_filters.BooleanFilter()
    source = django_filters.ChoiceFilter(choices=Order.Source.choices)

    class Meta:
        model = Order
        fields = ["status", "installation_date", "dismantle_date", "customer", "is_active", "source"]
