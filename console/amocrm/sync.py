"""The sync engine: services that make each order's amoCRM deal true to the order.

Entry points (keyword-only, safe to call from the shell, tasks, views):

- ``order_sync_request`` — an order changed: mark it queued and enqueue one task (bursts collapse into it);
- ``order_sync_run`` / ``orders_sync_run`` — task bodies: claim, sync the latest state, record the attempt;
- manager controls ``order_push``, ``order_skip``, ``order_unskip``, ``order_unlink``, ``order_link_to_lead``,
  ``orders_push_bulk``;
- schedules ``sync_due_retries`` (every minute) and ``prune_sync_log`` (daily).

Concurrency. A worker syncs an order only after a compare-and-set of its ``OrderSync`` row to ``syncing``
(a stale claim older than ``CLAIM_TIMEOUT`` may be taken over: the worker died). Every change bumps
``change_seq``; a sync remembers the value it started from and, when it ends, re-queues itself if the counter
moved meanwhile. So two workers never push the same order at once and the last state always gets pushed.

Efficiency. What was pushed is remembered (lead-field hash, stage, ``{element: quantity}``, contact/company,
overall ``payload_hash``): a save that changes nothing mapped makes no call, a status change makes one PATCH.
Many orders at once (bulk, or a backlog) share batch calls: leads, notes and links go 50 to a call. A new
individual customer's only order creates its contact and lead in one ``/leads/complex`` call.

No duplicates. ``create_pending`` is saved before a lead create is sent and cleared when its id is stored; an
attempt that finds it set looks the lead up by the order-number custom field first. Contacts are found (by the
remembered id, else a search) before any create, under a short per-customer lease.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from console.amocrm import mapping
from console.amocrm.errors import AmoCRMError, CircuitOpen, NotFound, UnknownOutcome
from console.amocrm.mapping import Stage
from console.amocrm.models import (
    AmoConnection,
    CatalogElementLink,
    CustomerAmoLink,
    OrderSync,
    StageMapping,
    SyncLog,
)
from console.amocrm.queue import task_enqueue
from console.amocrm.redaction import redact
from console.amocrm.schedules import schedule_once
from console.orders.models import Order

logger = logging.getLogger(__name__)

State = OrderSync.State
Outcome = SyncLog.Outcome

RETRY_DELAYS = (30, 120, 600, 3600, 6 * 3600, 12 * 3600, 24 * 3600)  # seconds after attempt 1, 2, ...
MAX_ATTEMPTS = 8
JITTER = 0.2  # +- 20 %
CIRCUIT_PAUSE = timedelta(minutes=1)
BUSY_PAUSE = timedelta(seconds=5)
# Longer than the cluster's task timeout (Q_TIMEOUT, 120 s by default): an older claim's worker is dead.
CLAIM_TIMEOUT = timedelta(minutes=5)
# Orders per bulk task: 200 new orders of new customers take about 40 s at 7 req/s, well inside Q_TIMEOUT.
BULK_CHUNK = 200
LEASE = timedelta(seconds=60)
LEASE_WAIT = timedelta(seconds=10)
BATCH = 50
LOG_RETENTION = timedelta(days=90)
CLAIMABLE = (State.NOT_SYNCED, State.QUEUED, State.SYNCED, State.FAILED)
SYNC_TASK = "console.amocrm.tasks.order_sync_task"
BULK_TASK = "console.amocrm.tasks.orders_sync_bulk_task"


# --- requests (enqueue side) ------------------------------------------------------------------------------


def order_sync_state(*, order: Order) -> OrderSync:
    """The order's sync row, created on first use (``skipped`` for an order marked "do not sync")."""
    initial = State.SKIPPED if order.sync_disabled else State.NOT_SYNCED
    sync, _created = OrderSync.objects.get_or_create(order=order, defaults={"state": initial})
    return sync


def order_sync_request(*, order_id: int, trigger: str, event: str = "updated", force: bool = False) -> bool:
    """Ask for a sync of ``order_id``'s latest state; enqueue a task unless one is already pending.

    Skipped and unlinked orders are left alone unless ``force`` (a manager's explicit push). Returns True
    when a task was enqueued by this call. The task is enqueued when the current transaction commits.
    """
    order = Order.objects.filter(pk=order_id).first()
    if order is None:
        return False
    sync = order_sync_state(order=order)
    if sync.state in (State.SKIPPED, State.UNLINKED) and not force:
        return False
    rows = OrderSync.objects.filter(pk=sync.pk)
    rows.update(change_seq=F("change_seq") + 1, pending_trigger=trigger[:160], pending_event=event[:40])
    if force:
        rows.filter(state__in=(State.SKIPPED, State.UNLINKED)).update(state=State.QUEUED, next_retry_at=None)
    return _enqueue_if_idle(sync.pk, order_id)


def _enqueue_if_idle(sync_pk: int, order_id: int) -> bool:
    """Compare-and-set ``task_pending`` and enqueue after commit; a syncing row re-queues itself."""
    claimed = (
        OrderSync.objects.filter(pk=sync_pk, task_pending=False)
        .exclude(state__in=(State.SYNCING, State.SKIPPED, State.UNLINKED))
        .update(task_pending=True, state=State.QUEUED, next_retry_at=None, updated_at=timezone.now())
    )
    if claimed:
        _enqueue(SYNC_TASK, order_id)
    return bool(claimed)


def _enqueue(func: str, *args: Any) -> None:
    transaction.on_commit(lambda: task_enqueue(func, *args, task_name=None))


# --- manager controls -------------------------------------------------------------------------------------


def order_push(*, order_id: int, trigger: str) -> bool:
    """Push now: a full sync of the order (an unlinked one gets a new lead). Not for skipped orders.

    Returns True when a sync was queued.
    """
    sync = order_sync_state(order=Order.objects.get(pk=order_id))
    if sync.state == State.SKIPPED:
        return False
    # Forget what we believe was pushed: the lead's fields and stage are sent again and its product links are
    # re-read from amoCRM (see ``_Run._sync``), so manual edits in amoCRM are put right.
    OrderSync.objects.filter(pk=sync.pk).update(
        attempts=0, pushed_lead_hash="", payload_hash="", pushed_pipeline_id=None, pushed_status_id=None
    )
    return order_sync_request(order_id=order_id, trigger=trigger, event="push", force=True)


