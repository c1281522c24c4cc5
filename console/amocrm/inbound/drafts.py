"""Deals created in amoCRM become draft orders (``add_lead`` for a deal no order owns).

A draft is made from one read of the deal with its contacts and catalog elements
(https://www.amocrm.ru/developers/content/crm_platform/leads-api, ``with=contacts,catalog_elements``) and,
unless its main contact is linked to a customer already, one read of that contact
(https://www.amocrm.ru/developers/content/crm_platform/contacts-api):

- the customer: the one linked to the contact's id, else one found by the contact's phone or e-mail, else a
  new customer from the contact's fields; the contact id is linked to a customer that had none;
- the lines: the deal's catalog elements (products linked by their element id, quantity from the link's
  metadata: https://www.amocrm.ru/developers/content/crm_platform/entity-links-api), else one line with the
  deal's price;
- the order's manager: the console user linked to the deal's responsible amoCRM user, if any;
- the order's ``OrderSync`` row holds the deal's id from the start, so the sync engine never makes a second
  deal; nothing is pushed until a manager confirms the draft (``orders.services.order_confirm``).

Echoes: a deal the console created carries its order number (``ORDER_NUMBER``); the hook's own fields are
checked first (no call), the read deal's after, and such a deal never makes a draft.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from console.amocrm.account.access import account_client
from console.amocrm.api.client import cf_values
from console.amocrm.inbound.formparse import as_list
from console.amocrm.inbound.items import WebhookItem, as_int
from console.amocrm.inbound.responsible import responsible_observe
from console.amocrm.inbound.rules import ItemResult, Outcome
from console.amocrm.models import AmoConnection, CatalogElementLink, CustomerAmoLink, OrderSync, Party
from console.amocrm.parties import contact_values, customer_values, fields_agreed
from console.amocrm.reasons import Code, reason
from console.amocrm.stagemap import StageMap
from console.customers.models import Customer
from console.customers.services import customer_find_or_create
from console.orders.models import MAX_QUANTITY, Order, Product
from console.orders.services import order_create_draft

ACTOR = "amocrm"
LEAD_WITH = ("contacts", "catalog_elements")
NUMBER_CODE = "ORDER_NUMBER"


def lead_is_linked(lead_id: int) -> bool:
    """An order owns this deal already (ours, or a draft made before)."""
    return OrderSync.objects.filter(lead_id=lead_id).exists()


def _hook_number(item: WebhookItem, field_id: int | None) -> str:
    """The order number the hook's own fields carry (legacy ``custom_fields[i][values][j][value]``)."""
    for cf in as_list(item.fields.get("custom_fields")):
        if not isinstance(cf, dict):
            continue
        if cf.get("code") == NUMBER_CODE or (field_id and as_int(cf.get("id")) == field_id):
            found = [str(v.get("value", "")) for v in as_list(cf.get("values")) if isinstance(v, dict)]
            if any(found):
                return next(v for v in found if v)
    return ""


def _lead_number(lead: dict[str, Any], field_id: int | None) -> str:
    found = cf_values(lead, code=NUMBER_CODE) + (cf_values(lead, field_id=field_id) if field_id else [])
    return next((v for v in found if v), "")


def _own_deal(number: str, lead_id: int) -> ItemResult:
    return ItemResult(outcome=Outcome.ECHO, reasons=[reason(Code.DRAFT_OWN_DEAL, number=number)], id=lead_id)


def _main_contact_id(lead: dict[str, Any]) -> int | None:
    contacts = [c for c in (lead.get("_embedded") or {}).get("contacts") or [] if isinstance(c, dict)]
    main = next((c for c in contacts if c.get("is_main")), contacts[0] if contacts else None)
    return as_int(main.get("id")) if main else None


