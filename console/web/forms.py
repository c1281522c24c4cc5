"""Forms of the console. They only validate input shapes; the services validate the business rules."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from console.customers.models import Customer
from console.orders.models import MAX_QUANTITY, Order, Product
from console.orders.services import MAX_TOTAL

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class OrderForm(forms.Form):
    """An order as a manager types it: an existing customer or a new one, dates, delivery, lines."""

    customer = forms.ModelChoiceField(
        queryset=Customer.objects.filter(is_active=True)
        .select_related("company")
        .order_by("last_name", "first_name"),
        required=False,
        label=_("Existing customer"),
        empty_label=_("— new customer —"),
    )
    new_first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    new_last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    new_phone = forms.CharField(label=_("Phone"), max_length=40, required=False)
    new_email = forms.EmailField(label=_("E-mail"), required=False)
    status = forms.ChoiceField(choices=Order.Status.choices, label=_("Status"), initial=Order.Status.NEW)
    installation_date = forms.DateField(label=_("Installation date"), widget=DATE_WIDGET)
    dismantle_date = forms.DateField(label=_("Dismantle date"), widget=DATE_WIDGET)
    delivery_method = forms.ChoiceField(choices=Order.DeliveryMethod.choices, label=_("Delivery method"))
    delivery_address = forms.CharField(label=_("Delivery address"), max_length=500, required=False)
    comment = forms.CharField(label=_("Comment"), widget=forms.Textarea(attrs={"rows": 3}), required=False)
    sync_disabled = forms.BooleanField(
        label=_("Do not sync to AmoCRM (draft)"),
        required=False,
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("customer") and not (data.get("new_phone") or data.get("new_email")):
            raise ValidationError(_("Choose a customer or give the new customer's phone or e-mail."))
        return data

    def service_data(self, lines: list[dict[str, Any]]) -> dict[str, Any]:
        """The ``data`` dict of ``order_create`` / ``order_update``."""
        data = self.cleaned_data
        result: dict[str, Any] = {
            key: data[key]
            for key in (
                "installation_date",
                "dismantle_date",
                "delivery_method",
                "delivery_address",
                "comment",
                "sync_disabled",
                "status",
            )
        }
        result["items"] = lines
        if data.get("customer"):
            result["customer"] = data["customer"]
        else:
            result["customer_data"] = {
                "first_name": data["new_first_name"],
                "last_name": data["new_last_name"],
                "phone": data["new_phone"],
                "email": data["new_email"],
                "customer_type": "individual",
            }
        return result


class OrderLineForm(forms.Form):
    product = forms.ModelChoiceField(
        queryset=Product.objects.order_by("-is_active", "category", "name"),
        label=_("Product"),
        required=False,
    )
    quantity = forms.IntegerField(label=_("Quantity"), min_value=1, max_value=MAX_QUANTITY, required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("product") and not data.get("quantity"):
            self.add_error("quantity", _("Give a quantity."))
        if data.get("quantity") and not data.get("product"):
            self.add_error("product", _("Choose a product."))
        return data


OrderLineFormSet = forms.formset_factory(OrderLineForm, extra=3, max_num=200)


def formset_lines(formset: forms.BaseFormSet) -> list[dict[str, Any]]:
    """The filled lines of a valid formset as ``{"product", "quantity"}`` dicts."""
    return [
        {"product": form.cleaned_data["product"], "quantity": form.cleaned_data["quantity"]}
        for form in formset.forms
        if form.cleaned_data.get("product") and not form.cleaned_data.get("DELETE")
    ]


class OrderStatusForm(forms.Form):
    status = forms.ChoiceField(choices=Order.Status.choices, label=_("Status"))


class OrderPaymentForm(forms.Form):
    """What the customer paid; ``order_set_payment`` checks the bounds again."""

    paid_amount = forms.DecimalField(
        label=_("Paid, ₽"), min_value=0, max_value=MAX_TOTAL, max_digits=14, decimal_places=2
    )
    payment_status = forms.ChoiceField(choices=Order.PaymentStatus.choices, label=_("Payment status"))