def order_skip(*, order_id: int, trigger: str) -> None:
    """Never sync this order (until unskipped). The lead, if any, stays as it is in amoCRM."""
    sync = order_sync_state(order=Order.objects.get(pk=order_id))
    OrderSync.objects.filter(pk=sync.pk).update(state=State.SKIPPED, next_retry_at=None, task_pending=False)
    _log_control(order_id, "skip", trigger, sync)


def order_unskip(*, order_id: int, trigger: str) -> bool:
    """Sync this order again: leaves ``skipped`` and queues a push."""
    sync = order_sync_state(order=Order.objects.get(pk=order_id))
    if sync.state == State.SKIPPED:
        OrderSync.objects.filter(pk=sync.pk).update(
            state=State.NOT_SYNCED if not sync.lead_id else State.SYNCED
        )
    _log_control(order_id, "unskip", trigger, sync)
    return order_push(order_id=order_id, trigger=trigger)


def order_unlink(*, order_id: int, trigger: str) -> None:
    """Forget the lead link without touching amoCRM (state ``unlinked``); the sync log keeps the history."""
    sync = order_sync_state(order=Order.objects.get(pk=order_id))
    _log_control(order_id, "unlink", trigger, sync)
    OrderSync.objects.filter(pk=sync.pk).update(
        state=State.UNLINKED,
        lead_id=None,
        pushed_pipeline_id=None,
        pushed_status_id=None,
        payload_hash="",
        pushed_lead_hash="",
        pushed_products={},
        note_added=False,
        create_pending=False,
        next_retry_at=None,
        task_pending=False,
        lead_deleted_at=None,
        last_amo_modified=None,
    )


def order_link_to_lead(*, order_id: int, lead_id: int, trigger: str) -> OrderSync:
    """Link the order to an existing lead (checked in amoCRM), then queue a push making it match the order.

    Raises ``NotFound`` when amoCRM has no such lead, ``ValueError`` when another order already owns it.
    """
    order = Order.objects.get(pk=order_id)
    if OrderSync.objects.filter(lead_id=lead_id).exclude(order_id=order_id).exists():
        raise ValueError(f"Lead {lead_id} is already linked to another order.")
    if OrderSync.objects.filter(order=order, state=State.SYNCING).exists():
        raise ValueError("The order is being synced right now; try again in a moment.")
    client = get_client()
    lead = client.get_lead(int(lead_id))
    if not lead:
        raise NotFound(title=f"Lead {lead_id} does not exist in AmoCRM", status=204)
    products = _lead_products(client, int(lead_id))
    sync = order_sync_state(order=order)
    OrderSync.objects.filter(pk=sync.pk).update(
        state=State.SYNCED,
        lead_id=int(lead_id),
        pushed_pipeline_id=lead.get("pipeline_id"),
        pushed_status_id=lead.get("status_id"),
        payload_hash="",
        pushed_lead_hash="",
        pushed_products={str(k): v for k, v in products.items()},
        contact_id=None,  # so the push attaches our contact and company to this lead
        company_id=None,
        note_added=True,
        create_pending=False,
        lead_deleted_at=None,
        last_amo_modified=None,
        attempts=0,
        next_retry_at=None,
    )
    sync.refresh_from_db()
    _log_control(order_id, "link_to_lead", trigger, sync, calls=client.calls)
    order_sync_request(order_id=order_id, trigger=trigger, event="link")
    sync.refresh_from_db()
    return sync


def order_link_request(*, order_id: int, lead_id: int, trigger: str) -> None:
    """Ask for the order to be linked to lead ``lead_id``.

    Checks now what needs no amoCRM call and leaves the lookup in amoCRM to the cluster (``order_link_run``).
    Raises ``ValueError`` when another order owns the lead.
    """
    Order.objects.get(pk=order_id)
    if OrderSync.objects.filter(lead_id=lead_id).exclude(order_id=order_id).exists():
        raise ValueError(f"Lead {lead_id} is already linked to another order.")
    _enqueue("console.amocrm.tasks.order_link_task", order_id, lead_id, trigger)


def order_link_run(*, order_id: int, lead_id: int, trigger: str) -> str:
    """The background half of ``order_link_request``: link, or log why not (shown in the order's sync log)."""
    started = timezone.now()
    try:
        order_link_to_lead(order_id=order_id, lead_id=lead_id, trigger=trigger)
    except (AmoCRMError, ValueError) as exc:
        error = exc if isinstance(exc, AmoCRMError) else None
        SyncLog.objects.create(
            order_id=order_id,
            event="manager",
            action="link_to_lead",
            trigger=trigger[:160],
            started_at=started,
            outcome=Outcome.FAILED,
            lead_id=lead_id,
            error_title=redact(_title_of(exc) if error else str(exc))[:500],
            error_detail=_detail_of(exc),
            error_status=getattr(error, "status", None),
            request_id=(getattr(error, "request_id", "") or "")[:100],
            resolved=True,  # a refused link is an answer, not a failure waiting for a retry
        )
        return "failed"
    return "linked"


def orders_push_bulk(*, order_ids: Sequence[int], trigger: str) -> int:
    """Queue a bulk sync of many orders (batch calls), skipped ones left out; returns how many were queued."""
    ids = []
    for order in Order.objects.filter(pk__in=list(order_ids)):
        sync = order_sync_state(order=order)
        if sync.state == State.SKIPPED:
            continue
        taken = (
            OrderSync.objects.filter(pk=sync.pk)
            .exclude(state=State.SYNCING)
            .update(
                task_pending=True,
                state=State.QUEUED,
                next_retry_at=None,
                attempts=0,
                pending_trigger=trigger[:160],
                pending_event="bulk",
                change_seq=F("change_seq") + 1,
                updated_at=timezone.now(),
            )
        )
        if taken:
            ids.append(order.pk)
    _enqueue_bulk(ids, trigger)
    return len(ids)