def _customer(client: Any, contact_id: int) -> tuple[Customer | None, int]:
    """The deal's customer and the calls it took; None when the contact is gone or its fields are refused."""
    linked = CustomerAmoLink.objects.filter(contact_id=contact_id).select_related("customer").first()
    if linked is not None:
        return linked.customer, 0
    contact = client.get_contact(contact_id)
    if not contact:
        return None, 1
    values = contact_values(contact)
    data = {key: value for key, value in values.items() if value}
    if not (data.get("first_name") or data.get("last_name")):
        data["first_name"] = str(contact.get("name") or "")[:150]
    customer, created = _customer_find_or_create(data)
    if customer is None:
        return None, 1
    if created:  # made from the contact: both sides hold the same values (later edits compare to them)
        fields_agreed(party=Party.CONTACT, object_id=customer.pk, values=customer_values(customer))
    link, _made = CustomerAmoLink.objects.get_or_create(customer=customer)
    if not link.contact_id:
        CustomerAmoLink.objects.filter(pk=link.pk).update(contact_id=contact_id)
    return customer, 1


def _customer_find_or_create(data: dict[str, str]) -> tuple[Customer | None, bool]:
    """The contact's customer; a phone the console refuses is left out when an e-mail can stand for it (a
    customer needs a name and a phone or an e-mail)."""
    without_phone = {key: value for key, value in data.items() if key != "phone"}
    for attempt in (data, without_phone) if data.get("phone") and data.get("email") else (data,):
        try:
            return customer_find_or_create(data=attempt, origin="amocrm", actor=ACTOR)
        except ValidationError:
            continue
    return None, False


def _quantity(metadata: Any) -> int:
    try:
        quantity = int(Decimal(str((metadata if isinstance(metadata, dict) else {}).get("quantity", 1))))
    except (InvalidOperation, ValueError, TypeError):
        quantity = 1
    return min(max(quantity, 1), MAX_QUANTITY)


def _lines(lead: dict[str, Any]) -> list[dict[str, Any]]:
    """The deal's catalog elements as lines (products known by element id; others left out)."""
    elements = [e for e in (lead.get("_embedded") or {}).get("catalog_elements") or [] if isinstance(e, dict)]
    by_element = {as_int(e.get("id")): e for e in elements if as_int(e.get("id")) is not None}
    links = CatalogElementLink.objects.filter(element_id__in=list(by_element))
    skus = {link.sku: link.element_id for link in links}
    lines = []
    for product in Product.objects.filter(sku__in=list(skus)).order_by("sku"):
        quantity = _quantity(by_element[skus[product.sku]].get("metadata"))
        lines.append({"product": product, "quantity": quantity, "unit_price": product.unit_price})
    return lines


def _date(lead: dict[str, Any], field_id: int | None) -> datetime.date | None:
    stamp = (
        next((as_int(v) for v in cf_values(lead, field_id=field_id) if as_int(v)), None) if field_id else None
    )
    if stamp is None:
        return None
    return timezone.localtime(datetime.datetime.fromtimestamp(stamp, tz=datetime.UTC)).date()


def _dates(lead: dict[str, Any], field_ids: dict[str, Any]) -> tuple[datetime.date, datetime.date]:
    """The deal's installation and dismantle dates, else today and tomorrow (a manager sets them)."""
    start = _date(lead, as_int(field_ids.get("installation_date"))) or timezone.localdate()
    end = _date(lead, as_int(field_ids.get("dismantle_date")))
    if end is None or end < start:
        end = start + datetime.timedelta(days=1)
    return start, end


def _status(lead: dict[str, Any]) -> str:
    pipeline_id, status_id = as_int(lead.get("pipeline_id")), as_int(lead.get("status_id"))
    if pipeline_id is None or status_id is None:
        return Order.Status.NEW
    status, _why = StageMap.load().status_for(pipeline_id, status_id)
    return status or Order.Status.NEW


def _link_sync(order: Order, lead: dict[str, Any], contact_id: int) -> None:
    """The draft's sync row: linked to the deal, its stage and elements as amoCRM holds them."""
    elements = (lead.get("_embedded") or {}).get("catalog_elements") or []
    pipeline_id, status_id = as_int(lead.get("pipeline_id")), as_int(lead.get("status_id"))
    sync = OrderSync.objects.create(
        order=order,
        lead_id=int(lead["id"]),
        state=OrderSync.State.SYNCED,
        amo_pipeline_id=pipeline_id,
        amo_status_id=status_id,
        amo_seen_at=timezone.now(),
        last_amo_modified=as_int(lead.get("updated_at")),
    )
    OrderSync.objects.filter(pk=sync.pk).update(
        contact_id=contact_id,
        pushed_pipeline_id=pipeline_id,
        pushed_status_id=status_id,
        pushed_products={str(e["id"]): _quantity(e.get("metadata")) for e in elements if isinstance(e, dict)},
    )


