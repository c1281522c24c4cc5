"""The customer step: each order's contact (and company for a business customer) found or created in amoCRM.

A customer's contact is remembered (``CustomerAmoLink``) so a repeat customer costs no search; a new one is
looked up first (``outbound.lookup``), then created, under a short per-customer lease so two orders of one new
customer synced at once never create two contacts. A new individual customer with a single new order gets
contact and deal in one ``/leads/complex`` call (``outbound.leads``).

Contacts: https://www.amocrm.ru/developers/content/crm_platform/contacts-api
Companies: https://www.amocrm.ru/developers/content/crm_platform/companies-api
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone

from console.amocrm.models import CustomerAmoLink
from console.amocrm.outbound import payloads
from console.amocrm.outbound.job import BATCH, Job, Run, ids_of
from console.amocrm.outbound.lookup import find_company_id, find_contact_id
from console.amocrm.outbound.outcomes import job_pause

LEASE = timedelta(seconds=60)
LEASE_WAIT = timedelta(seconds=10)
# How often a waiting worker looks whether the other one finished the contact; amoCRM answers within that.
LEASE_POLL = 0.2
BUSY_PAUSE = timedelta(seconds=5)


class CustomerBusy(Exception):
    """Another worker holds the customer's lease: try this order again in a few seconds."""


def customers_resolve(run: Run, jobs: list[Job]) -> list[Job]:
    """Contact (and company) ids of each order's customer; orders of a customer busy elsewhere wait.

    Returns the jobs that go on to the deal step."""
    by_customer: dict[int, list[Job]] = {}
    for job in jobs:
        by_customer.setdefault(job.order.customer_id, []).append(job)
    to_create: list[tuple[Any, CustomerAmoLink]] = []
    ready: list[Job] = []
    for customer_jobs in by_customer.values():
        customer = customer_jobs[0].order.customer
        link, _ = CustomerAmoLink.objects.get_or_create(customer=customer)
        try:
            if _contact_resolve(run, customer, link, customer_jobs, single=len(by_customer) == 1):
                to_create.append((customer, link))
        except CustomerBusy:
            for job in customer_jobs:
                title = "The customer's contact is being created by another worker"
                job_pause(job, BUSY_PAUSE, title, kind="customer_busy")
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


def _contact_resolve(
    run: Run, customer: Any, link: CustomerAmoLink, jobs: list[Job], *, single: bool
) -> bool:
    """Fill ``link.contact_id`` (remembered, found, or left for a create); True when it must be created apart.

    A single customer may wait for the worker creating its contact; a bulk run moves on at once (its other
    customers need not wait) and retries that customer's orders shortly."""
    if not link.contact_id:
        _lease(run, link, wait=single)
    if link.contact_id:
        _contact_refresh(run, customer, link)
        return False
    contact_id = find_contact_id(run.amo, customer)
    if contact_id:
        link.contact_id = contact_id
        link.contact_hash = ""
        link.save(update_fields=["contact_id", "contact_hash", "updated_at"])
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
    return not sync.lead_id and not sync.create_pending


def _lease(run: Run, link: CustomerAmoLink, *, wait: bool) -> None:
    """Take the customer's find-or-create lease, or wait (up to ``LEASE_WAIT``, when ``wait``) for the worker
    holding it.

    Returns with the lease taken, or with ``link.contact_id`` filled by the other worker; raises
    ``CustomerBusy`` when the other worker is still at it after the wait.
    """
    deadline = time.monotonic() + (LEASE_WAIT.total_seconds() if wait else 0)
    while True:
        now = timezone.now()
        taken = (
            CustomerAmoLink.objects.filter(pk=link.pk)
            .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
            .update(locked_until=now + LEASE)
        )
        if taken:
            run.leased.append(link.pk)
        link.refresh_from_db()
        if taken or link.contact_id:
            return
        if time.monotonic() > deadline:
            raise CustomerBusy
        time.sleep(LEASE_POLL)


def _contact_refresh(run: Run, customer: Any, link: CustomerAmoLink) -> None:
    """Push the customer's edits to a remembered contact (a freshly found or created one is already right)."""
    payload = payloads.contact_payload(customer)
    digest = payloads.stable_hash(payload)
    if link.contact_hash == digest:
        return
    if link.contact_hash:
        run.amo.update_contacts([{"id": int(link.contact_id), **payload}])
    link.contact_hash = digest
    link.save(update_fields=["contact_hash", "updated_at"])


def _contacts_create(run: Run, pending: list[tuple[Any, CustomerAmoLink]]) -> None:
    for start in range(0, len(pending), BATCH):
        chunk = pending[start : start + BATCH]
        contacts = [payloads.contact_payload(customer) for customer, _ in chunk]
        ids = ids_of(run.amo.create_contacts(contacts))
        for (_customer, link), contact_id, payload in zip(chunk, ids, contacts, strict=True):
            link.contact_id = contact_id
            link.contact_hash = payloads.stable_hash(payload)
            link.locked_until = None
            link.save(update_fields=["contact_id", "contact_hash", "locked_until", "updated_at"])


def _companies_resolve(run: Run, jobs: list[Job]) -> None:
    """Business customers: the company found (INN, then name) or created, linked to the contact."""
    customers = {
        job.order.customer.pk: job.order.customer
        for job in jobs
        if job.order.customer.company_id and job.order.customer.customer_type == "business"
    }
    pending, linked = [], []
    for customer in customers.values():
        link = CustomerAmoLink.objects.get(customer=customer)
        if link.company_id:
            continue
        company = customer.company
        company_id = find_company_id(run.amo, inn=company.inn or None, name=company.name)
        if company_id:
            link.company_id = company_id
            link.save(update_fields=["company_id", "updated_at"])
            linked.append(link)
        else:
            pending.append((company, link))
    for start in range(0, len(pending), BATCH):
        chunk = pending[start : start + BATCH]
        companies = [payloads.company_payload(company, run.company_field_ids) for company, _ in chunk]
        created = ids_of(run.amo.create_companies(companies))
        for (_company, link), company_id, company in zip(chunk, created, companies, strict=True):
            link.company_id, link.company_hash = company_id, payloads.stable_hash(company)
            link.save(update_fields=["company_id", "company_hash", "updated_at"])
            linked.append(link)
    items = [
        {
            "entity_id": int(link.contact_id),
            "entity_type": "contacts",
            "to_entity_id": int(link.company_id),
            "to_entity_type": "companies",
        }
        for link in linked
        if link.contact_id
    ]
    for start in range(0, len(items), BATCH):
        run.amo.link_many("contacts", items[start : start + BATCH])
