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

from console.amocrm.models import LossReason, OrderSync
from console.customers.models import Company, Customer
from console.orders.models import Order
from console.web import paging, sync_state
from console.web.forms import id_or_none

CUSTOMER_MATCHES = 20
NUMBER = re.compile(r"^[Rr]-?0*(\d{1,9})$")
PART_OF_NUMBER = re.compile(r"^-?\d{1,9}$")
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


def contains_all(words: list[str]) -> Q:
    """Rows whose ``search`` column (``console.customers.models.search_text``) holds every one of ``words``,
    in any order and any case."""
    return reduce(
        operator.and_,
        (
            reduce(operator.or_, (Q(search__contains=v) for v in _case_variants(word.lower())))
            for word in words
        ),
    )


def union(*parts: QuerySet) -> QuerySet:
    """The ids ``parts`` select (each the ``values`` of one column) as one subquery: the database answers
    each part from its own index and merges them, where an OR of subqueries has it test every row of the
    outer table against each (PostgreSQL then scans all orders for a name that two customers have)."""
    first, *rest = [part.order_by() for part in parts]
    return first.union(*rest) if rest else first


def customer_ids(value: str) -> QuerySet:
    """The ids of the customers whose name, e-mail, phone, or company's name, legal name, INN or e-mail
    holds every word of ``value``, or whose phone holds the digits typed in any spelling. Read from the
    narrow ``search`` columns (a trigram index on PostgreSQL)."""
    words = value.split()
    companies = Company.objects.filter(contains_all(words)).values("pk")
    parts = [
        Customer.objects.filter(contains_all(words)).values("pk"),
        Customer.objects.filter(company__in=companies).values("pk"),
    ]
    phones = _phone_digits(value)  # phone_normalized is in ``search`` too
    parts += [Customer.objects.filter(search__contains=digits).values("pk") for digits in phones]
    return union(*parts)


def customer_condition(value: str) -> Q:
    """Customers matching ``value`` (see :func:`customer_ids`)."""
    return Q(pk__in=customer_ids(value))


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
    parts = [Order.objects.filter(customer__in=customer_ids(value)).values("pk")]
    if PART_OF_NUMBER.match(value):  # a name or a whole phone number is no part of "R-000297"
        parts.append(Order.objects.filter(number__contains=value).values("pk"))
    lead_id = id_or_none(value) if value.isdigit() else None
    if lead_id is not None:
        parts.append(OrderSync.objects.filter(lead_id=lead_id).values("order_id"))
    return Q(pk__in=union(*parts))


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

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.replace("\x00", "").strip()
        if not value:
            return queryset
        return queryset.filter(type(self).condition(value))


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
        self.per_order = True  # the display states' spelling (see ``sync_state.state_q``)

    @property
    def qs(self) -> QuerySet:
        queryset = super().qs
        shown = self.form.cleaned_data.get("shown") if self.form.is_valid() else None
        return queryset if shown else queryset.filter(is_active=True)

    def total(self) -> paging.Total:
        """How many orders :attr:`qs` holds (``paging.total``), counted through the spelling of the filters
        a count reads fastest (the page reads its rows through the other one). A search narrows the orders
        most: then the page's own spelling counts fastest (each found order's row tested). Drift compares the
        deal's stage with the order's status, which no planner estimates: its count is exact."""
        if not self.form.is_valid():
            return paging.total(self.qs)
        chosen = self.form.cleaned_data
        drift = chosen.get("drifted") or chosen.get("sync_state") == sync_state.DisplayState.DRIFTED
        if chosen.get("q"):
            return paging.total(self.qs, estimate=not drift)
        self.per_order = False
        try:
            counted = self.filter_queryset(self.queryset.all())
            return paging.total(
                counted if chosen.get("shown") else counted.filter(is_active=True), estimate=not drift
            )
        finally:
            self.per_order = True

    def filter_mine(self, queryset: QuerySet, name: str, value: bool | None) -> QuerySet:
        """Only the orders the signed-in user is responsible for (off by default)."""
        user = getattr(self.request, "user", None)
        if not value or user is None or not user.is_authenticated:
            return queryset
        return queryset.filter(responsible=user)

    def filter_shown(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(is_active=False) if value == "deleted" else queryset

    def filter_sync_state(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(sync_state.state_q(value, self.sync_context, per_order=self.per_order))

    def filter_to_confirm(self, queryset: QuerySet, name: str, value: bool | None) -> QuerySet:
        """Only the drafts: deals made in amoCRM that no manager confirmed yet."""
        return queryset.filter(source=Order.Source.AMOCRM, confirmed_at__isnull=True) if value else queryset

    def filter_has_error(self, queryset: QuerySet, name: str, value: bool | None) -> QuerySet:
        return queryset.filter(sync_state.has_error_q()) if value else queryset

    def filter_drifted(self, queryset: QuerySet, name: str, value: bool | None) -> QuerySet:
        return self.filter_sync_state(queryset, name, sync_state.DisplayState.DRIFTED) if value else queryset
