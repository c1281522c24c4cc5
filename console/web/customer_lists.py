"""The customers and companies lists: their filters (django-filter) and tables (django-tables2).

A customer is found by name, phone in any spelling (the orders list's rule,
:func:`console.web.filters.customer_condition`), e-mail, or its company's name or INN; a company by name,
legal name, INN, e-mail or phone."""

from __future__ import annotations

import django_tables2 as tables
from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext_lazy as _

from console.amocrm.models import Party, PartyConflict
from console.customers.models import Company, Customer
from console.web.filters import (
    SearchFilterSet,
    _phone_digits,
    any_of,
    contains_all,
    customer_condition,
    switch,
)


def company_list_condition(value: str) -> Q:
    """Companies matching the companies list's search box."""
    condition = contains_all(value.split())
    for digits in _phone_digits(value):
        condition |= Q(phone__contains=digits)
    return condition


class CustomerFilter(SearchFilterSet):
    """The customers list's search, type filter and the inactive customers switch."""

    condition = staticmethod(customer_condition)
    customer_type = any_of(Customer.Type.choices, _("Type"))
    inactive = switch("filter_inactive", _("Show inactive too"))
    conflicts = switch("filter_conflicts", _("Changed in amoCRM and here"))

    class Meta:
        model = Customer
        fields: list[str] = []

    def filter_conflicts(self, queryset: QuerySet, name: str, value: bool | None) -> QuerySet:
        """Only customers with an open conflict on their contact or their company (off: every customer)."""
        return queryset.filter(with_open_conflicts()) if value else queryset

    def filter_inactive(self, queryset: QuerySet, name: str, value: bool | None) -> QuerySet:
        return queryset

    @property
    def qs(self) -> QuerySet:
        queryset = super().qs
        shown = self.form.cleaned_data.get("inactive") if self.form.is_valid() else False
        return queryset if shown else queryset.filter(is_active=True)


class CompanyFilter(SearchFilterSet):
    """The companies list's search."""

    condition = staticmethod(company_list_condition)

    class Meta:
        model = Company
        fields: list[str] = []


def with_open_conflicts() -> Q:
    """Customers whose contact, or whose company, has a conflict with amoCRM not settled yet."""
    open_rows = PartyConflict.objects.filter(resolved_at__isnull=True)
    contacts = open_rows.filter(party=Party.CONTACT).values("object_id")
    companies = open_rows.filter(party=Party.COMPANY).values("object_id")
    return Q(pk__in=contacts) | Q(company_id__in=companies)


def open_conflict_count() -> int:
    """How many contacts and companies have a conflict not settled yet (one count over the small
    conflicts table, not over the customers)."""
    open_rows = PartyConflict.objects.filter(resolved_at__isnull=True)
    return open_rows.values("party", "object_id").distinct().count()


def customers_queryset() -> QuerySet[Customer]:
    """Customers with their company and their orders counted (one query per page)."""
    return Customer.objects.select_related("company").annotate(order_count=Count("orders"))


def companies_queryset() -> QuerySet[Company]:
    """Companies with their customers counted."""
    return Company.objects.annotate(customer_count=Count("customers"))


# A link to a card leaves the list: not boosted into the list's box (which only pages and sorts the table).
CARD_LINK = {"a": {"hx-boost": "false"}}


class CustomerTable(tables.Table):
    """The customers list: each name links to the customer's card."""

    name = tables.Column(
        verbose_name=_("Name"),
        linkify=("web:customer_detail", {"pk": tables.A("pk")}),
        attrs=CARD_LINK,
        order_by=("last_name", "first_name", "display_name"),
        empty_values=(),
    )
    customer_type = tables.Column(verbose_name=_("Type"))
    phone = tables.Column(verbose_name=_("Phone"))
    email = tables.Column(verbose_name=_("E-mail"))
    company = tables.Column(
        verbose_name=_("Company"),
        linkify=("web:company_detail", {"pk": tables.A("company_id")}),
        attrs=CARD_LINK,
    )
    order_count = tables.Column(
        verbose_name=_("Orders"), attrs={"td": {"class": "num"}, "th": {"class": "num"}}
    )
    created_at = tables.DateTimeColumn(verbose_name=_("Created"), format="d.m.Y")

    class Meta:
        model = Customer
        fields = ("name", "customer_type", "phone", "email", "company", "order_count", "created_at")
        attrs = {"class": "customers", "id": "customers"}
        row_attrs = {"data-customer-id": lambda record: record.pk}
        order_by = ("-created_at",)
        empty_text = _("No customers match.")


class CompanyTable(tables.Table):
    """The companies list: each name links to the company's card."""

    name = tables.Column(
        verbose_name=_("Name"), linkify=("web:company_detail", {"pk": tables.A("pk")}), attrs=CARD_LINK
    )
    inn = tables.Column(verbose_name=_("INN"))
    legal_name = tables.Column(verbose_name=_("Legal name"))
    phone = tables.Column(verbose_name=_("Phone"))
    email = tables.Column(verbose_name=_("E-mail"))
    customer_count = tables.Column(
        verbose_name=_("Customers"), attrs={"td": {"class": "num"}, "th": {"class": "num"}}
    )

    class Meta:
        model = Company
        fields = ("name", "inn", "legal_name", "phone", "email", "customer_count")
        attrs = {"class": "companies", "id": "companies"}
        row_attrs = {"data-company-id": lambda record: record.pk}
        order_by = ("name",)
        empty_text = _("No companies match.")
