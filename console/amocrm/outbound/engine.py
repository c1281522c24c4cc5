"""The sync engine: makes each claimed order's amoCRM deal true to the order, in a few explicit steps.

A run (one task) takes a set of orders and, sharing batch calls between them:

1. claims each order: takes its lease (``console.amocrm.leases``, kind ``order``), then sets its
   ``OrderSync`` row to ``syncing``, so two workers never push one order at once; the run keeps its leases
   alive with a heartbeat (``Run.heartbeat``: between steps and before each amoCRM call), and a lease not
   renewed for ``AMOCRM_LEASE_SECONDS`` may be taken over: its worker died;
2. computes each order's target (what its deal should be) and finishes at once what has nothing to send
   (the stored hash equals the target's), what must not be pushed (a cancelled order that never had a deal)
   and a deal deleted in amoCRM; an order whose deal, note or catalog element create lost its answer waits
   until that create has settled in amoCRM (``outbound.unconfirmed``) before it is looked up;
3. products: the catalog elements of every SKU (``outbound.products``);
4. customers: each customer's contact and company, found or created (``outbound.customers``);
5. deals: adopt an unconfirmed create, create the missing deals, update the changed ones (``outbound.leads``);
6. notes: the creation note on each new deal (``outbound.notes``); tasks: the call, installation and pickup
   tasks each deal wants, one POST and one PATCH per batch (``outbound.order_tasks``);
7. links: products with quantities, contact and company on each deal (``outbound.products``);
8. releases each claim with its outcome and writes the sync log (``outbound.outcomes``), then stores what
   was sent to amoCRM and what it answered, once for the run (``outbound.exchanges``).

What was pushed is remembered (lead-field hash, stage, ``{element: quantity}``, contact/company, overall
hash): a save that changes nothing mapped makes no call, a status change makes one PATCH.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from django.db.models import F, Q
from django.utils import timezone

from console.amocrm.account.access import account_client
from console.amocrm.api.errors import UNKNOWN_ELEMENT, UNKNOWN_NOTE, AmoCRMError
from console.amocrm.api.exchanges import ExchangeLog
from console.amocrm.leases import ORDER, leases_release, leases_take, new_holder
from console.amocrm.models import AmoConnection, OrderSync, SyncLog
from console.amocrm.outbound import payloads
from console.amocrm.outbound.customers import customer_leases_release, customers_resolve
from console.amocrm.outbound.exchanges import exchanges_store
from console.amocrm.outbound.job import Job, Run, Target, sync_record_error
from console.amocrm.outbound.leads import leads_adopt, leads_create, leads_update
from console.amocrm.outbound.notes import notes_add
from console.amocrm.outbound.order_tasks import tasks_sync
from console.amocrm.outbound.outcomes import job_pause, job_release, job_succeed, jobs_fail
from console.amocrm.outbound.products import elements_ensure, links_sync, pushed_products_reread
from console.amocrm.outbound.unconfirmed import (
    ELEMENT,
    LEAD,
    NOTE,
    TASK,
    Kind,
    creates_lost,
    creates_unconfirmed,
    settles_of,
)
from console.amocrm.payment import order_payment
from console.amocrm.responsible import amo_user_id_for_order
from console.amocrm.stagemap import StageMap
from console.orders.models import Order

logger = logging.getLogger(__name__)

State = OrderSync.State
Outcome = SyncLog.Outcome
# A syncing row is claimable too once its lease is ours: its former holder stopped renewing it.
CLAIMABLE = (State.NOT_SYNCED, State.QUEUED, State.SYNCED, State.FAILED, State.SYNCING)
DELETED_DEAL = "The deal was deleted in AmoCRM: unlink the order to create a new deal, or link another"
# What an order waits for when a create's answer was lost, by the kind of the create that settles last.
SETTLING = {
    LEAD: (
        "AmoCRM did not confirm the deal's create; it is looked up once amoCRM has carried it out",
        "unknown_outcome",
    ),
    NOTE: (
        "AmoCRM did not confirm the note's create; it is looked up once amoCRM has carried it out",
        UNKNOWN_NOTE,
    ),
    TASK: (
        "AmoCRM did not confirm the tasks' create; they are looked up once amoCRM has carried it out",
        "unknown_outcome",
    ),
    ELEMENT: (
        "AmoCRM did not confirm a catalog element's create; it is looked up once amoCRM has carried it out",
        UNKNOWN_ELEMENT,
    ),
}


def order_sync_run(*, order_id: int, trigger: str = "") -> str | None:
    """Task body: sync one order now (if it can be claimed). Returns the outcome, or None when not claimed."""
    return orders_sync_run(order_ids=[order_id], trigger=trigger).get(order_id)


def orders_sync_run(*, order_ids: Iterable[int], trigger: str = "") -> dict[int, str]:
    """Task body: claim and sync many orders together (batch calls). Returns ``{order_id: outcome}``."""
    jobs = _claim(list(order_ids), trigger)
    if not jobs:
        return {}
    _execute(jobs)
    outcomes = {job.order.pk: job.outcome for job in jobs}
    # amoCRM rejects a whole batch for one bad item: sync the orders a permanent batch error failed one by
    # one, so only the bad one ends failed (its batch attempt is not counted).
    alone = [job.order.pk for job in jobs if job.batch_failed]
    if alone:
        OrderSync.objects.filter(order_id__in=alone, attempts__gt=0).update(attempts=F("attempts") - 1)
        for order_id in alone:
            outcomes[order_id] = order_sync_run(order_id=order_id, trigger=trigger) or outcomes[order_id]
    return outcomes


def _claim(order_ids: list[int], trigger: str) -> list[Job]:
    """Take each order's lease, then set its row to ``syncing`` if it is due; returns the jobs this worker
    owns (the leases of orders it could not claim are given back at once)."""
    order_ids = list(dict.fromkeys(order_ids))
    holder = new_holder()
    won = leases_take(kind=ORDER, keys=order_ids, holder=holder)
    now = timezone.now()
    due = Q(next_retry_at__isnull=True) | Q(next_retry_at__lte=now) | Q(task_pending=True)
    jobs, lost = [], []
    for order_id in [pk for pk in order_ids if pk in won]:
        taken = (
            OrderSync.objects.filter(state__in=CLAIMABLE, order_id=order_id)
            .filter(due)
            .update(state=State.SYNCING, task_pending=False, updated_at=now)
        )
        if not taken:
            lost.append(order_id)
            continue
        jobs.append(_job(order_id, trigger, holder))
    if lost:
        leases_release(holder=holder, kinds=[ORDER], keys=lost)
    return jobs


def _job(order_id: int, trigger: str, holder: str) -> Job:
    """The job of an order just claimed by ``holder``: its change counter is read before the order, so a
    change seen in the order it pushes is never counted as made during the push (which queues one more)."""
    sync = OrderSync.objects.get(order_id=order_id)
    order = (
        Order.objects.select_related("customer", "customer__company", "amo_loss_reason")
        .prefetch_related("items__product")
        .get(pk=order_id)
    )
    return Job(
        sync=sync,
        order=order,
        trigger=sync.pending_trigger or trigger,
        event=sync.pending_event or "sync",
        claimed_seq=sync.change_seq,
        holder=holder,
    )


def _target(run: Run, order: Order) -> Target:
    """What ``order``'s deal should be in amoCRM, with the hashes that tell whether anything changed."""
    lines = list(order.items.all())
    stage = run.stage_map.stage_for(order.status, deleted=not order.is_active)
    responsible = amo_user_id_for_order(order)
    fields = payloads.lead_fields(
        order, run.field_ids, enum_ids=run.enum_ids, responsible_user_id=responsible
    )
    products = payloads.order_products(lines)
    lead_hash = payloads.stable_hash(fields)
    summary = payloads.order_summary(order, lines)
    full_hash = payloads.stable_hash(
        {
            "lead": lead_hash,
            "stage": [stage.pipeline_id, stage.status_id] if stage else None,
            "products": products,
            "prices": {i.product.sku: str(i.product.unit_price) for i in lines},
            "customer": order.customer_id,
            "company": order.customer.company_id,
            "contact": payloads.stable_hash(payloads.contact_payload(order.customer)),
            "summary": summary,
        }
    )
    return Target(lines, stage, fields, products, lead_hash, full_hash, summary, order_payment(order))


