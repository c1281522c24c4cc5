"""Write services of the orders app: create, update (with item synchronisation), status changes, soft delete.

Every service:

- takes keyword-only arguments, among them ``origin`` ("storefront" | "manager" | "amocrm" | "system")
  and ``actor`` (who);
- runs in one transaction and writes nothing when it raises Django's ``ValidationError`` (field -> messages);
- computes money on the server: rental days = max(1, dismantle - installation); line total = quantity x unit
  price x rental days; order total = sum of line totals (``Decimal``, two places);
- sends ``console.orders.signals.order_changed`` once, after commit, when something changed (a no-op sends
  nothing), with ``sender=Order`` and the fields in ``changed`` ("items" stands for the order lines);
- writes an ``OrderStatusChange`` row for each status change (including the initial status on create).

A storefront checkout (origin "storefront") is matched to an existing customer without changing that
customer at all; what it typed is kept on the order (``checkout_contact``) for a manager to apply.

Prices: a line gets the current catalog price when it is written (added, or its quantity changed); an
unchanged line keeps the price it was sold at, even when the catalog price moved since.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from console.customers.models import Customer
from console.customers.selectors import contact_from_data
from console.customers.services import customer_find_or_create
from console.orders.models import (
    Order,
    OrderItem,
    OrderResponsibleChange,
    OrderStatusChange,
    Product,
    StorefrontManager,
    rental_days,
)
from console.orders.signals import order_changed
from console.orders.validation import (
    CENT,
    apply_payment,
    check_origin,
    check_total,
    line_total,
    validate_lines,
    validate_order,
)

# Model attributes ``order_update`` compares, by the name ``changed`` gives them.
RENAMED = {"customer_id": "customer", "responsible_id": "responsible"}

SIMPLE_FIELDS = (
    "installation_date",
    "dismantle_date",
    "delivery_method",
    "delivery_address",
    "comment",
    "source",
    "sync_disabled",
)
PAYMENT_FIELDS = ("paid_amount", "payment_status")
CREATED_FIELDS = frozenset(
    {"number", "customer", "status", "items", "total_amount", *SIMPLE_FIELDS, *PAYMENT_FIELDS}
)


def order_number_for(pk: int) -> str:
    """The human-readable number of the order with this primary key: "R-000123"."""
    return f"R-{pk:06d}"


def _resolve_customer(
    data: dict[str, Any], errors: dict[str, list[str]], *, origin: str, actor: str
) -> Customer | None:
    """The customer named by ``data``: ``customer`` (a row) or ``customer_data`` (inline: find or create).

    The storefront never changes an existing customer (``fill_blanks=False``); others fill its blanks.
    Problems with the inline customer land in ``errors["customer"]`` as "field: message" strings.
    """
    if data.get("customer") is not None:
        return data["customer"]
    if data.get("customer_data"):
        try:
            customer, _created = customer_find_or_create(
                data=data["customer_data"], fill_blanks=origin != "storefront", origin=origin, actor=actor
            )
        except ValidationError as exc:
            errors["customer"] = [
                f"{field}: {msg}" for field, msgs in exc.message_dict.items() for msg in msgs
            ]
            return None
        return customer
    errors["customer"] = [_("This field is required.")]
    return None


def _notify(*, order: Order, action: str, changed: frozenset[str], origin: str, actor: str) -> None:
    """Send ``order_changed`` after the surrounding transaction commits."""
    order_id = order.pk

    def send() -> None:
        order_changed.send(
            sender=Order, order_id=order_id, action=action, changed=changed, origin=origin, actor=actor
        )

    transaction.on_commit(send)


def _record_status(order: Order, *, from_status: str, origin: str, actor: str) -> None:
    OrderStatusChange.objects.create(
        order=order, from_status=from_status, to_status=order.status, origin=origin, actor=actor[:150]
    )


def _user_name(user: AbstractBaseUser | None) -> str:
    return user.get_username() if user is not None else ""


def _record_responsible(order: Order, *, before: AbstractBaseUser | None, origin: str, actor: str) -> None:
    OrderResponsibleChange.objects.create(
        order=order,
        from_user=_user_name(before),
        to_user=_user_name(order.responsible),
        origin=origin,
        actor=actor[:150],
    )


# --- Create ------------------------------------------------------------------------------------------------


def storefront_responsible() -> AbstractBaseUser | None:
    """The manager a new storefront order goes to: the active user ``STOREFRONT_RESPONSIBLE`` names, else
    in turn among the active users marked "takes storefront orders" (the one assigned longest ago, never
    assigned first), else nobody. Call inside the order's transaction: the turn is taken under a row lock."""
    username = (getattr(settings, "STOREFRONT_RESPONSIBLE", "") or "").strip()
    if username:
        named = get_user_model().objects.filter(username=username, is_active=True).first()
        if named is not None:
            return named
    turn = (
        StorefrontManager.objects.select_for_update()
        .filter(takes_orders=True, user__is_active=True)
        .order_by(F("last_assigned_at").asc(nulls_first=True), "pk")
        .select_related("user")
        .first()
    )
    if turn is None:
        return None
    turn.last_assigned_at = timezone.now()
    turn.save(update_fields=["last_assigned_at"])
    return turn.user


