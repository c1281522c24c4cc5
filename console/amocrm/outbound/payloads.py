"""Pure functions from our orders and customers to amoCRM v4 payloads (leads, contacts, companies, notes,
products).

Nothing here touches the database or the network: every function takes the objects (or plain values) it
needs and returns plain data, so the sync engine can hash, batch and diff the result. JSON shapes:
https://www.amocrm.ru/developers/content/crm_platform/leads-api and its sibling pages. Field ids of the lead
custom fields are passed in as a mapping ``{key: field_id}`` with the keys of ``console.amocrm.fields``; a
key whose id is unknown (setup not run yet) is simply left out of the payload. Choice values (the delivery
method) are written with the order model's labels in Russian (``fields.amo_label``), as the console shows
them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from console.amocrm.fields import COMPANY_FIELDS, LEAD_VALUE_KEYS, amo_label
from console.amocrm.loss import LOST as LOST_STATUS
from console.orders.models import Order

if TYPE_CHECKING:
    from console.amocrm.stagemap import Stage

SOURCE_LABELS = {"storefront": "сайт", "manager": "менеджер"}
BUSINESS_TAG = "юрлицо"
DEFAULT_TIMEZONE = "Europe/Moscow"


# --- small conversions -------------------------------------------------------------------------


def whole_roubles(amount: Decimal | int | float | str | None) -> int:
    """``amount`` rounded half-up to whole roubles as an int (amoCRM's ``price`` must be an int)."""
    if amount is None:
        return 0
    return int(Decimal(str(amount)).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def date_to_unix(value: dt.date | None, tz: str = DEFAULT_TIMEZONE) -> int | None:
    """Unix seconds of local midnight of ``value`` in ``tz`` (how amoCRM stores a date field), or None."""
    if value is None:
        return None
    return int(dt.datetime(value.year, value.month, value.day, tzinfo=ZoneInfo(tz)).timestamp())


def format_date(value: dt.date | None) -> str:
    """``value`` as DD.MM.YYYY for humans, or an empty string."""
    return value.strftime("%d.%m.%Y") if value else ""


def format_money(amount: Decimal | int | None) -> str:
    """A money amount for a note: "12 345,50" (space between thousands, no kopecks when whole)."""
    value = Decimal(str(amount or 0)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    whole, _, frac = f"{value:,.2f}".partition(".")
    whole = whole.replace(",", " ")
    return whole if frac == "00" else f"{whole},{frac}"


def stable_hash(data: Any) -> str:
    """A stable sha256 of JSON-able ``data`` (keys sorted), used to detect "nothing changed"."""
    encoded = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()


def _cf(field_id: int | None, value: Any) -> dict | None:
    """One ``custom_fields_values`` item, or None when the field id is unknown."""
    if not field_id:
        return None
    if value is None or value == "":
        return {"field_id": int(field_id), "values": None}
    return {"field_id": int(field_id), "values": [{"value": value}]}


def with_fields(payload: dict[str, Any], fields: Iterable[dict | None]) -> dict[str, Any]:
    """``payload`` with ``custom_fields_values`` set to the given items, or without the key when there is
    none: amoCRM refuses an empty list (400, ``TooFew``)."""
    items = [f for f in fields if f]
    if items:
        payload["custom_fields_values"] = items
    return payload


def _multitext(code: str, value: str, enum_code: str = "WORK") -> dict | None:
    return {"field_code": code, "values": [{"value": value, "enum_code": enum_code}]} if value else None


def _tags(names: Iterable[str]) -> list[dict]:
    seen: list[str] = []
    for name in names:
        name = (name or "").strip()
        if name and name not in seen:
            seen.append(name)
    return [{"name": name} for name in seen]


# --- contact and company -----------------------------------------------------------------------


def contact_name(customer: Any) -> str:
    """The contact's display name: first and last name, else the customer's display name."""
    full = " ".join(p for p in (customer.first_name, customer.last_name) if p)
    return full or customer.name


def contact_payload(customer: Any) -> dict:
    """A contact for ``customer``: name, first/last name, PHONE and EMAIL (work), the customer's tags.

    The phone is sent in E.164 when we have it normalised (so amoCRM's search finds it however it was typed).
    """
    fields = [
        _multitext("PHONE", customer.phone_normalized or customer.phone),
        _multitext("EMAIL", customer.email),
    ]
    payload: dict[str, Any] = {
        "name": contact_name(customer),
        "first_name": customer.first_name or "",
        "last_name": customer.last_name or "",
    }
    with_fields(payload, fields)
    tags = _tags(customer.tags or [])
    if tags:
        payload["_embedded"] = {"tags": tags}
    return payload


def company_payload(company: Any, field_ids: Mapping[str, int] | None = None) -> dict:
    """A company for ``company``: name, PHONE, EMAIL and the requisites.

    Requisites go to the company custom fields whose ids are known (``fields.COMPANY_FIELDS``, created by the
    account setup); an emptied requisite is cleared (``values: null``). The standard ``ADDRESS`` field is not
    used because accounts rename it freely.
    """
    ids = field_ids or {}
    # "company_inn" holds ``company.inn``, and so on.
    values = {key: getattr(company, key.removeprefix("company_")) for key in COMPANY_FIELDS}
    fields = [
        _multitext("PHONE", company.phone),
        _multitext("EMAIL", company.email),
        *(_cf(ids.get(key), values[key] or None) for key in COMPANY_FIELDS),
    ]
    return with_fields({"name": company.name}, fields)


def with_responsible(payload: Mapping[str, Any], responsible_user_id: int | None) -> dict[str, Any]:
    """A NEW contact or company ``payload`` with its ``responsible_user_id`` (the order's manager, as the
    deal has it; https://www.amocrm.ru/developers/content/crm_platform/contacts-api#contacts-add and
    .../companies-api#companies-add). Only at creation: the stored hash is of ``payload`` without it, so a
    later change of the order's manager never rewrites the customer's contact."""
    created = dict(payload)
    if responsible_user_id:
        created["responsible_user_id"] = int(responsible_user_id)
    return created


def responsible_of(job: Any) -> int | None:
    """The responsible amoCRM user id the job's deal carries (``lead_fields``), or ``None``."""
    target = getattr(job, "target", None)
    return (target.fields.get("responsible_user_id") if target is not None else None) or None


# --- lead ---------------------------------------------------------------------------------------


def lead_name(order: Any) -> str:
    """ "Заказ R-000123 — Иван Петров" (the number, else the id, and the customer's name)."""
    number = order.number or f"#{order.pk}"
    return f"Заказ {number} — {contact_name(order.customer)}"


def delivery_label(method: str) -> str:
    """The delivery method as the console names it, in Russian ("Доставка с монтажом")."""
    return amo_label(Order.DeliveryMethod, method)


def source_label(order: Any) -> str:
    """ "сайт" for a storefront order, "менеджер" otherwise."""
    return SOURCE_LABELS.get(order.source, SOURCE_LABELS["manager"])


def _payment_status(order: Any, field_id: int | None, enum_ids: Mapping[str, int]) -> dict | None:
    """The "payment status" select field: the option of the order's status (by enum id), if both are known."""
    enum_id = enum_ids.get(order.payment_status)
    if not field_id or not enum_id:
        return None
    return {"field_id": int(field_id), "values": [{"enum_id": int(enum_id)}]}


def lead_custom_fields(
    order: Any,
    field_ids: Mapping[str, int],
    tz: str = DEFAULT_TIMEZONE,
    enum_ids: Mapping[str, Mapping[str, int]] | None = None,
) -> list[dict]:
    """``custom_fields_values`` of the lead: number, dates (Unix seconds), delivery method/address, source,
    the order's comment, what was paid and the payment status (a select option, ``enum_ids``).

    An empty value is sent as ``values: null`` so a cleared address is cleared in amoCRM too.
    """
    delivering = order.delivery_method != "pickup"
    values = {
        "order_number": order.number or str(order.pk),
        "installation_date": date_to_unix(order.installation_date, tz),
        "dismantle_date": date_to_unix(order.dismantle_date, tz),
        "delivery_method": delivery_label(order.delivery_method),
        "delivery_address": (order.delivery_address or "") if delivering else "",
        "source": source_label(order),
        "comment": order.comment or "",
        "paid_amount": format_amount(order.paid_amount),
    }
    fields = [cf for key in LEAD_VALUE_KEYS if (cf := _cf(field_ids.get(key), values[key]))]
    status = _payment_status(
        order, field_ids.get("payment_status"), (enum_ids or {}).get("payment_status", {})
    )
    return [*fields, status] if status else fields


def format_amount(amount: Decimal | int | None) -> str:
    """A money amount as amoCRM's numeric field takes it: "1500" or "1500.5" (no grouping, dot decimals)."""
    value = Decimal(str(amount or 0)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP).normalize()
    return f"{value:f}"


def lead_tags(order: Any) -> list[dict]:
    """Tags of the lead: the source ("сайт"/"менеджер") and "юрлицо" for a business customer."""
    names = [source_label(order)]
    if order.customer.customer_type == "business":
        names.append(BUSINESS_TAG)
    return _tags(names)


def lead_fields(
    order: Any,
    field_ids: Mapping[str, int],
    tz: str = DEFAULT_TIMEZONE,
    enum_ids: Mapping[str, Mapping[str, int]] | None = None,
    responsible_user_id: int | None = None,
) -> dict:
    """The lead fields we own (no stage, no links): name, price in whole roubles, the responsible amoCRM
    user (when the order's manager is linked to one), custom fields, tags."""
    payload: dict[str, Any] = {"name": lead_name(order), "price": whole_roubles(order.total_amount)}
    if responsible_user_id:
        payload["responsible_user_id"] = int(responsible_user_id)
    with_fields(payload, lead_custom_fields(order, field_ids, tz, enum_ids))
    payload["_embedded"] = {"tags": lead_tags(order)}
    return payload


def lead_payload(
    fields: Mapping[str, Any],
    *,
    stage: Stage | None,
    contact_id: int | None = None,
    company_id: int | None = None,
) -> dict:
    """A complete lead for a create from its ``fields`` (:func:`lead_fields`, built once per sync: the
    target's): the stage (if mapped) and the contact/company attached."""
    payload = {**fields, "_embedded": dict(fields.get("_embedded") or {})}
    if stage is not None:
        payload["pipeline_id"] = stage.pipeline_id
        payload["status_id"] = stage.status_id
    if contact_id:
        payload["_embedded"]["contacts"] = [{"id": int(contact_id), "is_main": True}]
    if company_id:
        payload["_embedded"]["companies"] = [{"id": int(company_id)}]
    return payload


def lead_update_payload(
    lead_id: int,
    *,
    fields: Mapping[str, Any] | None = None,
    stage: Stage | None = None,
    loss_reason_id: int | None = None,
) -> dict:
    """A PATCH body for one lead: only what changed (``fields`` and/or ``stage``), with its id; a move to
    the lost status (143) carries ``loss_reason_id`` when one was chosen."""
    payload: dict[str, Any] = {"id": int(lead_id)}
    if fields:
        payload.update(fields)
    if stage is not None:
        payload["pipeline_id"] = stage.pipeline_id
        payload["status_id"] = stage.status_id
        if stage.status_id == LOST_STATUS and loss_reason_id:
            payload["loss_reason_id"] = int(loss_reason_id)
    return payload


# --- note ---------------------------------------------------------------------------------------


def note_text(order: Any, lines: Sequence[Any] | None = None) -> str:
    """The creation note: lines with quantities and sums, dates, delivery, comment, total and the source."""
    lines = list(order.items.all()) if lines is None else list(lines)
    days = max(1, (order.dismantle_date - order.installation_date).days)
    out = [f"Заказ {order.number or '#' + str(order.pk)}", "", "Позиции:"]
    for n, item in enumerate(lines, start=1):
        out.append(
            f"{n}. {item.product.name} ({item.product.sku}) — {item.quantity} шт. × "
            f"{format_money(item.unit_price)} ₽/сут. × {days} сут. = {format_money(item.line_total)} ₽"
        )
    if not lines:
        out.append("—")
    out += [
        "",
        f"Монтаж: {format_date(order.installation_date)}",
        f"Демонтаж: {format_date(order.dismantle_date)} (суток аренды: {days})",
        f"Доставка: {delivery_label(order.delivery_method)}",
    ]
    if order.delivery_method != "pickup" and order.delivery_address:
        out.append(f"Адрес: {order.delivery_address}")
    if order.comment:
        out.append(f"Комментарий: {order.comment}")
    out += [f"Итого: {format_money(order.total_amount)} ₽", f"Источник: {source_label(order)}"]
    return "\n".join(out)


def order_summary(order: Any, lines: Sequence[Any]) -> dict[str, Any]:
    """What the deal's notes tell of an order: lines, total, dates, delivery, address, comment (JSON)."""
    delivering = order.delivery_method != "pickup"
    return {
        "lines": {
            item.product.sku: [item.product.name, int(item.quantity), str(item.unit_price)] for item in lines
        },
        "total": str(order.total_amount),
        "installation": order.installation_date.isoformat() if order.installation_date else "",
        "dismantle": order.dismantle_date.isoformat() if order.dismantle_date else "",
        "delivery": order.delivery_method,
        "address": (order.delivery_address or "") if delivering else "",
        "comment": order.comment or "",
        "status": order.status,
        "active": bool(order.is_active),
    }


def _line_changes(before: Mapping[str, list], after: Mapping[str, list]) -> list[str]:
    out = []
    for sku, (name, qty, price) in after.items():
        old = before.get(sku)
        if old is None:
            out.append(f"+ {name} ({sku}) — {qty} шт. × {format_money(Decimal(price))} ₽/сут.")
        elif (old[1], old[2]) != (qty, price):
            was = f"{old[1]} шт. × {format_money(Decimal(old[2]))}"
            out.append(f"{name} ({sku}): {was} → {qty} шт. × {format_money(Decimal(price))} ₽/сут.")
    out += [f"− {old[0]} ({sku})" for sku, old in before.items() if sku not in after]
    return out


def _when(value: str) -> str:
    return format_date(dt.date.fromisoformat(value)) if value else "—"


def status_label(status: str) -> str:
    """The order status as the console names it, in Russian ("Отменён")."""
    return amo_label(Order.Status, status)


def _status_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """The status and deletion lines; a summary written before they were told ("status" missing) tells
    none, so older deals get no note for a change that did not happen."""
    out = []
    if "status" in before and before["status"] != after.get("status"):
        out.append(f"Статус: {status_label(before['status'])} → {status_label(after['status'])}")
    if "active" in before and before["active"] != after.get("active"):
        out.append("Заказ удалён в консоли." if not after.get("active") else "Заказ восстановлен в консоли.")
    return out


def note_change_text(order: Any, before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
    """A short note saying what changed between two :func:`order_summary` values (the deal's feed tells the
    story; its fields show the present); an empty string when nothing the notes tell changed.

    A move to another status alone gets no note of its own: amoCRM's feed already shows the deal's stage
    change (event ``lead_status_changed``,
    https://www.amocrm.ru/developers/content/crm_platform/events-and-notes), and a status change stays one
    request. A cancellation, a deletion, or a status move together with another change is told."""
    status = _status_changes(before, after)
    plain_move = before.get("active") == after.get("active") and after.get("status") != "cancelled"
    out = [f"Заказ {order.number or '#' + str(order.pk)} изменён:", *status]
    lines = _line_changes(before.get("lines") or {}, after.get("lines") or {})
    if lines:
        out += ["Позиции:", *lines]
    if before.get("total") != after.get("total"):
        old, new = format_money(Decimal(before.get("total") or 0)), format_money(Decimal(after["total"]))
        out.append(f"Итого: {old} → {new} ₽")
    for key, label in (("installation", "Монтаж"), ("dismantle", "Демонтаж")):
        if before.get(key) != after.get(key):
            out.append(f"{label}: {_when(before.get(key, ''))} → {_when(after[key])}")
    if before.get("delivery") != after.get("delivery"):
        old, new = (delivery_label(v) if v else "—" for v in (before.get("delivery"), after["delivery"]))
        out.append(f"Доставка: {old} → {new}")
    if before.get("address") != after.get("address"):
        out.append(f"Адрес: {before.get('address') or '—'} → {after['address'] or '—'}")
    if before.get("comment") != after.get("comment"):
        out.append(f"Комментарий: «{before.get('comment') or '—'}» → «{after['comment'] or '—'}»")
    if len(out) == 1 + len(status) and (not status or plain_move):
        return ""  # nothing told, or a plain status move alone
    return "\n".join(out)


def note_payload(lead_id: int, text: str) -> dict:
    """A common note on lead ``lead_id``."""
    return {"entity_id": int(lead_id), "note_type": "common", "params": {"text": text}}


# --- products -----------------------------------------------------------------------------------


def catalog_product(product: Any, price: Decimal | None = None) -> dict:
    """A products-catalog element for ``product``: SKU, name and price per day in whole roubles."""
    return {
        "sku": product.sku,
        "name": product.name,
        "price": whole_roubles(product.unit_price if price is None else price),
    }


def order_products(lines: Iterable[Any]) -> dict[str, int]:
    """``{sku: quantity}`` of the order lines (a product appears at most once per order)."""
    result: dict[str, int] = {}
    for item in lines:
        result[item.product.sku] = result.get(item.product.sku, 0) + int(item.quantity)
    return result


def product_link(element_id: int, quantity: int, *, catalog_id: int, price_id: int | None = None) -> dict:
    """A link item (for ``/leads/{id}/link``) attaching a catalog element with its quantity (and price id)."""
    metadata: dict[str, Any] = {"quantity": int(quantity), "catalog_id": int(catalog_id)}
    if price_id:
        metadata["price_id"] = int(price_id)
    return {"to_entity_id": int(element_id), "to_entity_type": "catalog_elements", "metadata": metadata}


@dataclass(frozen=True)
class ProductsDiff:
    """What to do to the lead's product links: link (new or changed quantity) and unlink (gone)."""

    link: dict[int, int]
    unlink: list[int]

    @property
    def empty(self) -> bool:
        return not self.link and not self.unlink


def products_diff(current: Mapping[int, int], wanted: Mapping[int, int]) -> ProductsDiff:
    """Link/unlink operations taking the lead's ``{element_id: quantity}`` from ``current`` to ``wanted``.

    A changed quantity is an unlink plus a link, so the result is exact whatever the server does with a
    repeated link (amoCRM keeps the first quantity on some accounts).
    """
    current = {int(k): int(v) for k, v in current.items()}
    wanted = {int(k): int(v) for k, v in wanted.items()}
    link = {k: v for k, v in wanted.items() if current.get(k) != v}
    unlink = sorted(k for k, v in current.items() if k not in wanted or wanted[k] != v)
    return ProductsDiff(link=link, unlink=unlink)
