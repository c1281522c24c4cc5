"""The customer step: each order's contact (and company for a business customer) found or created in amoCRM.

A customer's contact is remembered (``CustomerAmoLink``) so a repeat customer costs no search; a new one is
looked up first (``outbound.lookup``), then created, under a short per-customer lease
(``console.amocrm.leases``, kind ``contact``, kept alive by the run's heartbeat) so two orders of one new
customer synced at once never create two contacts. A contact create whose answer was lost is not looked up
again before amoCRM has had time to carry it out (``retries.settled_at``): a search made earlier could miss
it and create a second one. A new individual
customer with a single new order gets contact and deal in one ``/leads/complex`` call (``outbound.leads``).
A business customer's company is found or created once per company (``CompanyAmoLink``), under the same
kind of lease (kind ``company``) and with the same care for a lost create. When the run gives its leases
back, it sends again the orders that waited for them (:func:`customer_leases_release`).

Contacts: https://www.amocrm.ru/developers/content/crm_platform/contacts-api
Companies: https://www.amocrm.ru/developers/content/crm_platform/companies-api
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone

from console.amocrm import parties
from console.amocrm.leases import COMPANY, CONTACT, leases_held, leases_release, leases_take
from console.amocrm.models import CompanyAmoLink, CustomerAmoLink, OrderSync
from console.amocrm.outbound import payloads
from console.amocrm.outbound.job import BATCH, Job, Run, ids_of
from console.amocrm.outbound.lookup import find_company_id, find_contact_id
from console.amocrm.outbound.outcomes import job_pause
from console.amocrm.outbound.queueing import enqueue_if_idle
from console.amocrm.outbound.unconfirmed import (
    LEAD,
    creates_forget,
    creates_sending,
    creates_settle_at,
    creates_unconfirmed,
)

# Orders that wait for another worker's contact or company are sent again by that worker when it is done;
# should that be missed, the every-minute retry job sends them after this pause.
BUSY_PAUSE = timedelta(seconds=5)


class CustomerBusy(Exception):
    """Another worker holds the lease of the customer's contact or company (it sends the order again when
    done), or their create is not confirmed yet (try again once it has settled, ``until``)."""

    def __init__(self, until: datetime | None = None) -> None:
        self.until = until
        super().__init__()

    def pause(self) -> timedelta:
        """How long the customer's orders wait."""
        if self.until is None:
            return BUSY_PAUSE
        return max(self.until - timezone.now(), timedelta(seconds=1))


def customers_resolve(run: Run, jobs: list[Job]) -> list[Job]:
    """Contact (and company) ids of each order's customer; orders of a customer busy elsewhere wait.

    Returns the jobs that go on to the deal step."""
    by_customer: dict[int, list[Job]] = {}
    for job in jobs:
        by_customer.setdefault(job.order.customer_id, []).append(job)
    to_create: list[tuple[Any, CustomerAmoLink, int | None]] = []
    ready: list[Job] = []
    for customer_jobs in by_customer.values():
        customer = customer_jobs[0].order.customer
        link, _ = CustomerAmoLink.objects.get_or_create(customer=customer)
        try:
            if _contact_resolve(run, customer, link, customer_jobs):
                to_create.append((customer, link, payloads.responsible_of(customer_jobs[0])))
        except CustomerBusy as busy:
            for job in customer_jobs:
                title = "The customer's contact is being created by another worker"
                job_pause(job, busy.pause(), title, kind="customer_busy")
            continue
        ready.extend(customer_jobs)
    _contacts_create(run, to_create)
    _companies_resolve(run, ready)
    links = {link.customer_id: link for link in CustomerAmoLink.objects.filter(customer_id__in=by_customer)}
    for job in ready:
        link = links[job.order.customer_id]
        job.contact_id = link.contact_id
        job.company_id = link.company_id if job.order.customer.company_id else None
    return [j for j in ready if not j.done]