def _make_draft(lead: dict[str, Any], customer: Customer, contact_id: int) -> ItemResult:
    lead_id = int(lead["id"])
    field_ids = AmoConnection.get_solo().lead_field_ids or {}
    start, end = _dates(lead, field_ids)
    try:
        price = Decimal(str(lead.get("price") or 0))
    except InvalidOperation:
        price = Decimal("0")
    with transaction.atomic():
        if lead_is_linked(lead_id):  # another delivery of the same deal made it meanwhile
            return ItemResult(outcome=Outcome.IGNORED, reasons=[reason(Code.DRAFT_EXISTS)], id=lead_id)
        try:
            order = order_create_draft(
                customer=customer,
                lines=_lines(lead),
                price=price,
                installation_date=start,
                dismantle_date=end,
                status=_status(lead),
                comment=str(lead.get("name") or "")[:1000],
                actor=ACTOR,
            )
        except ValidationError as exc:
            errors = sorted(exc.message_dict) if hasattr(exc, "error_dict") else []
            return ItemResult(
                outcome=Outcome.INVALID, reasons=[reason(Code.DRAFT_INVALID, fields=errors)], id=lead_id
            )
        _link_sync(order, lead, contact_id)
    why = [reason(Code.DRAFT_CREATED, number=order.number, lines=order.items.count())]
    # The deal's responsible user becomes the order's manager when linked to a console user.
    responsible = responsible_observe(
        lead_id=lead_id, amo_user_id=as_int(lead.get("responsible_user_id")), told=False
    )
    if responsible is not None and responsible.outcome == Outcome.APPLIED:
        why += responsible.reasons
    return ItemResult(outcome=Outcome.APPLIED, reasons=why, id=lead_id, order_id=order.pk)


def lead_draft(item: WebhookItem, client_factory: Callable[[], Any] | None = None) -> ItemResult:
    """``add_lead`` for a deal no order owns: a draft order, or why none was made."""
    lead_id = int(item.id or 0)
    number_field = as_int((AmoConnection.get_solo().lead_field_ids or {}).get("order_number"))
    number = _hook_number(item, number_field)
    if number:
        return _own_deal(number, lead_id)
    client = (client_factory or account_client)()
    lead = client.get_lead(lead_id, with_=LEAD_WITH)
    if not lead:
        return ItemResult(outcome=Outcome.IGNORED, reasons=[reason(Code.LEAD_GONE)], id=lead_id, http_calls=1)
    result = _draft_from_lead(client, lead, number_field)
    result.http_calls += 1
    return result


def _draft_from_lead(client: Any, lead: dict[str, Any], number_field: int | None) -> ItemResult:
    lead_id = int(lead["id"])
    number = _lead_number(lead, number_field)
    if number:
        return _own_deal(number, lead_id)
    contact_id = _main_contact_id(lead)
    if contact_id is None:
        return ItemResult(outcome=Outcome.IGNORED, reasons=[reason(Code.DRAFT_NO_CONTACT)], id=lead_id)
    customer, calls = _customer(client, contact_id)
    if customer is None:
        result = ItemResult(outcome=Outcome.IGNORED, reasons=[reason(Code.DRAFT_NO_CONTACT)], id=lead_id)
    else:
        result = _make_draft(lead, customer, contact_id)
    result.http_calls += calls
    return result


def lead_draft_from_api(lead: dict[str, Any], client: Any) -> ItemResult | None:
    """Reconciliation: a deal read from the list (``with=contacts,catalog_elements``) that no order owns
    becomes a draft as its ``add_lead`` would have made it; None when an order owns it."""
    if lead.get("id") is None or lead_is_linked(int(lead["id"])):
        return None
    number_field = as_int((AmoConnection.get_solo().lead_field_ids or {}).get("order_number"))
    return _draft_from_lead(client, lead, number_field)
