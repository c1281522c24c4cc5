"""The rental domain: the product catalog, orders and their lines.

Totals are always computed by the server (see ``console.orders.services``): rental days = dismantle date -
installation date (at least 1); line total = quantity x unit price x rental days; order total = sum of lines.
"""

from __future__ import annotations

import secrets
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from console.customers.models import Customer

MAX_QUANTITY = 10_000


def new_tracking_token() -> str:
    """A fresh, unguessable token for the storefront's order tracking link (22 URL-safe characters)."""
    return secrets.token_urlsafe(16)


class Product(models.Model):
    class Category(models.TextChoices):
        CHAIRS = "chairs", _("Chairs")
        TABLES = "tables", _("Tables")
        SOFAS = "sofas", _("Sofas and armchairs")
        BARS = "bars", _("Bar counters and stools")
        TENTS = "tents", _("Tents and marquees")
        LIGHTING = "lighting", _("Lighting")
        DECOR = "decor", _("Decor and textiles")
        EQUIPMENT = "equipment", _("Equipment")

    sku = models.CharField(_("SKU"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=255)
    category = models.CharField(_("category"), max_length=20, choices=Category.choices)
    unit_price = models.DecimalField(
        _("price per rental day, RUB"), max_digits=12, decimal_places=2, validators=[MinValueValidator(0)]
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["category", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"


class Order(models.Model):
    class Status(models.TextChoices):
        NEW = "new", _("New")
        RESERVED = "reserved", _("Reserved")
        IN_RENT = "in_rent", _("In rent")
        IN_PROGRESS = "in_progress", _("In progress")
        ARCHIVED = "archived", _("Archived")
        CANCELLED = "cancelled", _("Cancelled")

    class DeliveryMethod(models.TextChoices):
        PICKUP = "pickup", _("Pickup")
        DELIVERY = "delivery", _("Delivery")
        DELIVERY_INSTALLATION = "delivery_installation", _("Delivery with installation")

    class Source(models.TextChoices):
        STOREFRONT = "storefront", _("Storefront")
        MANAGER = "manager", _("Manager")
        AMOCRM = "amocrm", _("AmoCRM")

    class PaymentStatus(models.TextChoices):
        NOT_PAID = "not_paid", _("Not paid")
        PREPAID = "prepaid", _("Prepaid")
        PAID = "paid", _("Paid")

    DELIVERING_METHODS = frozenset({DeliveryMethod.DELIVERY, DeliveryMethod.DELIVERY_INSTALLATION})

    number = models.CharField(_("number"), max_length=32, unique=True, null=True, blank=True, editable=False)
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="orders"
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.NEW, db_index=True
    )
    installation_date = models.DateField(_("installation date"))
    dismantle_date = models.DateField(_("dismantle date"))
    delivery_method = models.CharField(
        _("delivery method"), max_length=30, choices=DeliveryMethod.choices, default=DeliveryMethod.PICKUP
    )
    delivery_address = models.CharField(_("delivery address"), max_length=500, blank=True)
    comment = models.TextField(_("comment"), blank=True)
    total_amount = models.DecimalField(_("total, RUB"), max_digits=14, decimal_places=2, default=Decimal("0"))
    paid_amount = models.DecimalField(
        _("paid, RUB"),
        max_digits=14,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(0)],
    )
    payment_status = models.CharField(
        _("payment status"), max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.NOT_PAID
    )
    source = models.CharField(_("source"), max_length=20, choices=Source.choices, default=Source.MANAGER)
    tracking_token = models.CharField(
        _("tracking token"), max_length=64, unique=True, default=new_tracking_token, editable=False
    )
    checkout_contact = models.JSONField(
        _("checkout contact details"),
        default=dict,
        blank=True,
        editable=False,
        help_text=_("What the storefront checkout typed: name, phone, e-mail, company."),
    )
    sync_disabled = models.BooleanField(
        _("do not sync to CRM"), default=False, help_text=_("Keep this order (a draft) out of AmoCRM.")
    )
    is_active = models.BooleanField(_("active"), default=True, db_index=True)
    # A deal created in amoCRM comes in as a draft (source "amocrm", not confirmed); a manager confirms it.
    confirmed_at = models.DateTimeField(_("confirmed"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    responsible = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("responsible manager"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="responsible_orders",
        help_text=_("Who handles the order: its creator, or the manager chosen for storefront orders."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["installation_date"]),
            models.Index(fields=["dismantle_date"]),
            # The dashboard counts active orders and those kept out of amoCRM from this index alone.
            models.Index(fields=["is_active", "sync_disabled"], name="order_active_sync_idx"),
        ]

    def __str__(self) -> str:
        return self.number or f"#{self.pk}"

    @property
    def is_draft(self) -> bool:
        """A deal made in amoCRM, not confirmed by a manager yet: it is not pushed to amoCRM."""
        return self.source == self.Source.AMOCRM and self.confirmed_at is None

    @property
    def rental_days(self) -> int:
        return rental_days(self.installation_date, self.dismantle_date)


def rental_days(installation_date, dismantle_date) -> int:  # noqa: ANN001 (dates)
    """Days of rent between the two dates, at least 1."""
    return max(1, (dismantle_date - installation_date).days)


class OrderItem(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey(
        Product, verbose_name=_("product"), on_delete=models.PROTECT, related_name="+"
    )
    quantity = models.PositiveIntegerField(
        _("quantity"), validators=[MinValueValidator(1), MaxValueValidator(MAX_QUANTITY)]
    )
    unit_price = models.DecimalField(_("price per day, RUB"), max_digits=12, decimal_places=2)
    line_total = models.DecimalField(_("line total, RUB"), max_digits=14, decimal_places=2)

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["order", "product"], name="orderitem_product_once")]

    def __str__(self) -> str:
        return f"{self.product_id} x {self.quantity}"


class OrderStatusChange(models.Model):
    """History of an order's status: who or what moved it (a manager, the storefront, AmoCRM)."""

    class Origin(models.TextChoices):
        STOREFRONT = "storefront", _("Storefront")
        MANAGER = "manager", _("Manager")
        AMOCRM = "amocrm", _("AmoCRM")
        SYSTEM = "system", _("System")

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(_("from"), max_length=20, choices=Order.Status.choices, blank=True)
    to_status = models.CharField(_("to"), max_length=20, choices=Order.Status.choices)
    origin = models.CharField(_("changed by"), max_length=20, choices=Origin.choices)
    actor = models.CharField(_("who"), max_length=150, blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("status change")
        verbose_name_plural = _("status changes")

    def __str__(self) -> str:
        return f"{self.from_status or '-'} -> {self.to_status}"


class StorefrontManager(models.Model):
    """A console user marked "takes storefront orders": storefront orders go to these in turn (the one
    assigned longest ago next) unless ``STOREFRONT_RESPONSIBLE`` names one user for all of them."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="storefront_manager"
    )
    takes_orders = models.BooleanField(_("takes storefront orders"), default=True)
    last_assigned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("storefront manager")
        verbose_name_plural = _("storefront managers")

    def __str__(self) -> str:
        return str(self.user)


class OrderResponsibleChange(models.Model):
    """History of an order's responsible manager: who it went from and to, and who or what changed it (a
    manager in the console, or amoCRM). The user names are kept as they were, should a user be removed."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="responsible_changes")
    from_user = models.CharField(_("from"), max_length=150, blank=True)
    to_user = models.CharField(_("to"), max_length=150, blank=True)
    origin = models.CharField(_("changed by"), max_length=20, choices=OrderStatusChange.Origin.choices)
    actor = models.CharField(_("who"), max_length=150, blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("responsible change")
        verbose_name_plural = _("responsible changes")

    def __str__(self) -> str:
        return f"{self.from_user or '-'} -> {self.to_user or '-'}"