def _enqueue_bulk(order_ids: list[int], trigger: str) -> None:
    """One bulk task per ``BULK_CHUNK`` orders, chunked by customer: the orders of one customer land in one
    task, so parallel bulk tasks do not wait on each other's per-customer contact lease."""
    by_customer = dict(Order.objects.filter(pk__in=order_ids).values_list("pk", "customer_id"))
    ordered = sorted(order_ids, key=lambda pk: (by_customer.get(pk, 0), pk))
    for start in range(0, len(ordered), BULK_CHUNK):
        _enqueue(BULK_TASK, ordered[start : start + BULK_CHUNK], trigger)


def order_sync_toggle(*, order_id: int, trigger: str) -> bool:
    """The order's "do not sync" flag changed: skip it, or unskip it (which queues a push).

    Returns True when the flag decided what happens (the caller queues nothing more).
    """
    order = Order.objects.get(pk=order_id)
    sync = order_sync_state(order=order)
    if order.sync_disabled and sync.state != State.SKIPPED:
        order_skip(order_id=order_id, trigger=trigger)
        return True
    if not order.sync_disabled and sync.state == State.SKIPPED:
        order_unskip(order_id=order_id, trigger=trigger)
        return True
    return False


def _log_control(order_id: int, action: str, trigger: str, sync: OrderSync, calls: int = 0) -> None:
    SyncLog.objects.create(
        order_id=order_id,
        event="manager",
        action=action,
        trigger=trigger[:160],
        outcome=Outcome.OK,
        http_calls=calls,
        lead_id=sync.lead_id,
        contact_id=sync.contact_id,
        company_id=sync.company_id,
    )


# --- schedules --------------------------------------------------------------------------------------------


def connection_is_healthy() -> bool:
    """True when the connection is connected (the circuit is closed)."""
    return AmoConnection.objects.filter(pk=1, state=AmoConnection.State.CONNECTED).exists()


def sync_due_retries() -> int:
    """Enqueue every order whose retry is due (and re-enqueue lost tasks and dead claims). Returns the count.

    Nothing is enqueued while the connection's circuit is open: the orders wait, then resume.
    """
    if not connection_is_healthy():
        return 0
    now = timezone.now()
    OrderSync.objects.filter(state=State.SYNCING, claimed_at__lt=now - CLAIM_TIMEOUT).update(
        state=State.QUEUED, task_pending=False, next_retry_at=now
    )
    OrderSync.objects.filter(
        state=State.QUEUED, task_pending=True, updated_at__lt=now - CLAIM_TIMEOUT
    ).update(task_pending=False, next_retry_at=now)
    due = OrderSync.objects.filter(state=State.QUEUED, task_pending=False).filter(
        Q(next_retry_at__lte=now) | Q(next_retry_at__isnull=True)
    )
    ids = list(due.values_list("order_id", flat=True)[:1000])
    taken = list(
        OrderSync.objects.filter(order_id__in=ids, task_pending=False, state=State.QUEUED).values_list(
            "order_id", flat=True
        )
    )
    OrderSync.objects.filter(order_id__in=taken).update(
        task_pending=True, pending_trigger="schedule", updated_at=now
    )
    if len(taken) == 1:
        _enqueue(SYNC_TASK, taken[0], "schedule")
    elif taken:
        _enqueue_bulk(taken, "schedule")
    return len(taken)


def prune_sync_log(*, older_than: timedelta = LOG_RETENTION) -> int:
    """Delete sync log rows older than ``older_than`` except unresolved failures; returns the count."""
    cutoff = timezone.now() - older_than
    old = SyncLog.objects.filter(started_at__lt=cutoff).exclude(outcome=Outcome.FAILED, resolved=False)
    deleted, _ = old.delete()
    return deleted


RETRY_SCHEDULE = "AmoCRM sync retries"
PRUNE_SCHEDULE = "AmoCRM sync log prune"


def sync_schedules_ensure() -> list[str]:
    """Create the django-q2 schedules of the sync engine once (idempotent): retries every minute, the sync
    log prune daily. Existing schedules keep their timing. Returns the names created now."""
    from django_q.models import Schedule

    specs = [
        (
            RETRY_SCHEDULE,
            "console.amocrm.tasks.sync_due_retries",
            {"schedule_type": Schedule.MINUTES, "minutes": 1},
        ),
        (PRUNE_SCHEDULE, "console.amocrm.tasks.prune_sync_log", {"schedule_type": Schedule.DAILY}),
    ]
    return [name for name, func, timing in specs if schedule_once(name=name, func=func, **timing)]


def retry_delay(attempt: int, *, jitter: float = JITTER) -> timedelta:
    """Delay before retry ``attempt`` (1-based): 30 s, 2 min, 10 min, 1 h, 6 h, 12 h, 24 h, +- jitter."""
    base = RETRY_DELAYS[min(max(attempt, 1), len(RETRY_DELAYS)) - 1]
    return timedelta(seconds=base * (1 + random.uniform(-jitter, jitter)))


# --- the engine -------------------------------------------------------------------------------------------


def get_client() -> Any:
    """The client of the installation's connection (its calls raise ``CircuitOpen`` when not connected)."""
    from console.amocrm.client import client_for_connection

    return client_for_connection()


def find_contact_id(client: Any, customer: Any) -> int | None:
    """The amoCRM contact of ``customer`` found with one search: by phone (last 10 digits, confirmed in the
    PHONE values, which matches the +7/8/bare spellings alike) when the customer has a phone, else by e-mail.

    One query per new customer (not one per phone spelling) keeps a bulk push under 0.5 calls per order. The
    phone is our customers' identity (unique in the customers table), so a contact that only shares the
    e-mail is deliberately not merged.
    """
    from console.amocrm.client import _cf_values, _phone_key

    key = _phone_key(customer.phone_normalized or customer.phone)
    if key:
        found = client.search("contacts", key)
        hits = [c for c in found if key in {_phone_key(v) for v in _cf_values(c, code="PHONE")}]
    elif customer.email:
        wanted = customer.email.strip().casefold()
        found = client.search("contacts", customer.email.strip())
        hits = [c for c in found if wanted in {v.strip().casefold() for v in _cf_values(c, code="EMAIL")}]
    else:
        hits = []
    return min(int(c["id"]) for c in hits) if hits else None


