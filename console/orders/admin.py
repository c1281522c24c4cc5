"""Admin of the catalog and orders. Orders are read-mostly here: writes that must reach AmoCRM go through the
services (the API and the console); the admin shows lines and status history read-only, and deleting an
order (one or "delete selected") is the soft delete of ``order_soft_delete``."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from console.customers.admin import SoftDeleteAdmin
from console.customers.services import by_manager
from console.orders.models import Order, OrderItem, OrderResponsibleChange, OrderStatusChange, Product
from console.orders.services import order_soft_delete


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["sku", "name", "category", "unit_price", "is_active"]
    list_filter = ["category", "is_active"]
    search_fields = ["sku", "name"]
    list_editable = ["is_active"]


class OrderItemInline(admin.TabularInline):
    model = OrderItem
    extra = 0
    fields = ["product", "quantity", "unit_price", "line_total"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False


class OrderStatusChangeInline(admin.TabularInline):
    model = OrderStatusChange
    extra = 0
    fields = ["created_at", "from_status", "to_status", "origin", "actor"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False


class OrderResponsibleChangeInline(OrderStatusChangeInline):
    model = OrderResponsibleChange
    fields = ["created_at", "from_user", "to_user", "origin", "actor"]
    readonly_fields = fields


@admin.register(Order)
class OrderAdmin(SoftDeleteAdmin):
    list_display = [
        "number",
        "customer",
        "status",
        "installation_date",
        "dismantle_date",
        "total_amount",
        "payment_status",
        "source",
        "sync_disabled",
        "is_active",
        "created_at",
    ]
    list_filter = [
        "status",
        "payment_status",
        "source",
        "delivery_method",
        "is_active",
        "sync_disabled",
        "installation_date",
    ]
    search_fields = [
        "number",
        "customer__first_name",
        "customer__last_name",
        "customer__display_name",
        "customer__phone_normalized",
        "customer__email",
    ]
    date_hierarchy = "installation_date"
    list_select_related = ["customer"]
    readonly_fields = [
        "number",
        "customer",
        "status",
        "total_amount",
        "paid_amount",
        "payment_status",
        "source",
        "confirmed_at",
        "tracking_token",
        "checkout_contact",
        "created_by",
        "created_at",
        "updated_at",
    ]
    fields = [
        "number",
        "customer",
        "status",
        ("installation_date", "dismantle_date"),
        ("delivery_method", "delivery_address"),
        "comment",
        "total_amount",
        ("paid_amount", "payment_status"),
        ("source", "confirmed_at"),
        "sync_disabled",
        "is_active",
        "tracking_token",
        "checkout_contact",
        "created_by",
        ("created_at", "updated_at"),
    ]
    inlines = [OrderItemInline, OrderStatusChangeInline, OrderResponsibleChangeInline]

    def has_add_permission(self, request) -> bool:  # noqa: ANN001
        return False

    def has_change_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False

    def soft_delete(self, request: HttpRequest, obj: Order) -> None:
        order_soft_delete(order=obj, **by_manager(request.user))


@admin.register(OrderStatusChange)
class OrderStatusChangeAdmin(admin.ModelAdmin):
    list_display = ["order", "from_status", "to_status", "origin", "actor", "created_at"]
    list_filter = ["origin", "to_status"]
    search_fields = ["order__number", "actor"]
    list_select_related = ["order"]

    def has_add_permission(self, request) -> bool:  # noqa: ANN001
        return False

    def has_change_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False


@admin.register(OrderItem)
class OrderItemAdmin(admin.ModelAdmin):
    list_display = ["order", "product", "quantity", "unit_price", "line_total"]
    search_fields = ["order__number", "product__sku", "product__name"]
    list_select_related = ["order", "product"]

    def has_add_permission(self, request) -> bool:  # noqa: ANN001
        return False

    def has_change_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False