def _prepare(run: Run, jobs: list[Job]) -> None:
    """Compute each order's target; finish the no-ops and the orders that must not be pushed or wait."""
    now = timezone.now()
    settling = _settling(jobs)
    for job in jobs:
        order, sync = job.order, job.sync
        settles, kind = settling.get(order.pk, (None, LEAD))
        if settles is not None and settles > now:
            title, error_kind = SETTLING[kind]
            job_pause(job, settles - now, title, kind=error_kind)
            continue
        if not sync.lead_id and (not order.is_active or order.status == Order.Status.CANCELLED):
            job.finish(Outcome.SKIPPED, "none")
            continue
        if order.is_draft:  # a deal made in amoCRM: nothing is pushed before a manager confirms it
            job.finish(Outcome.SKIPPED, "draft")
            continue
        if sync.lead_id and sync.lead_deleted_at:
            sync_record_error(sync, None, DELETED_DEAL, kind="deal_deleted")
            job.finish(Outcome.FAILED, "none")
            continue
        job.target = _target(run, order)
        if sync.lead_id and sync.payload_hash == job.target.full_hash and not job.unconfirmed:
            job.finish(Outcome.NOOP, "none")


def _settling(jobs: list[Job]) -> dict[int, tuple[datetime, Kind]]:
    """Load each job's unconfirmed deal and note creates; returns when the last unconfirmed create each order
    waits for (its deal's while it has no deal, its note's, its products' catalog elements') has settled, and
    that create's kind."""
    unconfirmed = creates_unconfirmed([LEAD, NOTE, TASK], [job.order.pk for job in jobs])
    products = {job.order.pk: {line.product_id for line in job.order.items.all()} for job in jobs}
    elements = creates_unconfirmed([ELEMENT], set().union(*products.values()))
    lost = {row.key for row in creates_lost(rows[ELEMENT] for rows in elements.values())}
    settling = {}
    for job in jobs:
        job.unconfirmed = unconfirmed.get(job.order.pk, {})
        if job.sync.lead_id:
            job.unconfirmed.pop(LEAD, None)
        rows = [
            *job.unconfirmed.values(),
            *(elements[pk][ELEMENT] for pk in products[job.order.pk] if pk in lost),
        ]
        settles = settles_of(rows)
        if settles is not None:
            last = max(rows, key=lambda row: row.sent_at)
            settling[job.order.pk] = (settles, Kind(last.kind))
    return settling