def order_sync_run(*, order_id: int, trigger: str = "") -> str | None:
    """Task body: sync one order now (if it can be claimed). Returns the outcome, or None when not claimed."""
    outcomes = orders_sync_run(order_ids=[order_id], trigger=trigger)
    return outcomes.get(order_id)


def orders_sync_run(*, order_ids: Iterable[int], trigger: str = "") -> dict[int, str]:
    """Task body: claim and sync many orders together (batch calls). Returns ``{order_id: outcome}``."""
    jobs = _claim(list(order_ids), trigger)
    if not jobs:
        return {}
    run = _Run(jobs)
    run.execute()
    outcomes = {job.order.pk: job.outcome for job in jobs}
    # amoCRM rejects a whole batch for one bad item: sync the orders a permanent batch error failed one by
    # one, so only the bad one ends failed (its batch attempt is not counted).
    alone = [job.order.pk for job in jobs if job.batch_failed]
    if alone:
        OrderSync.objects.filter(order_id__in=alone, attempts__gt=0).update(attempts=F("attempts") - 1)
        for order_id in alone:
            outcomes[order_id] = order_sync_run(order_id=order_id, trigger=trigger) or outcomes[order_id]
    return outcomes


@dataclass
class _Job:
    """One claimed order inside a run."""

    sync: OrderSync
    order: Order
    trigger: str
    event: str
    claimed_seq: int
    started: float = field(default_factory=time.monotonic)
    started_at: Any = field(default_factory=timezone.now)
    calls: int = 0
    action: str = ""
    outcome: str = ""
    done: bool = False
    lines: list = field(default_factory=list)
    products: dict[str, int] = field(default_factory=dict)
    contact_id: int | None = None
    company_id: int | None = None
    stage: Stage | None = None
    fields: dict = field(default_factory=dict)
    lead_hash: str = ""
    full_hash: str = ""
    new_lead: bool = False
    paused: bool = False
    batch_failed: bool = False
    new_contact: dict | None = None  # a contact to create together with the lead (POST /leads/complex)


def _claim(order_ids: list[int], trigger: str) -> list[_Job]:
    """Compare-and-set each order's row to ``syncing``; returns the jobs this worker owns."""
    now = timezone.now()
    jobs = []
    for order_id in order_ids:
        claimable = Q(state__in=CLAIMABLE) | Q(state=State.SYNCING, claimed_at__lt=now - CLAIM_TIMEOUT)
        taken = (
            OrderSync.objects.filter(claimable, order_id=order_id)
            .filter(Q(next_retry_at__isnull=True) | Q(next_retry_at__lte=now) | Q(task_pending=True))
            .update(
                state=State.SYNCING,
                task_pending=False,
                claimed_at=now,
                synced_seq=F("change_seq"),
                updated_at=now,
            )
        )
        if not taken:
            continue
        sync = OrderSync.objects.get(order_id=order_id)
        order = (
            Order.objects.select_related("customer", "customer__company")
            .prefetch_related("items__product")
            .get(pk=order_id)
        )
        jobs.append(
            _Job(
                sync=sync,
                order=order,
                trigger=sync.pending_trigger or trigger,
                event=sync.pending_event or "sync",
                claimed_seq=sync.synced_seq,
            )
        )
    return jobs


class _Busy(Exception):
    """Another worker holds the customer's lease: try this order again in a few seconds."""