def storefront_manager_set(*, user: AbstractBaseUser, takes_orders: bool) -> StorefrontManager:
    """Mark ``user`` as taking storefront orders (in turn with the others marked) or not any more."""
    manager, _created = StorefrontManager.objects.update_or_create(
        user=user, defaults={"takes_orders": takes_orders}
    )
    return manager


def responsible_for_new_order(*, origin: str, created_by: AbstractBaseUser | None) -> AbstractBaseUser | None:
    """Who handles a new order: its creating manager; a storefront order: ``storefront_responsible``."""
    if origin == "storefront":
        return storefront_responsible()
    return created_by


def order_create(
    *, data: dict[str, Any], origin: str, actor: str, created_by: AbstractBaseUser | None = None
) -> Order:
    """Create an order with its lines and send ``order_changed(action="created")`` after commit.

    ``data``: ``customer`` (Customer) or ``customer_data`` (dict for ``customer_find_or_create``), ``items``
    (list of ``{"product": Product, "quantity": int}``), ``installation_date``, ``dismantle_date`` and
    optionally ``status``, ``delivery_method``, ``delivery_address``, ``comment``, ``source``,
    ``sync_disabled``, ``paid_amount``, ``payment_status``. The storefront origin always gives
    ``source="storefront"`` and keeps the inline customer's details in ``checkout_contact``.
    """
    check_origin(origin)
    with transaction.atomic():
        order = Order(status=data.get("status") or Order.Status.NEW, created_by=created_by)
        for field in SIMPLE_FIELDS:
            if field in data:
                setattr(order, field, data[field])
        if origin == "storefront":
            order.source = Order.Source.STOREFRONT
            order.checkout_contact = contact_from_data(data.get("customer_data") or {})
        order.responsible = (
            data["responsible"]
            if origin != "storefront" and "responsible" in data
            else responsible_for_new_order(origin=origin, created_by=created_by)
        )
        lines = list(data.get("items") or [])
        errors: dict[str, list[str]] = {}
        apply_payment(order, data, errors)
        line_errors = validate_lines(
            lines, written={line["product"].pk for line in lines if "unit_price" not in line}
        )
        if line_errors:
            errors["items"] = line_errors
        customer = _resolve_customer(data, errors, origin=origin, actor=actor)
        validate_order(order, origin=origin, errors=errors)
        order.customer = customer
        days = rental_days(order.installation_date, order.dismantle_date)
        items = [
            OrderItem(
                product=line["product"],
                quantity=line["quantity"],
                unit_price=_line_price(line),
                line_total=line_total(quantity=line["quantity"], unit_price=_line_price(line), days=days),
            )
            for line in lines
        ]
        order.total_amount = sum((item.line_total for item in items), Decimal("0.00"))
        check_total(order.total_amount)
        order.save()
        order.number = order_number_for(order.pk)
        Order.objects.filter(pk=order.pk).update(number=order.number)
        for item in items:
            item.order = order
        OrderItem.objects.bulk_create(items)
        _record_status(order, from_status="", origin=origin, actor=actor)
        _notify(order=order, action="created", changed=CREATED_FIELDS, origin=origin, actor=actor)
    return order


def _line_price(line: dict[str, Any]) -> Decimal:
    """A line's price per day: the one it was sold at (a deal made in amoCRM), else the catalog's."""
    price = line.get("unit_price")
    return line["product"].unit_price if price is None else Decimal(price).quantize(CENT)


# --- Drafts: deals created in amoCRM ---------------------------------------------------------------------

# The product of a draft's one line when the deal lists no catalog element (never offered for sale).
DEAL_LINE_SKU = "AMOCRM-DEAL"


