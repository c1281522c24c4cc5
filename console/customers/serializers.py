"""API serializers of customers and companies: input (shape and types) and output (representation).

Input serializers only check shape, types and lengths; the rules that need the database (duplicates, the
company of a business customer) live in ``console.customers.services``.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from console.customers.models import Company, Customer
from console.customers.normalize import normalize_phone, validate_inn, validate_kpp, validate_ogrn

MAX_ID = 2**63 - 1


def reject_surrogates(value: str) -> None:
    """Lone UTF-16 surrogates ("\\ud800" in JSON) cannot be stored as UTF-8 by any database."""
    if any("\ud800" <= ch <= "\udfff" for ch in value):
        raise serializers.ValidationError(_("Text contains invalid characters."), code="invalid_characters")


class TextField(serializers.CharField):
    """A bounded CharField that also rejects NUL bytes (built in) and lone surrogates."""

    def __init__(self, *, max_length: int, **kwargs: Any) -> None:
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("required", False)
        super().__init__(max_length=max_length, **kwargs)
        self.validators.append(reject_surrogates)


class IdField(serializers.IntegerField):
    """A primary key: a positive integer that fits a BIGINT (larger is a 400, not a database overflow)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(min_value=1, max_value=MAX_ID, **kwargs)


def _django_validator(validator):  # noqa: ANN001, ANN202 (adapts a Django validator to DRF)
    def check(value: str) -> None:
        try:
            validator(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc

    return check


def clean_phone(value: str) -> str:
    """Keep the phone as entered, but only if it parses (the E.164 form is computed by the service)."""
    value = value.strip()
    if value:
        _django_validator(normalize_phone)(value)
    return value


class CompanyInputSerializer(serializers.Serializer):
    name = TextField(max_length=255, required=True, allow_blank=False)
    legal_name = TextField(max_length=255)
    inn = TextField(max_length=12, validators=[_django_validator(validate_inn)])
    kpp = TextField(max_length=9, validators=[_django_validator(validate_kpp)])
    ogrn = TextField(max_length=15, validators=[_django_validator(validate_ogrn)])
    legal_address = TextField(max_length=500)
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True)
    phone = TextField(max_length=40)

    def validate_phone(self, value: str) -> str:
        return clean_phone(value)


class CompanyOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Company
        fields = [
            "id",
            "name",
            "legal_name",
            "inn",
            "kpp",
            "ogrn",
            "legal_address",
            "email",
            "phone",
            "created_at",
            "updated_at",
        ]


class PersonSerializer(serializers.Serializer):
    """A customer's type, name, e-mail and phone, as every customer input takes them."""

    customer_type = serializers.ChoiceField(choices=Customer.Type.choices, default=Customer.Type.INDIVIDUAL)
    first_name = TextField(max_length=150)
    last_name = TextField(max_length=150)
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True)
    phone = TextField(max_length=40)

    def validate_phone(self, value: str) -> str:
        return clean_phone(value)


class CustomerInputSerializer(PersonSerializer):
    display_name = TextField(max_length=300)
    tags = serializers.ListField(
        child=TextField(max_length=50, allow_blank=False), max_length=20, required=False
    )
    company = IdField(required=False, allow_null=True)
    is_active = serializers.BooleanField(required=False)

    def validate_company(self, value: int | None) -> Company | None:
        if value is None:
            return None
        company = Company.objects.filter(pk=value).first()
        if company is None:
            raise serializers.ValidationError(_("No company with id %(id)s.") % {"id": value})
        return company


class CompanySummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Company
        fields = ["id", "name", "inn"]


class CustomerOutputSerializer(serializers.ModelSerializer):
    company = CompanySummarySerializer(read_only=True, allow_null=True)

    class Meta:
        model = Customer
        fields = [
            "id",
            "customer_type",
            "name",
            "first_name",
            "last_name",
            "display_name",
            "email",
            "phone",
            "phone_normalized",
            "tags",
            "company",
            "is_active",
            "created_at",
            "updated_at",
        ]


class CustomerSummarySerializer(serializers.ModelSerializer):
    """The customer as shown inside an order."""

    company = serializers.CharField(source="company.name", default=None, read_only=True, allow_null=True)

    class Meta:
        model = Customer
        fields = ["id", "customer_type", "name", "phone", "phone_normalized", "email", "company"]


class InlineCompanySerializer(CompanyInputSerializer):
    """Company details sent by the storefront with a business customer."""


class InlineCustomerSerializer(PersonSerializer):
    """The storefront's customer, sent inside an order instead of an id; found by phone/e-mail or created."""

    name = TextField(max_length=300)
    company = InlineCompanySerializer(required=False, allow_null=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        errors: dict[str, str] = {}
        if not (attrs.get("phone") or attrs.get("email")):
            errors["phone"] = _("Give a phone or an e-mail.")
        if not (attrs.get("name") or attrs.get("first_name") or attrs.get("last_name")):
            errors["name"] = _("Give the customer's name.")
        if attrs.get("customer_type") == Customer.Type.BUSINESS and not attrs.get("company"):
            errors["company"] = _("A business customer needs company details.")
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def to_service_data(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """The ``customer_find_or_create`` input for validated ``attrs``."""
        data = {k: v for k, v in attrs.items() if k not in {"name", "company"}}
        if attrs.get("name"):
            data["display_name"] = attrs["name"]
        if attrs.get("company"):
            data["company_data"] = dict(attrs["company"])
        return data
