"""Filters of the console's lists (django-filter), and the one search rule for customers: by name, phone in
any spelling, or e-mail (the orders list's search box and the order form's customer picker both use it)."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from functools import reduce
from typing import Any

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from console.amocrm.models import LossReason
from console.customers.models import Customer
from console.orders.models import Order
from console.web import sync_state
from console.web.forms import id_or_none

CUSTOMER_MATCHES = 20
NUMBER = re.compile(r"^[Rr]-?0*(\d{1,9})$")
PHONE = re.compile(r"^[\d\s()+.-]+$")


def _case_variants(value: str) -> set[str]:
    """SQLite's LIKE ignores case for ASCII only: "иван" also looks for "Иван" and "ИВАН"."""
    return {value} if value.isascii() else {value, value.lower(), value.capitalize(), value.upper()}


def _phone_digits(value: str) -> list[str]:
    """Digit strings a phone typed in any spelling may appear as in ``phone_normalized`` (+7XXXXXXXXXX):
    "8 999 123" is looked for as "8999123" and "7999123", "+7 (999) 123-45-67" as "9991234567"."""
    digits = "".join(ch for ch in value if ch.isdigit())
    if len(digits) < 4 or not PHONE.match(value):
        return []
    variants = [digits[-10:]]
    if digits[0] == "8" and len(digits) < 11:
        variants.append("7" + digits[1:])
    return variants


def customer_condition(value: str, prefix: str = "") -> Q:
    """Customers (``prefix`` "customer__" from orders) whose name, phone, e-mail or company matches
    ``value``."""
    texts = [
        Q(**{f"{prefix}{field}__icontains": variant})
        for variant in _case_variants(value)
        for field in ("first_name", "last_name", "display_name", "company__name")
    ]
    texts.append(Q(**{f"{prefix}email__icontains": value.lower()}))
    texts += [Q(**{f"{prefix}phone_normalized__contains": digits}) for digits in _phone_digits(value)]
    words = value.split()
    if len(words) == 2:  # "Иван Петров" or "Петров Иван"
        first, last = (f"{prefix}first_name__icontains", f"{prefix}last_name__icontains")
        for a, b in ((words[0], words[1]), (words[1], words[0])):
            texts += [Q(**{first: x}, **{last: y}) for x in _case_variants(a) for y in _case_variants(b)]
    return reduce(operator.or_, texts)


def customer_search(value: str) -> list[Customer]:
    """Up to ``CUSTOMER_MATCHES`` active customers matching ``value`` (see :func:`customer_condition`). A NUL
    character can be in no stored text (PostgreSQL refuses it in a query): it is dropped."""
    value = value.replace("\x00", "").strip()
    if len(value) < 2:
        return []
    rows = Customer.objects.filter(is_active=True).filter(customer_condition(value)).select_related("company")
    return list(rows.order_by("last_name", "first_name", "pk")[:CUSTOMER_MATCHES])


def order_search_condition(value: str) -> Q:
    """Orders matching the list's search box: the number ("R-000297", "r-297" or a part), the customer's name,
    phone or e-mail, or the deal's id. Text starting with "R-" is a number and nothing else; a whole one is
    one index lookup."""
    number = NUMBER.match(value.replace(" ", ""))
    if number and value[:1] in "Rr":
        exact = Q(number=f"R-{int(number.group(1)):06d}")
        return exact if len(number.group(0)) >= len("R-000000") else exact | Q(number__icontains=value)
    condition = Q(number__icontains=value) | customer_condition(value, prefix="customer__")
    lead_id = id_or_none(value) if value.isdigit() else None
    if lead_id is not None:
        condition |= Q(amo_sync__lead_id=lead_id)
    return condition


def any_of(choices: Any, label: str, **options: Any) -> django_filters.ChoiceFilter:
    """A select of ``choices`` whose empty option reads "Any"."""
    return django_filters.ChoiceFilter(choices=choices, label=label, empty_label=_("Any"), **options)


def switch(method: str, label: str) -> django_filters.BooleanFilter:
    """A checkbox filter, applied by the filter set's ``method`` (off: every row)."""
    return django_filters.BooleanFilter(method=method, label=label, widget=forms.CheckboxInput)


class SearchFilterSet(django_filters.FilterSet):
    """A list's filters with a search box ``q``: the typed text (without NUL, which no stored text has and
    PostgreSQL refuses, and outer spaces) goes through the class's ``condition``."""

    q = django_filters.CharFilter(method="search", label=_("Search"))
    condition: Callable[[str], Q]
    distinct = False  # the condition follows a to-many relation

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.replace("\x00", "").strip()
        if not value:
            return queryset
        found = queryset.filter(type(self).condition(value))
        return found.distinct() if self.distinct else found


class OrderFilter(SearchFilterSet):
    """The orders list's filters. ``sync_context`` (required) is what the display states are computed from."""

    condition = staticmethod(order_search_condition)
    status = any_of(Order.Status.choices, _("Status"))
    sync_state = any_of(sync_state.CHOICES, _("AmoCRM sync"), method="filter_sync_state")
    has_error = switch("filter_has_error", _("Has a sync error"))
    drifted = switch("filter_drifted", _("Stage differs in AmoCRM"))
    source = any_of(Order.Source.choices, _("Source"))
    to_confirm = switch("filter_to_confirm", _("From AmoCRM, to confirm"))
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
    manager = django_filters.ModelChoiceFilter(
        field_name="responsible",
        queryset=get_user_model().objects.filter(is_active=True, is_staff=True).order_by("username"),
        label=_("Manager"),
        empty_label=_("Any"),
    )
    mine = switch("filter_mine", _("My orders"))
    loss_reason = django_filters.ModelChoiceFilter(
        field_name="amo_loss_reason__reason",
        queryset=LossReason.objects.all(),
        label=_("Loss reason"),
        empty_label=_("Any"),
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

    def __init__(self, *args, sync_context: sync_state.SyncContext, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.sync_context = sync_context

    @property
    def qs(self) -> QuerySet:
        queryset = super().qs
        shown = self.form.cleaned_data.get("shown") if self.form.is_valid() else None
        return queryset if shown else queryset.filter(is_active=True)

    def filter_mine(self, queryset: QuerySet, name: str, value: bool | None) -> QuerySet:
        """Only the orders the signed-in user is responsible for (off by default)."""
        user = getattr(self.request, "user", None)
        if not value or user is None or not user.is_authenticated:
            return queryset
        return queryset.filter(responsible=user)

    def filter_shown(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(is_active=False) if value == "deleted" else queryset

    def filter_sync_state(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(sync_state.state_q(value, self.sync_context))

    def filter_to_confirm(self, queryset: QuerySet, name: str, value: bool | None) -> QuerySet:
        """Only the drafts: deals made in amoCRM that no manager confirmed yet."""
        return queryset.filter(source=Order.Source.AMOCRM, confirmed_at__isnull=True) if value else queryset

    def filter_has_error(self, queryset: QuerySet, name: str, value: bool | None) -> QuerySet:
        return queryset.filter(sync_state.has_error_q()) if value else queryset

    def filter_drifted(self, queryset: QuerySet, name: str, value: bool | None) -> QuerySet:
        return (
            queryset.filter(sync_state.state_q(sync_state.DisplayState.DRIFTED, self.sync_context))
            if value
            else queryset
        )