def _contact_resolve(run: Run, customer: Any, link: CustomerAmoLink, jobs: list[Job]) -> bool:
    """Fill ``link.contact_id`` (remembered, found, or left for a create); True when it must be created apart.

    The orders of a customer whose contact another worker is creating wait: that worker sends them again."""
    if not link.contact_id:
        _lease_take(run, CONTACT, customer.pk, link, known="contact_id")
    if link.contact_id:
        _contact_refresh(run, customer, link)
        return False
    contact_id = find_contact_id(run.amo, customer)
    if contact_id:
        link.contact_id = contact_id
        link.contact_hash = ""
        link.save(update_fields=["contact_id", "contact_hash", "updated_at"])
        creates_forget(CONTACT, [customer.pk])
        return False
    if _complex_candidate(customer, jobs):
        jobs[0].new_contact = payloads.contact_payload(customer)
        return False
    return True


def _complex_candidate(customer: Any, jobs: list[Job]) -> bool:
    """A new individual customer with one order to create: contact and lead go in one complex call."""
    if customer.company_id or len(jobs) != 1:
        return False
    sync = jobs[0].sync
    return not sync.lead_id and LEAD not in jobs[0].unconfirmed


def _lease_take(run: Run, kind: str, key: int, link: CustomerAmoLink | CompanyAmoLink, *, known: str) -> None:
    """Take the find-or-create lease of a customer's contact (kind ``contact``) or of a company at once.

    Returns with the lease taken (held under the run's name), or with the id (``link``'s field ``known``)
    filled by another worker; raises ``CustomerBusy`` when another worker holds the lease (it sends the
    waiting orders again when it gives the lease back: :func:`customer_leases_release`), or when its create
    whose answer was lost (an unconfirmed create of the same kind and key) has not settled yet.
    """
    now = timezone.now()
    taken = key in leases_take(kind=kind, keys=[key], holder=run.holder)
    link.refresh_from_db()
    if getattr(link, known):
        return
    settles = creates_settle_at(kind, [key])
    if settles is not None and settles > now:
        raise CustomerBusy(until=settles)
    if not taken:
        raise CustomerBusy


def customer_leases_release(run: Run) -> int:
    """Give back the run's contact and company leases (however the run ended) and send again, now, the orders
    that paused because the run held them (unless a create of this run is unconfirmed: they wait for it to
    settle; it stays marked as sent). Returns how many orders were sent again."""
    held = leases_held(holder=run.holder, kinds=(CONTACT, COMPANY))
    customer_ids, company_ids = held[CONTACT], held[COMPANY]
    if not customer_ids and not company_ids:
        return 0
    leases_release(holder=run.holder, kinds=(CONTACT, COMPANY))
    customer_ids -= set(creates_unconfirmed([CONTACT], customer_ids))
    company_ids -= set(creates_unconfirmed([COMPANY], company_ids))
    waiting = OrderSync.objects.filter(
        Q(order__customer_id__in=customer_ids) | Q(order__customer__company_id__in=company_ids),
        state=OrderSync.State.QUEUED,
        task_pending=False,
        error_kind="customer_busy",
    )
    woken = 0
    for sync_pk, order_id in waiting.values_list("pk", "order_id"):
        woken += enqueue_if_idle(sync_pk=sync_pk, order_id=order_id)
    return woken


def _contact_refresh(run: Run, customer: Any, link: CustomerAmoLink) -> None:
    """Push the customer's edits to a remembered contact (a freshly found or created one is already right)."""
    payload = payloads.contact_payload(customer)
    digest = payloads.stable_hash(payload)
    if link.contact_hash == digest:
        return
    if link.contact_hash:
        run.amo.update_contacts([{"id": int(link.contact_id), **payload}])
        parties.customer_sent(customer)
    link.contact_hash = digest
    link.save(update_fields=["contact_hash", "updated_at"])


def _contacts_create(run: Run, pending: list[tuple[Any, CustomerAmoLink, int | None]]) -> None:
    """Create the contacts of new customers, 50 a call, each on its order's responsible manager."""
    for start in range(0, len(pending), BATCH):
        chunk = pending[start : start + BATCH]
        contacts = [payloads.contact_payload(customer) for customer, _, _ in chunk]
        sent = [payloads.with_responsible(c, who) for c, (_, _, who) in zip(contacts, chunk, strict=True)]
        with creates_sending(CONTACT, [customer.pk for customer, _, _ in chunk]):
            ids = ids_of(run.amo.create_contacts(sent))
        for (_customer, link, _who), contact_id, payload in zip(chunk, ids, contacts, strict=True):
            link.contact_id = contact_id
            link.contact_hash = payloads.stable_hash(payload)
            link.save(update_fields=["contact_id", "contact_hash", "updated_at"])
            parties.customer_sent(_customer)
        creates_forget(
            CONTACT, [customer.pk for customer, _, _ in chunk]
        )  # leases: given back at the run's end


