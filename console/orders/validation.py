"""Validation and money rules of an order, shared by its write services (``orders.services``): dates,
delivery, lines, payment amounts and the total, each error under its field (Django's ``ValidationError``)."""

from __future__ import annotations

import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from console.orders.models import MAX_QUANTITY, Order, Product

ORIGINS = frozenset({"storefront", "manager", "amocrm", "system"})
MIN_DATE = datetime.date(2000, 1, 1)
MAX_DATE = datetime.date(2100, 12, 31)
MAX_RENTAL_DAYS = 366
MAX_TOTAL = Decimal("999999999999.99")  # Order.total_amount and paid_amount: max_digits=14, decimal_places=2
CENT = Decimal("0.01")


def line_total(*, quantity: int, unit_price: Decimal, days: int) -> Decimal:
    """quantity x unit price x rental days, rounded to kopecks."""
    return (Decimal(quantity) * unit_price * days).quantize(CENT)


def _validate_dates(order: Order, *, origin: str, errors: dict[str, list[str]]) -> None:
    start, end = order.installation_date, order.dismantle_date
    for field, value in (("installation_date", start), ("dismantle_date", end)):
        if value is None:
            errors.setdefault(field, []).append(_("This field is required."))
        elif not MIN_DATE <= value <= MAX_DATE:
            errors.setdefault(field, []).append(
                _("Date must be between %(min)s and %(max)s.") % {"min": MIN_DATE, "max": MAX_DATE}
            )
    if errors or start is None or end is None:
        return
    if end < start:
        errors.setdefault("dismantle_date", []).append(
            _("Dismantle date cannot be before installation date.")
        )
    elif (end - start).days > MAX_RENTAL_DAYS:
        errors.setdefault("dismantle_date", []).append(
            _("A rental lasts at most %(days)s days.") % {"days": MAX_RENTAL_DAYS}
        )
    if origin == "storefront" and start < timezone.localdate():
        errors.setdefault("installation_date", []).append(_("Installation date cannot be in the past."))


def _validate_delivery(order: Order, errors: dict[str, list[str]]) -> None:
    if order.delivery_method in Order.DELIVERING_METHODS and not order.delivery_address.strip():
        errors.setdefault("delivery_address", []).append(_("Delivery address is required for delivery."))


def validate_lines(lines: list[dict[str, Any]], *, written: set[int]) -> list[str]:
    """Errors of the requested lines; ``written`` holds product ids whose line is added or changed."""
    if not lines:
        return [_("An order needs at least one item.")]
    errors: list[str] = []
    seen: set[int] = set()
    for line in lines:
        product: Product = line["product"]
        quantity = line["quantity"]
        if product.pk in seen:
            errors.append(
                _("Product %(sku)s appears twice; send one line per product.") % {"sku": product.sku}
            )
        seen.add(product.pk)
        if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= MAX_QUANTITY:
            errors.append(
                _("Quantity of %(sku)s must be between 1 and %(max)s.")
                % {"sku": product.sku, "max": MAX_QUANTITY}
            )
        if product.pk in written and not product.is_active:
            errors.append(_("Product %(sku)s is not available.") % {"sku": product.sku})
    return errors


def validate_order(order: Order, *, origin: str, errors: dict[str, list[str]]) -> None:
    _validate_dates(order, origin=origin, errors=errors)
    _validate_delivery(order, errors)
    try:
        order.full_clean(exclude=["customer", "created_by", "number", "total_amount"], validate_unique=False)
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            if field not in errors:
                errors[field] = messages
    if errors:
        raise ValidationError(errors)


def money(value: Any) -> Decimal | None:
    """``value`` (Decimal, int, float or text) as an amount in 0..MAX_TOTAL with at most two decimal places,
    or None when it is none (bool, NaN, infinity, out of range, fractions of a kopeck, not a number)."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int | float | str):
        return None
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    if not amount.is_finite() or not 0 <= amount <= MAX_TOTAL or amount != amount.quantize(CENT):
        return None
    return abs(amount.quantize(CENT))  # abs: "-0" is 0.00


def apply_payment(order: Order, data: dict[str, Any], errors: dict[str, list[str]]) -> None:
    """Set ``paid_amount`` and ``payment_status`` from ``data`` where present and valid, else note errors."""
    if "paid_amount" in data:
        amount = money(data["paid_amount"])
        if amount is None:
            errors["paid_amount"] = [
                _("Enter an amount from 0 to %(max)s with at most two decimal places.") % {"max": MAX_TOTAL}
            ]
        else:
            order.paid_amount = amount
    if "payment_status" in data:
        status = data["payment_status"]
        if isinstance(status, str) and status in Order.PaymentStatus.values:
            order.payment_status = status
        else:
            errors["payment_status"] = [_("Unknown payment status %(s)r.") % {"s": status}]


def check_total(total: Decimal) -> None:
    if total > MAX_TOTAL:
        raise ValidationError({"items": [_("The order total is too large.")]})


def check_origin(origin: str) -> None:
    if origin not in ORIGINS:
        raise ValueError(f"unknown origin {origin!r}")