class _Run:
    """One pass over a set of claimed orders, sharing batch calls between them."""

    def __init__(self, jobs: list[_Job]) -> None:
        self.jobs = jobs
        self.client: Any = None
        self.connection = AmoConnection.get_solo()
        self.field_ids = {k: int(v) for k, v in (self.connection.lead_field_ids or {}).items() if v}
        self.stage_map = {
            m.order_status: Stage(int(m.pipeline_id), int(m.status_id))
            for m in StageMapping.objects.filter(is_active=True)
        }
        self.elements: dict[str, int] = {}
        self.leased: list[int] = []

    # -- orchestration --

    def execute(self) -> None:
        self._prepare()
        pending = [j for j in self.jobs if not j.done]
        if pending:
            try:
                self.client = get_client()
                self._sync(pending)
            except AmoCRMError as exc:
                self._fail_all(exc)
            except Exception as exc:  # noqa: BLE001 -- any bug must still release the claims
                logger.exception("sync run crashed")
                self._fail_all(exc)
            finally:
                # A failed find-or-create gives its leases back: the next attempt searches again at once.
                CustomerAmoLink.objects.filter(pk__in=self.leased).update(locked_until=None)
        calls = self.client.calls if self.client is not None else 0
        working = [j for j in self.jobs if j.outcome not in (Outcome.NOOP, Outcome.SKIPPED)] or self.jobs
        for job in working:
            job.calls = calls // len(working) + (1 if job is working[0] and calls % len(working) else 0)
        for job in self.jobs:
            self._release(job)

    def _prepare(self) -> None:
        """Compute what each order should look like in amoCRM; finish no-ops and orders not to be pushed."""
        for job in self.jobs:
            order, sync = job.order, job.sync
            job.lines = list(order.items.all())
            deleted = not order.is_active
            if not sync.lead_id and (deleted or order.status == Order.Status.CANCELLED):
                job.outcome, job.action, job.done = Outcome.SKIPPED, "none", True
                continue
            if sync.lead_id and sync.lead_deleted_at:
                title = (
                    "The deal was deleted in AmoCRM: unlink the order to create a new deal, or link another"
                )
                _record_error(sync, None, title)
                job.outcome, job.action, job.done = Outcome.FAILED, "none", True
                continue
            job.stage = mapping.stage_for_status(
                order.status, self.stage_map, deleted=deleted, default_pipeline_id=self._default_pipeline()
            )
            job.fields = mapping.lead_fields(order, self.field_ids)
            job.products = mapping.order_products(job.lines)
            job.lead_hash = mapping.stable_hash(job.fields)
            contact_hash = mapping.stable_hash(mapping.contact_payload(order.customer))
            job.full_hash = mapping.stable_hash(
                {
                    "lead": job.lead_hash,
                    "stage": [job.stage.pipeline_id, job.stage.status_id] if job.stage else None,
                    "products": job.products,
                    "prices": {i.product.sku: str(i.product.unit_price) for i in job.lines},
                    "customer": order.customer_id,
                    "company": order.customer.company_id,
                    "contact": contact_hash,
                }
            )
            if sync.lead_id and sync.payload_hash == job.full_hash and not sync.create_pending:
                job.outcome, job.action, job.done = Outcome.NOOP, "none", True

    def _default_pipeline(self) -> int | None:
        from django.conf import settings

        value = getattr(settings, "AMO_PIPELINE_ID", "")
        return int(value) if str(value).isdigit() else None

    def _sync(self, jobs: list[_Job]) -> None:
        self._ensure_elements(jobs)
        jobs = self._resolve_customers(jobs)
        self._adopt_unknown_creates([j for j in jobs if not j.sync.lead_id and j.sync.create_pending])
        self._create_leads([j for j in jobs if not j.sync.lead_id])
        self._update_leads([j for j in jobs if j.sync.lead_id and not j.new_lead])
        for job in jobs:
            if job.event == "push" and job.sync.lead_id and not job.new_lead:
                current = _lead_products(self.client, job.sync.lead_id)
                job.sync.pushed_products = {str(k): v for k, v in current.items()}
        self._add_notes([j for j in jobs if j.sync.lead_id and not j.sync.note_added])
        self._sync_links(jobs)
        for job in jobs:
            if not job.done:
                self._succeed(job)

    # -- products catalog --

    def _ensure_elements(self, jobs: list[_Job]) -> None:
        """Make sure every SKU of these orders is a catalog element with the current name and price."""
        products = {}
        for job in jobs:
            for item in job.lines:
                products[item.product.sku] = item.product
        if not products:
            return
        known = {link.sku: link for link in CatalogElementLink.objects.filter(sku__in=list(products))}
        catalog_id = self.connection.products_catalog_id
        stale = []
        for sku, product in products.items():
            payload = mapping.catalog_product(product)
            link = known.get(sku)
            if link and link.payload_hash == mapping.stable_hash(payload) and link.catalog_id == catalog_id:
                self.elements[sku] = int(link.element_id)
            else:
                stale.append(payload)
        if not stale:
            return
        conn = self.connection
        if not (catalog_id and conn.product_sku_field_id and conn.product_price_field_id):
            found = self.client.ensure_products_catalog()
            catalog_id = conn.products_catalog_id = int(found["catalog_id"])
            conn.product_sku_field_id = int(found["sku_field_id"])
            conn.product_price_field_id = int(found["price_field_id"])
            AmoConnection.objects.filter(pk=conn.pk).update(
                products_catalog_id=catalog_id,
                product_sku_field_id=conn.product_sku_field_id,
                product_price_field_id=conn.product_price_field_id,
            )
        result = self.client.upsert_catalog_elements(
            catalog_id,
            stale,
            sku_field_id=conn.product_sku_field_id,
            price_field_id=conn.product_price_field_id,
        )
        ids = _element_ids(result, stale)
        for payload in stale:
            element_id = ids[payload["sku"]]
            self.elements[payload["sku"]] = element_id
            CatalogElementLink.objects.update_or_create(
                sku=payload["sku"],
                defaults={
                    "catalog_id": catalog_id,
                    "element_id": element_id,
                    "payload_hash": mapping.stable_hash(payload),
                },
            )

    # -- contacts and companies --

    def _resolve_customers(self, jobs: list[_Job]) -> list[_Job]:
        """Contact (and company) ids of each order's customer; orders of a customer busy elsewhere wait."""
        by_customer: dict[int, list[_Job]] = {}
        for job in jobs:
            by_customer.setdefault(job.order.customer_id, []).append(job)
        to_create: list[tuple[Any, CustomerAmoLink]] = []
        ready: list[_Job] = []
        for customer_jobs in by_customer.values():
            customer = customer_jobs[0].order.customer
            link, _ = CustomerAmoLink.objects.get_or_create(customer=customer)
            try:
                if not link.contact_id:
                    # A single customer may wait for the worker creating its contact; a bulk run moves on at
                    # once (its other customers need not wait) and retries that customer's orders shortly.
                    self._lease(link, wait=len(by_customer) == 1)
                if link.contact_id:
                    self._refresh_contact(customer, link)
                else:
                    contact_id = find_contact_id(self.client, customer)
                    if contact_id:
                        link.contact_id = contact_id
                        link.contact_hash = ""
                        link.save(update_fields=["contact_id", "contact_hash", "updated_at"])
                    elif self._complex_candidate(customer, customer_jobs):
                        customer_jobs[0].new_contact = mapping.contact_payload(customer)
                    else:
                        to_create.append((customer, link))
            except _Busy:
                for job in customer_jobs:
                    self._pause(job, BUSY_PAUSE, "The customer's contact is being created by another worker")
                continue
            ready.extend(customer_jobs)
        self._create_contacts(to_create)
        self._resolve_companies(ready)
        links = {
            link.customer_id: link for link in CustomerAmoLink.objects.filter(customer_id__in=by_customer)
        }
        for job in ready:
            link = links[job.order.customer_id]
            job.contact_id = link.contact_id
            job.company_id = link.company_id if job.order.customer.company_id else None
        return [j for j in ready if not j.done]

    @staticmethod
    def _complex_candidate(customer: Any, jobs: list[_Job]) -> bool:
        """A new individual customer with one order to create: contact and lead go in one complex call."""
        if customer.company_id or len(jobs) != 1:
            return False
        sync = jobs[0].sync
        return not sync.lead_id and not sync.create_pending

    def _lease(self, link: CustomerAmoLink, *, wait: bool = True) -> None:
        """Take the customer's find-or-create lease, or wait (up to ``LEASE_WAIT``, when ``wait``) for the
        worker holding it.

        Returns with the lease taken, or with ``link.contact_id`` filled by the other worker; raises ``_Busy``
        when the other worker is still at it after the wait.
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
                self.leased.append(link.pk)
            link.refresh_from_db()
            if taken or link.contact_id:
                return
            if time.monotonic() > deadline:
                raise _Busy
            time.sleep(0.2)

    def _refresh_contact(self, customer: Any, link: CustomerAmoLink) -> None:
        payload = mapping.contact_payload(customer)
        digest = mapping.stable_hash(payload)
        if link.contact_hash == digest:
            return
        if link.contact_hash:  # only push edits: a freshly found/created contact is already right
            self.client.update_contacts([{"id": int(link.contact_id), **payload}])
        link.contact_hash = digest
        link.save(update_fields=["contact_hash", "updated_at"])

    def _create_contacts(self, pending: list[tuple[Any, CustomerAmoLink]]) -> None:
        for start in range(0, len(pending), BATCH):
            chunk = pending[start : start + BATCH]
            payloads = [mapping.contact_payload(customer) for customer, _ in chunk]
            ids = _ids_of(self.client.create_contacts(payloads))
            for (_customer, link), contact_id, payload in zip(chunk, ids, payloads, strict=True):
                link.contact_id = contact_id
                link.contact_hash = mapping.stable_hash(payload)
                link.locked_until = None
                link.save(update_fields=["contact_id", "contact_hash", "locked_until", "updated_at"])

    def _resolve_companies(self, jobs: list[_Job]) -> None:
        """Business customers: the company found (INN, then name) or created, linked to the contact."""
        customers = {}
        for job in jobs:
            customer = job.order.customer
            if customer.company_id and customer.customer_type == "business":
                customers[customer.pk] = customer
        pending, links = [], []
        for customer in customers.values():
            link = CustomerAmoLink.objects.get(customer=customer)
            if link.company_id:
                continue
            company = customer.company
            found = self.client.find_company(inn=company.inn or None, name=company.name)
            company_id = _id_of(found)
            if company_id:
                link.company_id = company_id
                link.save(update_fields=["company_id", "updated_at"])
                links.append(link)
            else:
                pending.append((company, link))
        for start in range(0, len(pending), BATCH):
            chunk = pending[start : start + BATCH]
            payloads = [mapping.company_payload(company, self.field_ids) for company, _ in chunk]
            ids = _ids_of(self.client.create_companies(payloads))
            for (_company, link), company_id in zip(chunk, ids, strict=True):
                link.company_id = company_id
                link.save(update_fields=["company_id", "updated_at"])
                links.append(link)
        items = [
            {
                "entity_id": int(link.contact_id),
                "entity_type": "contacts",
                "to_entity_id": int(link.company_id),
                "to_entity_type": "companies",
            }
            for link in links
            if link.contact_id
        ]
        for start in range(0, len(items), BATCH):
            self.client.link_many("contacts", items[start : start + BATCH])

    # -- leads --

    def _adopt_unknown_creates(self, jobs: list[_Job]) -> None:
        """A create whose answer was lost: adopt the lead amoCRM has for the order number, if any."""
        field_id = self.field_ids.get("order_number")
        for job in jobs:
            number = job.order.number or str(job.order.pk)
            found = self.client.find_leads_by_custom_field(field_id, number) if field_id else []
            lead_id = _id_of(found[0]) if found else None
            if lead_id:
                job.sync.lead_id = lead_id
                job.sync.pushed_lead_hash = ""
                job.sync.pushed_pipeline_id = job.sync.pushed_status_id = None
                job.sync.pushed_products = {
                    str(k): v for k, v in _lead_products(self.client, lead_id).items()
                }
                job.sync.contact_id = job.contact_id
                job.sync.company_id = job.company_id
            job.sync.create_pending = False
            _save(
                job.sync,
                "lead_id",
                "pushed_lead_hash",
                "pushed_pipeline_id",
                "pushed_status_id",
                "pushed_products",
                "create_pending",
                "contact_id",
                "company_id",
            )

    def _create_leads(self, jobs: list[_Job]) -> None:
        self._create_leads_with_contacts([j for j in jobs if j.new_contact])
        jobs = [j for j in jobs if not j.new_contact]
        for start in range(0, len(jobs), BATCH):
            chunk = jobs[start : start + BATCH]
            payloads = [
                mapping.lead_payload(
                    j.order,
                    field_ids=self.field_ids,
                    stage=j.stage,
                    contact_id=j.contact_id,
                    company_id=j.company_id,
                )
                for j in chunk
            ]
            OrderSync.objects.filter(pk__in=[j.sync.pk for j in chunk]).update(create_pending=True)
            try:
                ids = _ids_of(self.client.create_leads(payloads))
            except UnknownOutcome as exc:
                self._store_created(chunk[: len(exc.created_ids)], exc.created_ids)
                raise
            self._store_created(chunk, ids)

    def _create_leads_with_contacts(self, jobs: list[_Job]) -> None:
        """Leads of new customers with their new contact in one call each batch (``/leads/complex``).

        An unknown outcome leaves ``create_pending`` set: the next attempt finds the contact by phone and the
        lead by its order number before creating anything.
        """
        for start in range(0, len(jobs), BATCH):
            chunk = jobs[start : start + BATCH]
            payloads = []
            for job in chunk:
                payload = mapping.lead_payload(job.order, field_ids=self.field_ids, stage=job.stage)
                payload["_embedded"]["contacts"] = [job.new_contact]
                payloads.append(payload)
            OrderSync.objects.filter(pk__in=[j.sync.pk for j in chunk]).update(create_pending=True)
            results = self.client.create_leads_complex(payloads)
            for job, result in zip(chunk, results, strict=True):
                job.contact_id = int(result["contact_id"])
                CustomerAmoLink.objects.filter(customer_id=job.order.customer_id).update(
                    contact_id=job.contact_id,
                    contact_hash=mapping.stable_hash(job.new_contact),
                    locked_until=None,
                    updated_at=timezone.now(),
                )
                self._store_created([job], [int(result["id"])])

    def _store_created(self, jobs: list[_Job], ids: Sequence[int]) -> None:
        for job, lead_id in zip(jobs, ids, strict=False):
            sync = job.sync
            sync.lead_id = int(lead_id)
            sync.create_pending = False
            sync.pushed_lead_hash = job.lead_hash
            sync.pushed_pipeline_id = job.stage.pipeline_id if job.stage else None
            sync.pushed_status_id = job.stage.status_id if job.stage else None
            sync.contact_id, sync.company_id = job.contact_id, job.company_id
            sync.pushed_products = {}
            sync.note_added = False
            job.new_lead = True
            job.action = "create"
            _save(
                sync,
                "lead_id",
                "create_pending",
                "pushed_lead_hash",
                "pushed_pipeline_id",
                "pushed_status_id",
                "contact_id",
                "company_id",
                "pushed_products",
                "note_added",
            )

    def _update_leads(self, jobs: list[_Job]) -> None:
        """PATCH what changed: our fields when their hash moved, the stage when it differs from the pushed."""
        patches = []
        for job in jobs:
            sync = job.sync
            fields = job.fields if sync.pushed_lead_hash != job.lead_hash else None
            stage = job.stage
            if stage and (sync.pushed_pipeline_id, sync.pushed_status_id) == (
                stage.pipeline_id,
                stage.status_id,
            ):
                stage = None
            if fields is None and stage is None:
                continue
            patches.append((job, mapping.lead_update_payload(sync.lead_id, fields=fields, stage=stage)))
        if len(patches) == 1:
            job, body = patches[0]
            self.client.update_lead(job.sync.lead_id, {k: v for k, v in body.items() if k != "id"})
        else:
            for start in range(0, len(patches), BATCH):
                self.client.update_leads([body for _, body in patches[start : start + BATCH]])
        for job, _body in patches:
            job.action = job.action or "update"
            job.sync.pushed_lead_hash = job.lead_hash
            if job.stage:
                job.sync.pushed_pipeline_id, job.sync.pushed_status_id = (
                    job.stage.pipeline_id,
                    job.stage.status_id,
                )
            _save(job.sync, "pushed_lead_hash", "pushed_pipeline_id", "pushed_status_id")

    def _add_notes(self, jobs: list[_Job]) -> None:
        for start in range(0, len(jobs), BATCH):
            chunk = jobs[start : start + BATCH]
            items = [mapping.note_payload(j.sync.lead_id, mapping.note_text(j.order, j.lines)) for j in chunk]
            # A note whose create was not confirmed may exist: a duplicate note is worse than a missing one.
            with contextlib.suppress(UnknownOutcome):
                self.client.add_notes("leads", items)
            OrderSync.objects.filter(pk__in=[j.sync.pk for j in chunk]).update(note_added=True)
            for job in chunk:
                job.sync.note_added = True

    # -- links --

    def _sync_links(self, jobs: list[_Job]) -> None:
        """Products (quantity, price id), contact and company links of each lead, unlinks first, 50 a call."""
        catalog_id = self.connection.products_catalog_id
        price_id = self.connection.product_price_field_id
        link_items, unlink_items, after = [], [], []
        for job in jobs:
            sync = job.sync
            lead = int(sync.lead_id)
            wanted = {self.elements[sku]: qty for sku, qty in job.products.items() if sku in self.elements}
            diff = mapping.products_diff({int(k): v for k, v in (sync.pushed_products or {}).items()}, wanted)
            for element_id in diff.unlink:
                unlink_items.append(
                    _mass(
                        lead,
                        {
                            "to_entity_id": element_id,
                            "to_entity_type": "catalog_elements",
                            "metadata": {"catalog_id": catalog_id},
                        },
                    )
                )
            for element_id, qty in diff.link.items():
                link_items.append(
                    _mass(
                        lead, mapping.product_link(element_id, qty, catalog_id=catalog_id, price_id=price_id)
                    )
                )
            for kind, old, new in (
                ("contacts", sync.contact_id, job.contact_id),
                ("companies", sync.company_id, job.company_id),
            ):
                if old == new:
                    continue
                if old:
                    unlink_items.append(_mass(lead, {"to_entity_id": int(old), "to_entity_type": kind}))
                if new:
                    meta = {"metadata": {"is_main": True}} if kind == "contacts" else {}
                    link_items.append(_mass(lead, {"to_entity_id": int(new), "to_entity_type": kind, **meta}))
            if not diff.empty or sync.contact_id != job.contact_id or sync.company_id != job.company_id:
                after.append((job, wanted))
        for start in range(0, len(unlink_items), BATCH):
            self.client.unlink_many("leads", unlink_items[start : start + BATCH])
        for start in range(0, len(link_items), BATCH):
            self.client.link_many("leads", link_items[start : start + BATCH])
        for job, wanted in after:
            job.sync.pushed_products = {str(k): v for k, v in wanted.items()}
            job.sync.contact_id, job.sync.company_id = job.contact_id, job.company_id
            job.action = job.action or "update"
            _save(job.sync, "pushed_products", "contact_id", "company_id")

    # -- outcomes --

    def _succeed(self, job: _Job) -> None:
        sync = job.sync
        sync.payload_hash = job.full_hash
        sync.last_synced_at = timezone.now()
        sync.attempts = 0
        sync.next_retry_at = None
        sync.last_error_title = sync.last_error_detail = sync.last_error_request_id = ""
        sync.last_error_status = None
        _save(
            sync,
            "payload_hash",
            "last_synced_at",
            "attempts",
            "next_retry_at",
            "last_error_title",
            "last_error_detail",
            "last_error_request_id",
            "last_error_status",
        )
        job.outcome = Outcome.OK if job.action else Outcome.NOOP
        job.action = job.action or "none"
        job.done = True
        SyncLog.objects.filter(
            order=job.order, outcome__in=(Outcome.FAILED, Outcome.RETRY), resolved=False
        ).update(resolved=True)

    def _pause(self, job: _Job, delay: timedelta, title: str, error: AmoCRMError | None = None) -> None:
        """Put the order back in the queue after ``delay`` without counting an attempt."""
        job.sync.next_retry_at = timezone.now() + delay
        _record_error(job.sync, error, title)
        job.outcome, job.done, job.action = Outcome.RETRY, True, job.action or "wait"
        job.paused = True

    def _fail_all(self, exc: Exception) -> None:
        """Apply a run-wide error to every order not finished yet."""
        for job in self.jobs:
            if job.done:
                continue
            if isinstance(exc, CircuitOpen):
                self._pause(job, CIRCUIT_PAUSE, exc.title, exc)
                continue
            attempts = job.sync.attempts + 1
            job.sync.attempts = attempts
            permanent = not isinstance(exc, AmoCRMError) or exc.permanent
            if isinstance(exc, UnknownOutcome):
                permanent = False
            if permanent or attempts >= MAX_ATTEMPTS:
                job.outcome = Outcome.FAILED
                job.sync.next_retry_at = None
                job.batch_failed = permanent and len(self.jobs) > 1
            else:
                job.outcome = Outcome.RETRY
                job.sync.next_retry_at = timezone.now() + retry_delay(attempts)
            _record_error(job.sync, exc if isinstance(exc, AmoCRMError) else None, _title_of(exc), exc)
            job.action = job.action or "sync"
            job.done = True

    def _release(self, job: _Job) -> None:
        """End the claim: write the final state, log the attempt, re-queue if the order changed meanwhile."""
        sync = job.sync
        if job.outcome == Outcome.FAILED:
            final = State.FAILED
        elif job.outcome == Outcome.RETRY:
            final = State.QUEUED
        elif job.outcome == Outcome.SKIPPED:
            final = State.NOT_SYNCED if not sync.lead_id else State.SYNCED
        else:
            final = State.SYNCED
        fields = {
            "state": final,
            "attempts": sync.attempts,
            "next_retry_at": sync.next_retry_at,
            "last_error_title": sync.last_error_title,
            "last_error_detail": sync.last_error_detail,
            "last_error_status": sync.last_error_status,
            "last_error_request_id": sync.last_error_request_id,
            "claimed_at": None,
            "pending_trigger": "",
            "pending_event": "",
            "updated_at": timezone.now(),
        }
        rows = OrderSync.objects.filter(pk=sync.pk, state=State.SYNCING)
        unchanged = rows.filter(change_seq=job.claimed_seq).update(**fields)
        if not unchanged:
            # The order changed while we pushed it: one more sync of the latest state, right away.
            fields.update(
                state=State.QUEUED,
                next_retry_at=None,
                task_pending=True,
                pending_trigger=job.trigger[:160],
                pending_event="updated",
            )
            if final == State.FAILED:
                fields.update(state=State.FAILED, task_pending=False)
            if rows.update(**fields) and fields["task_pending"]:
                _enqueue(SYNC_TASK, job.order.pk, job.trigger)
        self._log(job)

    def _log(self, job: _Job) -> None:
        sync = job.sync
        failed = job.outcome in (Outcome.FAILED, Outcome.RETRY)
        SyncLog.objects.create(
            order=job.order,
            event=job.event[:40],
            action=job.action[:40],
            trigger=job.trigger[:160],
            started_at=job.started_at,
            duration_ms=int((time.monotonic() - job.started) * 1000),
            outcome=job.outcome,
            http_calls=job.calls,
            lead_id=sync.lead_id,
            contact_id=sync.contact_id or job.contact_id,
            company_id=sync.company_id or job.company_id,
            error_title=sync.last_error_title if failed else "",
            error_detail=sync.last_error_detail if failed else "",
            error_status=sync.last_error_status if failed else None,
            request_id=sync.last_error_request_id if failed else "",
        )


# --- helpers ----------------------------------------------------------------------------------------------


def _save(sync: OrderSync, *names: str) -> None:
    """Write only ``names`` of ``sync`` (never a full save: receivers update other columns concurrently)."""
    OrderSync.objects.filter(pk=sync.pk).update(**{name: getattr(sync, name) for name in names})


def _record_error(
    sync: OrderSync, error: AmoCRMError | None, title: str, exc: Exception | None = None
) -> None:
    sync.last_error_title = redact(title)[:500]
    sync.last_error_detail = _detail_of(error or exc)
    sync.last_error_status = getattr(error, "status", None)
    sync.last_error_request_id = (getattr(error, "request_id", "") or "")[:100]


def _title_of(exc: Exception) -> str:
    if isinstance(exc, AmoCRMError):
        return exc.title
    return f"Internal error: {type(exc).__name__}"


def _detail_of(exc: Exception | None) -> str:
    """Readable, redacted detail of an error: the request, the validation errors, the response excerpt."""
    if exc is None:
        return ""
    if not isinstance(exc, AmoCRMError):
        return redact(str(exc))[:2000]
    from console.amocrm.errors import describe_validation_error

    lines = []
    if exc.method or exc.path:
        lines.append(f"{exc.method} {exc.path} -> {exc.status or 'no answer'}".strip())
    lines += [describe_validation_error(item) for item in exc.validation_errors]
    if exc.excerpt:
        lines.append(exc.excerpt)
    if str(exc) and str(exc) != exc.title:
        lines.append(str(exc))
    return redact("\n".join(lines))[:4000]


def _mass(lead_id: int, item: dict) -> dict:
    return {"entity_id": int(lead_id), "entity_type": "leads", **item}


def _id_of(value: Any) -> int | None:
    """An entity id from whatever the client returned: an int, a dict with ``id``, or None."""
    if value is None or value == []:
        return None
    if isinstance(value, dict):
        value = value.get("id")
    if isinstance(value, (list, tuple)):
        return _id_of(value[0])
    return int(value) if value else None


def _ids_of(values: Any) -> list[int]:
    if isinstance(values, dict):
        values = (values.get("_embedded") or {}).get("leads") or values.get("ids") or []
    return [int(_id_of(v)) for v in values]


def _element_ids(result: Any, payloads: list[dict]) -> dict[str, int]:
    """``{sku: element_id}`` from ``upsert_catalog_elements``' answer (a dict by SKU or a list in order)."""
    if isinstance(result, dict):
        return {str(k): int(_id_of(v)) for k, v in result.items()}
    return {p["sku"]: int(_id_of(v)) for p, v in zip(payloads, result, strict=True)}


def _lead_products(client: Any, lead_id: int) -> dict[int, int]:
    """``{element_id: quantity}`` currently linked to the lead in amoCRM."""
    result = {}
    for link in client.get_links("leads", int(lead_id)) or []:
        if link.get("to_entity_type") == "catalog_elements":
            result[int(link["to_entity_id"])] = int((link.get("metadata") or {}).get("quantity") or 1)
    return result