def deal_line_product() -> Product:
    """The hidden product that carries a deal's price as one line."""
    product, _created = Product.objects.get_or_create(
        sku=DEAL_LINE_SKU,
        defaults={
            "name": "Сделка из amoCRM",
            "category": Product.Category.EQUIPMENT,
            "unit_price": Decimal("0"),
            "is_active": False,
        },
    )
    return product


def order_create_draft(
    *,
    customer: Customer,
    lines: list[dict[str, Any]],
    price: Decimal,
    installation_date: datetime.date,
    dismantle_date: datetime.date,
    status: str = Order.Status.NEW,
    comment: str = "",
    actor: str = "amocrm",
) -> Order:
    """A draft order (``source="amocrm"``, not confirmed) for a deal created in amoCRM.

    ``lines``: ``{"product", "quantity", "unit_price"}`` as the deal lists them, taken as sold (an inactive
    product too); without lines the order gets one line of the deal's ``price`` (spread over the rental
    days). Raises ``ValidationError`` like :func:`order_create`.
    """
    if not lines:
        days = rental_days(installation_date, dismantle_date)
        unit_price = (Decimal(price or 0) / days).quantize(CENT)
        lines = [{"product": deal_line_product(), "quantity": 1, "unit_price": unit_price}]
    data = {
        "customer": customer,
        "items": lines,
        "installation_date": installation_date,
        "dismantle_date": dismantle_date,
        "status": status,
        "source": Order.Source.AMOCRM,
        "comment": comment,
    }
    return order_create(data=data, origin="amocrm", actor=actor)


def order_confirm(*, order: Order, actor: str) -> Order:
    """A manager confirms a draft: it becomes a normal order (and is synced from now on). A no-op for an
    order that is no draft."""
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if not locked.is_draft:
            return locked
        locked.confirmed_at = timezone.now()
        locked.save(update_fields=["confirmed_at", "updated_at"])
        _notify(
            order=locked,
            action="confirmed",
            changed=frozenset({"confirmed_at"}),
            origin="manager",
            actor=actor,
        )
    return locked


# --- Update ------------------------------------------------------------------------------------------------


def _sync_items(order: Order, lines: list[dict[str, Any]], *, days: int) -> bool:
    """Make the order's lines match ``lines``, re-pricing added and changed ones; True if any line changed."""
    existing = {item.product_id: item for item in order.items.all()}
    wanted = {line["product"].pk: line for line in lines}
    removed = [item.pk for pid, item in existing.items() if pid not in wanted]
    added: list[OrderItem] = []
    changed: list[OrderItem] = []
    for pid, line in wanted.items():
        item = existing.get(pid)
        if item is None:
            item = OrderItem(order=order, product=line["product"], quantity=line["quantity"])
            added.append(item)
        elif item.quantity != line["quantity"]:
            item.quantity = line["quantity"]
            changed.append(item)
        else:
            continue  # an unchanged line keeps the price it was sold at
        item.unit_price = line["product"].unit_price
        item.line_total = line_total(quantity=item.quantity, unit_price=item.unit_price, days=days)
    if removed:
        OrderItem.objects.filter(pk__in=removed).delete()
    if changed:
        OrderItem.objects.bulk_update(changed, ["quantity", "unit_price", "line_total"])
    if added:
        OrderItem.objects.bulk_create(added)
    return bool(removed or added or changed)


def _written_products(order: Order, lines: list[dict[str, Any]]) -> set[int]:
    current = {item.product_id: item.quantity for item in order.items.all()}
    return {line["product"].pk for line in lines if current.get(line["product"].pk) != line["quantity"]}


def _reprice_lines(order: Order, *, days: int) -> Decimal:
    """Recompute line totals for ``days`` (saving only the lines that moved); returns the order total."""
    items = list(order.items.all())
    stale = []
    for item in items:
        total = line_total(quantity=item.quantity, unit_price=item.unit_price, days=days)
        if total != item.line_total:
            item.line_total = total
            stale.append(item)
    if stale:
        OrderItem.objects.bulk_update(stale, ["line_total"])
    return sum((item.line_total for item in items), Decimal("0.00"))


