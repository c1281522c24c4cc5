"""Customer and company edits pushed to their amoCRM contact and company, without waiting for an order.

An edit (console, API or admin: the customers app's ``customer_changed`` / ``company_changed``) marks the
links of the customers it touches as pending and queues a task once per customer; a task pushes every
pending link, contacts and companies 50 to a request, only where the payload's hash moved. An edit that
changes what the deals show (a name, a company) also asks for a sync of the customer's orders.

https://www.amocrm.ru/developers/content/crm_platform/contacts-api,
https://www.amocrm.ru/developers/content/crm_platform/companies-api
"""

from __future__ import annotations

import time
from typing import Any

from django.db.models import F

from console.amocrm import parties, queue
from console.amocrm.account.access import account_client
from console.amocrm.api.errors import AmoCRMError, error_detail, error_kind, error_title
from console.amocrm.api.transport import BATCH_SIZE
from console.amocrm.models import AmoConnection, CustomerAmoLink, OrderSync, SyncLog
from console.amocrm.outbound import payloads
from console.amocrm.outbound.queueing import order_sync_request

CONTACTS_TASK = "console.amocrm.tasks.contacts_sync_task"
# Edits of these customer fields change the deals too (their name, their company): the orders are synced.
DEAL_FIELDS = frozenset({"first_name", "last_name", "display_name", "company", "customer_type"})
LIMIT = 500  # links per task; a task with more pending queues its successor


def contact_update_request(*, customer_ids: list[int], changed: frozenset[str], trigger: str) -> int:
    """Mark the amoCRM contacts of ``customer_ids`` for an update and queue a push (one task per burst);
    returns how many linked contacts wait."""
    links = CustomerAmoLink.objects.filter(customer_id__in=customer_ids, contact_id__isnull=False)
    links.update(update_seq=F("update_seq") + 1)
    if links.filter(update_pending=False).update(update_pending=True):
        queue.enqueue_on_commit(CONTACTS_TASK)
    if changed & DEAL_FIELDS:
        linked = OrderSync.objects.filter(order__customer_id__in=customer_ids, lead_id__isnull=False)
        for order_id in linked.filter(order__is_active=True).values_list("order_id", flat=True):
            order_sync_request(order_id=order_id, trigger=trigger, event="customer")
    return links.count()


def company_update_request(*, company_id: int, changed: frozenset[str], trigger: str) -> int:
    """Mark the amoCRM company of every customer of ``company_id`` for an update (see above)."""
    ids = list(
        CustomerAmoLink.objects.filter(customer__company_id=company_id, company_id__isnull=False).values_list(
            "customer_id", flat=True
        )
    )
    deal_fields = frozenset({"company"}) if "name" in changed else frozenset()
    return contact_update_request(customer_ids=ids, changed=deal_fields, trigger=trigger) if ids else 0


def _payloads(links: list[CustomerAmoLink], company_field_ids: dict[str, int]) -> tuple[dict, dict]:
    """What to PATCH: ``{link pk: contact}`` and ``{company id: company}``, where the hash moved."""
    contacts: dict[int, dict[str, Any]] = {}
    companies: dict[int, dict[str, Any]] = {}
    for link in links:
        customer = link.customer
        contact = payloads.contact_payload(customer)
        if payloads.stable_hash(contact) != link.contact_hash:
            contacts[link.pk] = {"id": int(link.contact_id), **contact}
        if link.company_id and customer.company_id and customer.customer_type == "business":
            company = payloads.company_payload(customer.company, company_field_ids)
            if payloads.stable_hash(company) != link.company_hash:
                companies[int(link.company_id)] = {"id": int(link.company_id), **company}
    return contacts, companies