def _push(run: Run, jobs: list[Job]) -> None:
    """Steps 3-7 for the jobs that have something to send; each finished job is marked synced. Each step
    (and each amoCRM call in it, through ``run.amo``) keeps the run's claims alive."""
    elements_ensure(run, jobs)
    run.heartbeat()
    jobs = customers_resolve(run, jobs)
    run.heartbeat()
    leads_adopt(run, [j for j in jobs if not j.sync.lead_id and LEAD in j.unconfirmed])
    leads_create(run, [j for j in jobs if not j.sync.lead_id])
    run.heartbeat()
    leads_update(run, [j for j in jobs if j.sync.lead_id and not j.new_lead])
    pushed_products_reread(run, jobs)
    run.heartbeat()
    notes_add(run, [j for j in jobs if j.sync.lead_id])
    tasks_sync(run, [j for j in jobs if j.sync.lead_id])
    links_sync(run, jobs)
    run.heartbeat()
    for job in jobs:
        if not job.done:
            job_succeed(job)


def _execute(jobs: list[Job]) -> None:
    run = Run(connection=AmoConnection.get_solo(), stage_map=StageMap.load(), jobs=jobs)
    _prepare(run, jobs)
    run.heartbeat()
    pending = [j for j in jobs if not j.done]
    if pending:
        try:
            run.client = account_client(run.connection, exchanges=ExchangeLog())
            _push(run, pending)
        except AmoCRMError as exc:
            jobs_fail(jobs, exc)
        except Exception as exc:  # noqa: BLE001 -- any bug must still release the claims
            logger.exception("sync run crashed")
            jobs_fail(jobs, exc)
        finally:
            customer_leases_release(run)
    _share_calls(jobs, run.client.calls if run.client is not None else 0)
    for job in jobs:
        job_release(job)
    exchanges_store(run=run.holder, log=run.client.exchanges if run.client is not None else None)


def _share_calls(jobs: list[Job], calls: int) -> None:
    """Spread the run's HTTP calls over the jobs that did work (for the sync log)."""
    working = [j for j in jobs if j.outcome not in (Outcome.NOOP, Outcome.SKIPPED)] or jobs
    for job in working:
        job.calls = calls // len(working) + (1 if job is working[0] and calls % len(working) else 0)