def order_update(*, order: Order, data: dict[str, Any], origin: str, actor: str) -> Order:
    """Change the fields present in ``data`` (same keys as ``order_create``); lines are synchronised when
    ``items`` is present (added, changed, removed) and the total is recomputed.

    Sends ``order_changed`` with ``action="cancelled"`` when the status becomes cancelled, else ``"updated"``;
    nothing is written or sent when nothing changes. A soft-deleted order cannot be changed.
    """
    check_origin(origin)
    with transaction.atomic():
        order = Order.objects.select_for_update().select_related("customer").get(pk=order.pk)
        if not order.is_active:
            raise ValidationError(_("This order is deleted and cannot be changed."))
        tracked = (*SIMPLE_FIELDS, *PAYMENT_FIELDS, "status", "customer_id", "responsible_id")
        before = {field: getattr(order, field) for field in tracked}
        was_responsible = order.responsible
        for field in (*SIMPLE_FIELDS, "status"):
            if field in data:
                setattr(order, field, data[field])
        if "responsible" in data:
            order.responsible = data["responsible"]
        errors: dict[str, list[str]] = {}
        apply_payment(order, data, errors)
        lines = list(data["items"]) if "items" in data else None
        if lines is not None:
            line_errors = validate_lines(lines, written=_written_products(order, lines))
            if line_errors:
                errors["items"] = line_errors
        if "customer" in data or "customer_data" in data:
            customer = _resolve_customer(data, errors, origin=origin, actor=actor)
            if customer is not None:
                order.customer = customer
        validate_order(order, origin=origin, errors=errors)

        changed = {field for field, value in before.items() if getattr(order, field) != value}
        changed = {RENAMED.get(f, f) for f in changed}
        days = order.rental_days
        if lines is not None and _sync_items(order, lines, days=days):
            changed.add("items")
        total = _reprice_lines(order, days=days)
        check_total(total)
        if total != order.total_amount:
            order.total_amount = total
            changed.add("total_amount")
        if not changed:
            return order
        order.save()
        if "status" in changed:
            _record_status(order, from_status=before["status"], origin=origin, actor=actor)
        if "responsible" in changed:
            _record_responsible(order, before=was_responsible, origin=origin, actor=actor)
        action = "cancelled" if "status" in changed and order.status == Order.Status.CANCELLED else "updated"
        _notify(order=order, action=action, changed=frozenset(changed), origin=origin, actor=actor)
    return order


# --- Status and soft delete ------------------------------------------------------------------------------


def order_set_status(*, order: Order, status: str, origin: str, actor: str) -> Order:
    """Move the order to ``status`` (recorded in ``OrderStatusChange``); same status = no-op, no signal."""
    if status not in Order.Status.values:
        raise ValidationError({"status": [_("Unknown status %(s)r.") % {"s": status}]})
    return order_update(order=order, data={"status": status}, origin=origin, actor=actor)


def order_set_payment(
    *, order: Order, paid_amount: Decimal | int | str, payment_status: str, origin: str, actor: str
) -> Order:
    """Record what the customer paid: ``paid_amount`` (0..999 999 999 999.99, at most two decimal places)
    and ``payment_status`` (an ``Order.PaymentStatus`` value).

    Bad values raise ``ValidationError`` naming the field; a deleted order cannot be changed. The same
    values again are a no-op (nothing saved, no signal); otherwise ``order_changed`` goes out once after
    commit with ``action="updated"`` and ``changed`` within {"paid_amount", "payment_status"}.
    """
    return order_update(
        order=order,
        data={"paid_amount": paid_amount, "payment_status": payment_status},
        origin=origin,
        actor=actor,
    )


def order_set_responsible(
    *, order: Order, responsible: AbstractBaseUser | None, origin: str, actor: str
) -> Order:
    """Make ``responsible`` the order's manager. The same manager again is a no-op; otherwise
    ``order_changed`` goes out once after commit with ``changed={"responsible"}``."""
    if order.responsible_id == getattr(responsible, "pk", None):
        return order
    with transaction.atomic():
        before = order.responsible
        order.responsible = responsible
        order.save(update_fields=["responsible", "updated_at"])
        _record_responsible(order, before=before, origin=origin, actor=actor)
        _notify(order=order, action="updated", changed=frozenset({"responsible"}), origin=origin, actor=actor)
    return order


def order_cancel(*, order: Order, origin: str, actor: str) -> Order:
    """Cancel the order (``order_changed`` with ``action="cancelled"``); cancelling twice is a no-op."""
    return order_set_status(order=order, status=Order.Status.CANCELLED, origin=origin, actor=actor)


def order_soft_delete(*, order: Order, origin: str, actor: str) -> Order:
    """Mark the order inactive (``action="deleted"``, ``changed={"is_active"}``); twice is a no-op."""
    check_origin(origin)
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        if not order.is_active:
            return order
        order.is_active = False
        order.save(update_fields=["is_active", "updated_at"])
        _notify(order=order, action="deleted", changed=frozenset({"is_active"}), origin=origin, actor=actor)
    return order
