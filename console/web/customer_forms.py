"""The customer and company forms of the console. They only collect text: the rules (a name, a phone or an
e-mail, unique phone/e-mail/INN, phone normalisation, INN/KPP/OGRN checks) are the customers services' own,
the ones the API applies, and their ``ValidationError`` lands on the form's fields (:func:`show_errors`)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils.translation import gettext_lazy as _

from console.customers.models import COMPANY_FIELDS, Company, Customer

CUSTOMER_TEXT_FIELDS = ("first_name", "last_name", "display_name", "phone", "email")


class CustomerForm(forms.Form):
    """A customer's editable fields (tags stay the API's)."""

    customer_type = forms.ChoiceField(label=_("Type"), choices=Customer.Type.choices)
    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    display_name = forms.CharField(label=_("Display name"), max_length=300, required=False)
    phone = forms.CharField(label=_("Phone"), max_length=40, required=False)
    email = forms.CharField(label=_("E-mail"), max_length=254, required=False)
    company = forms.ModelChoiceField(
        label=_("Company"), queryset=Company.objects.order_by("name"), required=False, empty_label="—"
    )
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    @staticmethod
    def initial_of(customer: Customer) -> dict[str, Any]:
        """The form's initial values for an existing ``customer``."""
        initial = {field: getattr(customer, field) for field in CUSTOMER_TEXT_FIELDS}
        return initial | {
            "customer_type": customer.customer_type,
            "company": customer.company_id,
            "is_active": customer.is_active,
        }

    def service_data(self) -> dict[str, Any]:
        """What ``customer_create`` / ``customer_update`` take (``company``: a Company or None)."""
        return dict(self.cleaned_data)


class CompanyForm(forms.Form):
    """A company's fields (``COMPANY_FIELDS``)."""

    name = forms.CharField(label=_("Name"), max_length=255, required=False)
    legal_name = forms.CharField(label=_("Legal name"), max_length=255, required=False)
    inn = forms.CharField(label=_("INN"), max_length=40, required=False)
    kpp = forms.CharField(label=_("KPP"), max_length=40, required=False)
    ogrn = forms.CharField(label=_("OGRN"), max_length=40, required=False)
    legal_address = forms.CharField(label=_("Legal address"), max_length=500, required=False)
    phone = forms.CharField(label=_("Phone"), max_length=40, required=False)
    email = forms.CharField(label=_("E-mail"), max_length=254, required=False)

    @staticmethod
    def initial_of(company: Company) -> dict[str, Any]:
        """The form's initial values for an existing ``company``."""
        return {field: getattr(company, field) for field in COMPANY_FIELDS}

    def service_data(self) -> dict[str, Any]:
        """What ``company_create`` / ``company_update`` take."""
        return dict(self.cleaned_data)


def show_errors(form: forms.Form, exc: ValidationError) -> None:
    """Put a service's ``ValidationError`` on ``form``: on the field it names, else above the form."""
    if not hasattr(exc, "error_dict"):
        for message in exc.messages:
            form.add_error(None, message)
        return
    for field, messages in exc.message_dict.items():
        for message in messages:
            if field in form.fields:
                form.add_error(field, message)
            else:
                form.add_error(None, message if field == NON_FIELD_ERRORS else f"{field}: {message}")
