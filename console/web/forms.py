"""Forms of the console. They only validate input shapes; the services validate the business rules."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from console.customers.models import Customer
from console.customers.serializers import MAX_ID
from console.orders.models import MAX_QUANTITY, Order, Product
from console.orders.validation import MAX_TOTAL

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
# Every id the console reads from a request is bounded by ``MAX_ID``, the API's bound (the largest BIGINT): no
# row or amoCRM entity has a larger id, and the database driver cannot even send one (2**63 answered a 500).


class IdField(forms.IntegerField):
    """An id typed or posted: a whole number from 1 to ``MAX_ID``; anything else is a form error."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)


class IdListField(forms.Field):
    """Ids posted repeated (``order_ids=1&order_ids=2``) or comma-separated (``1,2``), each an
    :class:`IdField`; cleans to the distinct ids in the order given."""

    widget = forms.MultipleHiddenInput
    default_error_messages = {"invalid": _("“%(value)s” is not an id (a whole number from 1 to %(max)s).")}

    def to_python(self, value: Any) -> list[int]:
        values = value if isinstance(value, list | tuple) else [value]
        parts = [part.strip() for item in values for part in str(item or "").split(",")]
        ids = []
        for part in filter(None, parts):
            try:
                ids.append(IdField().clean(part))
            except ValidationError as exc:
                params = {"value": part[:30], "max": MAX_ID}
                raise ValidationError(self.error_messages["invalid"], code="invalid", params=params) from exc
        return list(dict.fromkeys(ids))


def id_or_none(value: Any) -> int | None:
    """``value`` as an :class:`IdField` id, or None when it is not one."""
    try:
        return IdField().clean(value)
    except ValidationError:
        return None


class LinkLeadForm(forms.Form):
    """The deal (amoCRM lead) an order is to be linked to, by its number."""

    lead_id = IdField(
        label=_("Deal number"),
        error_messages={
            key: _("Enter the deal number (digits only).") for key in ("required", "invalid", "min_value")
        }
        | {"max_value": _("No deal has a number this large: check the deal number.")},
    )


def managers(*, also: int | None = None) -> QuerySet:
    """The active users who may handle orders: the manager role (and the superusers, who are admins); and
    the user ``also`` (an order's manager now), whatever its role."""
    condition = Q(groups__name="manager", is_active=True) | Q(is_superuser=True, is_active=True)
    if also:
        condition |= Q(pk=also)
    return get_user_model().objects.filter(condition).distinct().order_by("username")


class ManagerChoiceField(forms.ModelChoiceField):
    """A manager shown by full name and user name."""

    def label_from_instance(self, obj: Any) -> str:
        name = obj.get_full_name()
        return f"{name} ({obj.get_username()})" if name else obj.get_username()


class OrderForm(forms.Form):
    """An order as a manager types it: an existing customer or a new one, dates, delivery, lines."""

    customer = forms.ModelChoiceField(
        queryset=Customer.objects.filter(is_active=True).select_related("company"),
        required=False,
        label=_("Customer"),
        widget=forms.RadioSelect,
    )
    customer_q = forms.CharField(
        label=_("Find a customer"),
        required=False,
        max_length=100,
        help_text=_("Name, phone in any spelling, or e-mail."),
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
    responsible = ManagerChoiceField(
        queryset=managers(),
        required=False,
        label=_("Responsible manager"),
        empty_label=_("— nobody —"),
        help_text=_("Sent to amoCRM as the deal's responsible user when linked on the users page."),
    )

    def __init__(self, *args: Any, responsible_id: int | None = None, **kwargs: Any) -> None:
        """``responsible_id``: the order's manager now, a choice even when no longer a manager."""
        super().__init__(*args, **kwargs)
        if responsible_id:
            self.fields["responsible"].queryset = managers(also=responsible_id)

    def chosen_customer(self) -> Customer | None:
        """The customer the field holds now (posted or initial), for showing it as the chosen one."""
        value = self["customer"].value()
        if isinstance(value, Customer):
            return value
        if not str(value or "").isdigit():
            return None
        return self.fields["customer"].queryset.filter(pk=int(value)).first()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        # An existing customer is picked: what the new customer's fields hold is moot.
        if data.get("customer"):
            for name in NEW_CUSTOMER_FIELDS:
                self.errors.pop(name, None)
                data[name] = ""
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
        if "responsible" in self.data:  # a form posted without the field keeps the order's manager
            result["responsible"] = data["responsible"]
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


NEW_CUSTOMER_FIELDS = ("new_first_name", "new_last_name", "new_phone", "new_email")


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


# Rows are added and removed in the page (a template row and ``static/console/orders.js``); without JavaScript
# the extra empty rows and the "remove" boxes do the same.
OrderLineFormSet = forms.formset_factory(OrderLineForm, extra=3, max_num=200, can_delete=True)


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
