"""API serializers of orders: input (shape, types, lengths, ids -> rows) and output (the API's order).

The domain rules (dates, delivery address, one line per product, active products, totals) live in
``console.orders.services``; their ``ValidationError`` becomes a 400 in ``console.api_base``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from console.customers.models import Customer
from console.customers.serializers import (
    CustomerSummarySerializer,
    IdField,
    InlineCustomerSerializer,
    TextField,
)
from console.orders.models import MAX_QUANTITY, Order, OrderItem, Product
from console.orders.validation import MAX_TOTAL

MAX_LINES = 200


@extend_schema_field(
    {
        "oneOf": [
            {"type": "integer", "description": "id of an existing customer (staff only)"},
            {
                "type": "object",
                "description": "the customer inline (found by phone or e-mail, else created): customer_type, "
                "name or first_name/last_name, phone, email, company {name, legal_name, inn, kpp, ogrn, "
                "legal_address, email, phone} for business customers",
            },
        ]
    }
)
class CustomerRefField(serializers.Field):
    """``customer``: an existing customer's id, or the customer's details as an object (storefront checkout).

    Validates to ``{"customer": Customer}`` or ``{"customer_data": dict}`` (``customer_find_or_create``
    input).
    """

    default_error_messages = {
        "invalid": _("Send a customer id or the customer's details as an object."),
        "not_found": _("No customer with id {id}."),
        "details_required": _("Send the customer's details as an object."),
    }

    def __init__(self, *, allow_id: bool = True, **kwargs: Any) -> None:
        self.allow_id = allow_id
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if isinstance(data, dict):
            inline = InlineCustomerSerializer(data=data)
            if not inline.is_valid():
                raise serializers.ValidationError(inline.errors)
            return {"customer_data": inline.to_service_data(inline.validated_data)}
        if not self.allow_id:
            self.fail("details_required")
        if isinstance(data, bool) or not isinstance(data, int | str):
            self.fail("invalid")
        pk = IdField().run_validation(data)
        customer = Customer.objects.filter(pk=pk).first()
        if customer is None:
            self.fail("not_found", id=pk)
        return {"customer": customer}

    def to_representation(self, value: Any) -> Any:
        return value.pk if isinstance(value, Customer) else value


class OrderItemInputSerializer(serializers.Serializer):
    """One order line: the product by id (``product``) or by SKU (``sku``), and a quantity."""

    product = IdField(required=False)
    sku = TextField(max_length=64, allow_blank=False)
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("product" in attrs) == ("sku" in attrs):
            raise serializers.ValidationError({"product": _("Give either the product id or its SKU.")})
        return attrs


def resolve_products(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Replace product ids/SKUs with ``Product`` rows (one query); unknown products are per-line errors."""
    ids = {line["product"] for line in lines if "product" in line}
    skus = {line["sku"] for line in lines if "sku" in line}
    found = list(Product.objects.filter(Q(pk__in=ids) | Q(sku__in=skus)))
    by_id = {p.pk: p for p in found}
    by_sku = {p.sku: p for p in found}
    resolved: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for line in lines:
        product = by_id.get(line["product"]) if "product" in line else by_sku.get(line["sku"])
        if product is None:
            key = "product" if "product" in line else "sku"
            errors.append({key: [_("No such product: %(p)s.") % {"p": line[key]}]})
        else:
            errors.append({})
        resolved.append({"product": product, "quantity": line["quantity"]})
    if any(errors):
        raise serializers.ValidationError(errors)
    return resolved


class OrderInputSerializer(serializers.Serializer):
    """An order written by staff (manager cabinet): every field, customer by id or inline."""

    customer = CustomerRefField()
    status = serializers.ChoiceField(choices=Order.Status.choices, required=False)
    installation_date = serializers.DateField()
    dismantle_date = serializers.DateField()
    delivery_method = serializers.ChoiceField(
        choices=Order.DeliveryMethod.choices, default=Order.DeliveryMethod.PICKUP
    )
    delivery_address = TextField(max_length=500)
    comment = TextField(max_length=5000)
    # "amocrm" is only ever set by a deal created in amoCRM (a draft), never through the API.
    source = serializers.ChoiceField(
        choices=[c for c in Order.Source.choices if c[0] != Order.Source.AMOCRM], required=False
    )
    sync_to_crm = serializers.BooleanField(required=False)
    paid_amount = serializers.DecimalField(
        max_digits=14, decimal_places=2, min_value=Decimal("0"), max_value=MAX_TOTAL, required=False
    )
    payment_status = serializers.ChoiceField(choices=Order.PaymentStatus.choices, required=False)
    items = OrderItemInputSerializer(many=True, allow_empty=False, max_length=MAX_LINES)

    def validate_items(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return resolve_products(value)

    def to_service_data(self) -> dict[str, Any]:
        """``validated_data`` in the shape ``order_create``/``order_update`` take."""
        data = dict(self.validated_data)
        data.update(data.pop("customer", {}))
        if "sync_to_crm" in data:
            data["sync_disabled"] = not data.pop("sync_to_crm")
        return data


class StorefrontOrderInputSerializer(OrderInputSerializer):
    """An anonymous checkout: the customer inline only; status, source and payment are not theirs (ignored).

    ``sync_to_crm`` is a manager's decision: sent by the storefront it is a 400 on that field."""

    customer = CustomerRefField(allow_id=False)
    status = None
    source = None
    paid_amount = None
    payment_status = None

    def validate_sync_to_crm(self, value: bool) -> bool:
        raise serializers.ValidationError(_("Only a manager may decide whether an order goes to the CRM."))


class OrderItemOutputSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="product.sku", read_only=True)
    name = serializers.CharField(source="product.name", read_only=True)

    class Meta:
        model = OrderItem
        fields = ["id", "product", "sku", "name", "quantity", "unit_price", "line_total"]


class OrderOutputSerializer(serializers.ModelSerializer):
    customer = CustomerSummarySerializer(read_only=True)
    items = OrderItemOutputSerializer(many=True, read_only=True)
    rental_days = serializers.IntegerField(read_only=True)
    sync_to_crm = serializers.SerializerMethodField()

    class Meta:
        model = Order
        fields = [
            "id",
            "number",
            "status",
            "customer",
            "items",
            "rental_days",
            "total_amount",
            "paid_amount",
            "payment_status",
            "installation_date",
            "dismantle_date",
            "delivery_method",
            "delivery_address",
            "comment",
            "source",
            "sync_to_crm",
            "tracking_token",
            "checkout_contact",
            "is_active",
            "created_at",
            "updated_at",
        ]

    def get_sync_to_crm(self, order: Order) -> bool:
        return not order.sync_disabled


class StorefrontOrderOutputSerializer(OrderOutputSerializer):
    """What an anonymous checkout gets back: the order without the customer record (found by phone, it may
    hold data the caller did not send), with the token of its tracking link."""

    customer = None

    class Meta(OrderOutputSerializer.Meta):
        fields = [f for f in OrderOutputSerializer.Meta.fields if f not in {"customer", "checkout_contact"}]


class OrderTrackingSerializer(serializers.ModelSerializer):
    """The public view of an order behind its tracking token: its progress, nothing about the customer."""

    status_display = serializers.CharField(source="get_status_display", read_only=True)

    class Meta:
        model = Order
        fields = [
            "number",
            "status",
            "status_display",
            "installation_date",
            "dismantle_date",
            "total_amount",
            "payment_status",
        ]
        read_only_fields = fields