def _log(
    links: list[CustomerAmoLink], action: str, calls: int, started: float, error: Exception | None
) -> None:
    """One sync log row per linked order of the customers pushed (shown on those orders)."""
    orders = list(
        OrderSync.objects.filter(
            order__customer_id__in=[link.customer_id for link in links], lead_id__isnull=False
        ).values_list("order_id", "lead_id", "order__customer_id")
    )
    by_customer = {link.customer_id: link for link in links}
    SyncLog.objects.bulk_create(
        SyncLog(
            order_id=order_id,
            event="customer",
            action=action,
            trigger="customer",
            duration_ms=int((time.monotonic() - started) * 1000),
            outcome=_outcome(error),
            http_calls=calls if n == 0 else 0,
            lead_id=lead_id,
            contact_id=by_customer[customer_id].contact_id,
            company_id=by_customer[customer_id].company_id,
            error_title=error_title(error)[:500] if error else "",
            error_detail=error_detail(error) if error else "",
            error_status=getattr(error, "status", None),
            request_id=(getattr(error, "request_id", "") or "")[:100],
            error_kind=error_kind(error),
        )
        for n, (order_id, lead_id, customer_id) in enumerate(orders)
    )


def _outcome(error: Exception | None) -> str:
    if error is None:
        return SyncLog.Outcome.OK
    permanent = isinstance(error, AmoCRMError) and error.permanent
    return SyncLog.Outcome.FAILED if permanent else SyncLog.Outcome.RETRY


def contacts_sync_run() -> int:
    """Task body: push every pending contact and company edit; returns how many links were handled.

    A link whose customer was edited again meanwhile stays pending, and the task queues its successor."""
    seen = list(
        CustomerAmoLink.objects.filter(update_pending=True)
        .select_related("customer", "customer__company")
        .order_by("pk")[:LIMIT]
    )
    if not seen:
        return 0
    seqs = {link.pk: link.update_seq for link in seen}
    connection = AmoConnection.get_solo()
    field_ids = {k: int(v) for k, v in (connection.company_field_ids or {}).items() if v}
    contacts, companies = _payloads(seen, field_ids)
    started, client, error = time.monotonic(), account_client(connection), None
    try:
        items = list(contacts.values())
        for start in range(0, len(items), BATCH_SIZE):
            client.update_contacts(items[start : start + BATCH_SIZE])
        items = list(companies.values())
        for start in range(0, len(items), BATCH_SIZE):
            client.update_companies(items[start : start + BATCH_SIZE])
    except AmoCRMError as exc:
        error = exc
    _finish(seen, seqs, contacts, companies, error)
    _log([link for link in seen if link.pk in contacts], "contact_update", client.calls, started, error)
    if error is None and (len(seen) == LIMIT or CustomerAmoLink.objects.filter(update_pending=True).exists()):
        queue.enqueue(CONTACTS_TASK)
    return len(seen)


def _finish(
    links: list[CustomerAmoLink],
    seqs: dict[int, int],
    contacts: dict,
    companies: dict,
    error: Exception | None,
) -> None:
    """Remember what was pushed and clear ``update_pending`` where no edit came meanwhile. After a transient
    error everything stays pending for the every-minute schedule; a permanent one (amoCRM refused the data)
    is logged as failed on the orders and not repeated until the next edit."""
    if error is not None:
        if not (isinstance(error, AmoCRMError) and error.permanent):
            return
        CustomerAmoLink.objects.filter(pk__in=list(seqs)).update(update_pending=False)
        return
    for link in links:
        fields: dict[str, Any] = {"update_pending": False}
        if link.pk in contacts:
            contact = {k: v for k, v in contacts[link.pk].items() if k != "id"}
            fields["contact_hash"] = payloads.stable_hash(contact)
            parties.customer_sent(link.customer)
        company = companies.get(int(link.company_id or 0))
        if company is not None:
            parties.company_sent(link.customer.company)
            fields["company_hash"] = payloads.stable_hash({k: v for k, v in company.items() if k != "id"})
        CustomerAmoLink.objects.filter(pk=link.pk, update_seq=seqs[link.pk]).update(**fields)


def contacts_pending() -> bool:
    """True when an edit waits to be pushed (the every-minute schedule queues a task for it)."""
    return CustomerAmoLink.objects.filter(update_pending=True).exists()
