"""Query filters of the customers API, and the phone-aware search shared with the orders API."""

from __future__ import annotations

import re

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from rest_framework.filters import SearchFilter
from rest_framework.request import Request

from console.customers.models import Customer
from console.customers.normalize import normalize_phone

_PHONE_LIKE = re.compile(r"^\+?[\d\s()\-.]{7,}$")
MAX_SEARCH_LENGTH = 200


class PhoneAwareSearchFilter(SearchFilter):
    """``?search=``: a term that is a phone number in any spelling is searched as its E.164 form.

    NUL bytes are dropped (PostgreSQL refuses them) and the term is cut at ``MAX_SEARCH_LENGTH`` characters.
    """

    def get_search_terms(self, request: Request) -> list[str]:
        raw = request.query_params.get(self.search_param, "").replace("\x00", "")[:MAX_SEARCH_LENGTH].strip()
        if _PHONE_LIKE.match(raw):
            try:
                return [normalize_phone(raw)]
            except ValidationError:
                pass
        return [term for term in re.split(r"[\s,]+", raw) if term]


class IdFilter(django_filters.Filter):
    """An exact match on a primary key, bounded to BIGINT so a huge number is a 400, not a DB overflow."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(*args, **kwargs)


class CustomerFilter(django_filters.FilterSet):
    customer_type = django_filters.ChoiceFilter(choices=Customer.Type.choices)
    company = IdFilter(field_name="company_id")
    is_active = django_filters.BooleanFilter()

    class Meta:
        model = Customer
        fields = ["customer_type", "company", "is_active"]