def _companies_resolve(run: Run, jobs: list[Job]) -> None:
    """Business customers: each company found (INN, then name) or created once, under its own lease, and
    linked to its customers' contacts. The orders of a company another worker is finding or creating (or
    whose create is not confirmed yet) wait (``CustomerBusy``)."""
    by_company: dict[int, list[Job]] = {}
    for job in jobs:
        customer = job.order.customer
        if customer.company_id and customer.customer_type == "business":
            by_company.setdefault(customer.company_id, []).append(job)
    if not by_company:
        return
    business = {
        customer_id for company_jobs in by_company.values() for customer_id in _customers(company_jobs)
    }
    links = {link.customer_id: link for link in CustomerAmoLink.objects.filter(customer_id__in=business)}
    pending: list[CompanyAmoLink] = []
    ready: list[CompanyAmoLink] = []
    responsible: dict[int, int | None] = {}
    for company_pk, company_jobs in by_company.items():
        if all(links[job.order.customer_id].company_id for job in company_jobs):
            continue
        company_link = _company_link(company_pk)
        try:
            if not company_link.amo_id:
                _lease_take(run, COMPANY, company_pk, company_link, known="amo_id")
        except CustomerBusy as busy:
            for job in company_jobs:
                title = "The customer's company is being created by another worker"
                job_pause(job, busy.pause(), title, kind="customer_busy")
            continue
        if not company_link.amo_id:
            company = company_jobs[0].order.customer.company
            company_link.amo_id = find_company_id(run.amo, inn=company.inn or None, name=company.name)
        (ready if company_link.amo_id else pending).append(company_link)
        responsible[company_pk] = payloads.responsible_of(company_jobs[0])
    for start in range(0, len(pending), BATCH):
        chunk = pending[start : start + BATCH]
        companies = [
            payloads.with_responsible(
                payloads.company_payload(link.company, run.company_field_ids), responsible[link.company_id]
            )
            for link in chunk
        ]
        with creates_sending(COMPANY, [link.company_id for link in chunk]):
            created = ids_of(run.amo.create_companies(companies))
        for company_link, amo_id in zip(chunk, created, strict=True):
            company_link.amo_id = amo_id
        ready.extend(chunk)
    _company_links_store(run, ready, by_company, links)


def _customers(jobs: list[Job]) -> set[int]:
    return {job.order.customer_id for job in jobs}


def _company_link(company_pk: int) -> CompanyAmoLink:
    """The company's link, created on first use with the amoCRM id one of its customers already has."""
    link, created = CompanyAmoLink.objects.select_related("company").get_or_create(company_id=company_pk)
    if created or not link.amo_id:
        known = (
            CustomerAmoLink.objects.filter(customer__company_id=company_pk, company_id__isnull=False)
            .values_list("company_id", flat=True)
            .first()
        )
        if known:
            link.amo_id = known
            link.save(update_fields=["amo_id", "updated_at"])
    return link


def _company_links_store(
    run: Run, ready: list[CompanyAmoLink], by_company: dict[int, list[Job]], links: dict[int, CustomerAmoLink]
) -> None:
    """Remember each resolved company, on its link and its customers' links, and link it to their contacts."""
    for company_link in ready:
        company_link.save(update_fields=["amo_id", "updated_at"])
    creates_forget(COMPANY, [company_link.company_id for company_link in ready])  # leases: at the run's end
    items = []
    for company_link in ready:
        for customer_id in _customers(by_company[company_link.company_id]):
            link = links[customer_id]
            if link.company_id:
                continue
            link.company_id = company_link.amo_id
            link.save(update_fields=["company_id", "updated_at"])
            if link.contact_id:
                items.append(
                    {
                        "entity_id": int(link.contact_id),
                        "entity_type": "contacts",
                        "to_entity_id": int(link.company_id),
                        "to_entity_type": "companies",
                    }
                )
    for start in range(0, len(items), BATCH):
        run.amo.link_many("contacts", items[start : start + BATCH])
