"""The webhook inbox: every authenticated delivery stored raw, then processed in the cluster.

- :func:`inbox_store` (the intake view calls it): one row per delivery; a delivery with the same items as an
  earlier one is stored as ``duplicate`` and not processed. The first delivery of a burst enqueues one
  processing task when it commits; deliveries that arrive while it is queued or running ride along (the
  task's lease, kind ``webhooks`` in ``console.amocrm.leases``, says whether one is: the one claim shape of
  all background work, with its one clock).
  One task at a time keeps the cluster's share of the CPU and of SQLite's single write lock small while
  amoCRM waits for answers, and spares the broker a task per delivery.
- :func:`inbox_process_pending` (that task): the pending deliveries, oldest first, each by
  :func:`inbox_process`: each item of the body by its event's handler (``inbound.events``); the outcome, the
  reasons (``console.amocrm.reasons``) and one result per item land on the row. A row is claimed first, so
  two workers never both process it. The work of one delivery is bounded: at most ``MAX_ITEMS`` items, and
  amoCRM is read at most once per deal per delivery. An attempt that died with its worker (killed, timed out)
  is counted, and after ``LOST_ATTEMPTS`` of them the row fails with that reason instead of stalling the
  inbox. After ``PROCESS_SLICE`` rows or ``PROCESS_SECONDS`` the task hands over to a successor, so it never
  nears the cluster's task timeout, and passes its lease on; the task renews its lease as it goes, so a
  running task is never taken for a lost one. :func:`inbox_replay` processes a row again on demand.
- :func:`inbox_requeue_pending` (every minute) and :func:`inbox_prune` (daily) keep it tidy.

Webhook events amoCRM sends: https://www.amocrm.ru/developers/content/crm_platform/webhooks-format
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from console.amocrm import queue
from console.amocrm.api.errors import AmoCRMError, CircuitOpen
from console.amocrm.api.redaction import redact
from console.amocrm.inbound import rules
from console.amocrm.inbound.events import item_process
from console.amocrm.inbound.formparse import FormParseError, parse_form
from console.amocrm.inbound.items import WebhookItem, as_int, fingerprint, webhook_items
from console.amocrm.inbound.rules import ItemResult
from console.amocrm.leases import (
    WEBHOOKS,
    lease_live,
    leases_release,
    leases_renew,
    leases_take,
    new_holder,
    renew_due,
)
from console.amocrm.models import SyncLog, WebhookCounter, WebhookInbox
from console.amocrm.outbound.retries import max_attempts
from console.amocrm.reasons import Code, Reason, has, reason

logger = logging.getLogger(__name__)

Outcome = WebhookInbox.Outcome
PROCESS_TASK = "console.amocrm.tasks.webhook_process_pending_task"
REPLAY_TASK = "console.amocrm.tasks.webhook_replay_task"
# The key of the processing task's lease (kind ``WEBHOOKS``): held while a task is queued or running.
PROCESSING_SLOT = 0
PROCESS_SLICE = 500  # rows per task (about 10 s of work); then a successor takes over
PROCESS_SECONDS = 20  # nor longer than this (the cluster's task timeout is 120 s)
MAX_ITEMS = 250  # items of one delivery processed; the rest are named in the row's reasons
LOST_ATTEMPTS = 3  # attempts that died (task killed or timed out) before the row fails
# A row amoCRM could not answer for (5xx, timeout, 429, a token being renewed) is held pending and tried again
# by the every-minute requeue (``inbox_requeue_pending``); after ``AMOCRM_MAX_ATTEMPTS`` attempts
# (``retries.max_attempts``, as for an order) it fails (support sees it and may replay it).
INBOX_RETENTION = timedelta(days=90)
INBOX_PRUNE_BATCH = 500
# Outcome of a body with several items: the most telling item outcome wins.
_OUTCOME_RANK = [
    Outcome.FAILED,
    Outcome.APPLIED,
    Outcome.STALE,
    Outcome.ECHO,
    Outcome.IGNORED,
    Outcome.INVALID,
]


def _processing_take(holder: str) -> bool:
    """Take the processing task's lease for ``holder`` unless a live task holds it; True when it did.

    During a burst the lease is held and this costs one read; two takers at once are decided by the lease's
    unique key."""
    if lease_live(kind=WEBHOOKS, key=PROCESSING_SLOT):
        return False
    return PROCESSING_SLOT in leases_take(kind=WEBHOOKS, keys=[PROCESSING_SLOT], holder=holder)


def _processing_options(holder: str) -> dict[str, Any]:
    # save=False: the outcomes live on the inbox rows; no django-q result row per task.
    return {"holder": holder, "group": "amocrm-webhooks", "save": False}


def counter_increment(*, key: str, by: int = 1) -> None:
    """Add ``by`` to the counter ``key`` with one atomic UPDATE (the row is created on first use)."""
    if WebhookCounter.objects.filter(key=key).update(value=F("value") + by, updated_at=timezone.now()):
        return
    try:
        with transaction.atomic():
            WebhookCounter.objects.create(key=key, value=by)
    except IntegrityError:  # created by a concurrent request in between
        WebhookCounter.objects.filter(key=key).update(value=F("value") + by, updated_at=timezone.now())


def inbox_store(
    *,
    body: bytes,
    headers: dict[str, str],
    remote_addr: str | None,
    account: dict[str, Any],
    items: list[WebhookItem],
    invalid_reason: Reason | None = None,
) -> WebhookInbox:
    """Store one authenticated delivery and enqueue its processing after commit.

    ``invalid_reason`` stores the row as ``invalid`` (processed, nothing enqueued). A delivery whose
    fingerprint was seen before is stored as ``duplicate`` of the first row and not enqueued.
    """
    now = timezone.now()
    row = WebhookInbox(
        received_at=now,
        body=body,
        headers=headers,
        remote_addr=remote_addr,
        account_id=as_int(account.get("id")),
        account_subdomain=str(account.get("subdomain") or "")[:255],
        events=", ".join(dict.fromkeys(f"{i.entity}[{i.action}]" for i in items))[:255],
        entity_ids=",".join(dict.fromkeys(str(i.id) for i in items if i.id is not None))[:255],
        item_count=len(items),
    )
    if invalid_reason:
        row.outcome, row.reasons, row.processed_at = Outcome.INVALID, [invalid_reason], now
        row.save()
        return row
    row.fingerprint = row.dedup_key = fingerprint(account, items)
    try:
        with transaction.atomic():
            row.save()
            holder = new_holder()
            if _processing_take(holder):
                queue.enqueue_on_commit(PROCESS_TASK, **_processing_options(holder))
    except IntegrityError:
        row.pk, row.dedup_key = None, None
        row.duplicate_of = WebhookInbox.objects.filter(dedup_key=row.fingerprint).first()
        row.outcome, row.processed_at = Outcome.DUPLICATE, now
        row.reasons = [reason(Code.DUPLICATE_OF, id=row.duplicate_of_id)]
        row.save()
    return row


def _summarise(results: list[ItemResult]) -> tuple[str, list[Reason], int | None]:
    if not results:
        return Outcome.INVALID, [reason(Code.NO_ITEMS)], None
    best = min(results, key=lambda r: _OUTCOME_RANK.index(r.outcome) if r.outcome in _OUTCOME_RANK else 99)
    touched = next((r.order_id for r in results if r.outcome == Outcome.APPLIED and r.order_id), None)
    order_id = touched or next((r.order_id for r in results if r.order_id), None)
    if len(results) == 1:
        return best.outcome, best.reasons, order_id
    counts: dict[str, int] = {}
    for r in results:
        counts[r.outcome] = counts.get(r.outcome, 0) + 1
    return best.outcome, [reason(Code.COUNTS, counts=counts)], order_id


def _log_applied(row: WebhookInbox, results: list[ItemResult], started: float) -> None:
    for r in results:
        if r.outcome == Outcome.APPLIED and r.order_id and r.action != "delete":
            SyncLog.objects.create(
                order_id=r.order_id,
                event="webhook",
                action=f"amocrm_{r.action}"[:40],
                trigger="webhook",
                duration_ms=int((time.monotonic() - started) * 1000),
                outcome=SyncLog.Outcome.OK,
                http_calls=r.http_calls,
                lead_id=r.id,
            )


def _claim(row: WebhookInbox, *, replay: bool) -> bool:
    """Count this attempt on the row; without ``replay`` only while it is pending and nobody else took it.

    A pending row already attempted whose reasons name no wait was left by an attempt that died (its worker
    killed or timed out before any outcome was written): counted in an ``attempts_lost`` reason, and at
    ``LOST_ATTEMPTS`` the row fails with it instead of being taken again."""
    rows = WebhookInbox.objects.filter(pk=row.pk)
    if replay:
        return bool(rows.update(attempts=F("attempts") + 1, reasons=[]))
    rows = rows.filter(outcome=Outcome.PENDING, attempts=row.attempts)
    lost = _lost_attempts(row)
    if lost >= LOST_ATTEMPTS:
        rows.update(
            outcome=Outcome.FAILED,
            reasons=[reason(Code.ATTEMPTS_LOST, attempts=lost)],
            processed_at=timezone.now(),
        )
        return False
    mark = [reason(Code.ATTEMPTS_LOST, attempts=lost)] if lost else []
    return bool(rows.update(attempts=F("attempts") + 1, reasons=mark))


def _lost_attempts(row: WebhookInbox) -> int:
    """How many attempts at a pending row died: counted from the mark the previous claim left."""
    if not row.attempts:
        return 0
    mark = row.reasons or []
    if has(mark, Code.WAITING_CIRCUIT) or has(mark, Code.WAITING_NO_ANSWER):
        return 0
    before = next((r["params"].get("attempts", 0) for r in mark if r.get("code") == Code.ATTEMPTS_LOST), 0)
    return int(before) + 1


class _OneReadPerDeal:
    """The amoCRM client for one delivery: a deal re-read once is not read again for a later item."""

    def __init__(self, factory: Callable[[], Any] | None) -> None:
        self._factory, self._client, self._leads = factory, None, {}

    def __call__(self) -> _OneReadPerDeal:
        return self

    def get_lead(self, lead_id: int, with_: tuple[str, ...] = ()) -> Any:
        """A read with ``with_`` (embedded contacts, elements) also serves the plain reads after it."""
        if with_:
            key = ("lead", lead_id, *with_)
            if key not in self._leads:
                self._leads[key] = self._leads[lead_id] = self._real().get_lead(lead_id, with_=with_)
            return self._leads[key]
        if lead_id not in self._leads:
            self._leads[lead_id] = self._real().get_lead(lead_id)
        return self._leads[lead_id]

    def get_contact(self, contact_id: int) -> Any:
        return self._once(("contact", contact_id), self._real().get_contact)

    def get_company(self, company_id: int) -> Any:
        return self._once(("company", company_id), self._real().get_company)

    def _once(self, key: tuple[str, int], read: Callable[[int], Any]) -> Any:
        if key not in self._leads:
            self._leads[key] = read(key[1])
        return self._leads[key]

    def _real(self) -> Any:
        if self._client is None:
            self._client = self._factory() if self._factory else rules.account_client()
        return self._client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real(), name)


def _process_items(
    body: bytes, client_factory: Callable[[], Any] | None
) -> tuple[list[ItemResult], list[Reason]]:
    """Each item by its handler, at most ``MAX_ITEMS`` of them; the reasons of those left out."""
    items = webhook_items(parse_form(body))
    reads = _OneReadPerDeal(client_factory)
    results = [item_process(item, client_factory=reads) for item in items[:MAX_ITEMS]]
    if len(items) > MAX_ITEMS:
        return results, [reason(Code.ITEMS_CAPPED, count=len(items), limit=MAX_ITEMS)]
    return results, []


def inbox_process(
    *, inbox_id: int, replay: bool = False, client_factory: Callable[[], Any] | None = None
) -> WebhookInbox:
    """Process one stored delivery and record its outcome; a row is processed once, by one worker.

    ``replay=True`` processes the row again whatever it holds (a duplicate, invalid or failed row too); the
    rules make a replay of an applied row an ``echo``. An unexpected error ends as ``failed`` with the
    (redacted) reason, never as an exception for the cluster. While nothing may be sent to amoCRM (the
    connection paused, blocked, unpaid, ...: ``CircuitOpen``) or while amoCRM cannot answer (a transient
    error) a row that needs amoCRM stays ``pending`` with the reason, for the reconciliation to requeue
    later; a transient error only ``retries.max_attempts()`` times.
    """
    row = WebhookInbox.objects.get(pk=inbox_id)
    if (row.outcome != Outcome.PENDING and not replay) or not _claim(row, replay=replay):
        row.refresh_from_db()
        return row
    started = time.monotonic()
    results: list[ItemResult] = []
    try:
        results, left_out = _process_items(bytes(row.body), client_factory)
        outcome, reasons, order_id = _summarise(results)
        reasons = [*reasons, *left_out]
    except FormParseError as exc:
        outcome, reasons, order_id = Outcome.INVALID, [reason(Code.UNPARSEABLE, error=str(exc))], None
    except Exception as exc:
        if isinstance(exc, AmoCRMError) and _may_wait(row, exc):
            return _hold(row, results, started, exc)
        logger.exception("webhook #%s failed", inbox_id)
        outcome = Outcome.FAILED
        reasons = [reason(Code.FAILED, error=redact(f"{type(exc).__name__}: {exc}")[:2000])]
        order_id = next((r.order_id for r in results if r.order_id), None)
    with transaction.atomic():
        _log_applied(row, results, started)
        WebhookInbox.objects.filter(pk=inbox_id).update(
            outcome=outcome,
            reasons=reasons,
            results=[r.as_dict() for r in results],
            order_id=order_id,
            processed_at=timezone.now(),
        )
    row.refresh_from_db()
    return row


def _may_wait(row: WebhookInbox, exc: AmoCRMError) -> bool:
    """amoCRM may not be called now, or did not answer and the row has attempts left (``max_attempts``)."""
    return isinstance(exc, CircuitOpen) or (not exc.permanent and row.attempts + 1 < max_attempts())


def _hold(row: WebhookInbox, results: list[ItemResult], started: float, exc: AmoCRMError) -> WebhookInbox:
    """Leave the row pending: amoCRM may not be called now, or did not answer. Items applied before stay
    logged; processed again later they are echoes."""
    if isinstance(exc, CircuitOpen):
        why = reason(Code.WAITING_CIRCUIT, state=exc.state, error=redact(exc.title)[:500])
    else:
        why = reason(Code.WAITING_NO_ANSWER, error=redact(f"{type(exc).__name__}: {exc.title}")[:500])
    with transaction.atomic():
        _log_applied(row, results, started)
        WebhookInbox.objects.filter(pk=row.pk).update(outcome=Outcome.PENDING, reasons=[why])
    row.refresh_from_db()
    return row


def _pending_ids(limit: int, held: set[int] | frozenset[int] = frozenset()) -> list[int]:
    pending = WebhookInbox.objects.filter(outcome=Outcome.PENDING).exclude(id__in=held).order_by("id")
    return list(pending.values_list("id", flat=True)[:limit])


def inbox_process_pending(*, limit: int = PROCESS_SLICE, holder: str = "") -> int:
    """The processing task: up to ``limit`` pending deliveries (and ``PROCESS_SECONDS``), oldest first;
    returns how many it processed. ``holder`` names the lease the task was queued with.

    With more waiting it queues its successor with its lease and ends. With none left it gives the lease back,
    then looks once more: a delivery stored in between either found the lease free (and queued a new task)
    or is found here (and this task takes the lease back and goes on). Rows that stay pending because amoCRM
    may not be called now are not taken again by this task (the reconciliation requeues them).
    """
    holder = holder or new_holder()
    done = 0
    held: set[int] = set()
    until = time.monotonic() + PROCESS_SECONDS
    while True:
        ids = _pending_ids(min(100, limit - done), held)
        if not ids:
            leases_release(holder=holder, kinds=[WEBHOOKS])
            if not _pending_ids(1, held) or not _processing_take(holder):
                return done
            continue
        renewed = None
        for inbox_id in ids:
            if renewed is None or renew_due(time.monotonic() - renewed):
                leases_renew(holder=holder)
                renewed = time.monotonic()
            if inbox_process(inbox_id=inbox_id).outcome == Outcome.PENDING:
                held.add(inbox_id)
            done += 1
            if done >= limit or time.monotonic() >= until:
                queue.enqueue(PROCESS_TASK, **_processing_options(holder))
                return done


def inbox_requeue_pending(*, older_than: timedelta | None = None) -> int:
    """Queue a processing task when deliveries are still ``pending`` after ``older_than`` (by default
    ``AMOCRM_LEASE_SECONDS``) and no processing task holds its lease (its task was lost with its broker or a
    killed worker, or the rows wait for amoCRM); returns how many wait. Each row is processed once however
    many tasks reach it. Runs every minute (``tasks.sync_due_retries``)."""
    cutoff = timezone.now() - (older_than or timedelta(seconds=settings.AMOCRM_LEASE_SECONDS))
    waiting = WebhookInbox.objects.filter(outcome=Outcome.PENDING, received_at__lt=cutoff).count()
    holder = new_holder()
    if waiting and _processing_take(holder):
        queue.enqueue(PROCESS_TASK, **_processing_options(holder))
    return waiting


def inbox_replay(*, inbox_id: int) -> WebhookInbox:
    """Process a stored delivery again now, whatever it holds (the replay task)."""
    return inbox_process(inbox_id=inbox_id, replay=True)


def inbox_replay_request(*, inbox_id: int) -> None:
    """Support's "replay" button: process the delivery again in the cluster (it may read amoCRM)."""
    queue.enqueue_on_commit(REPLAY_TASK, inbox_id, group="amocrm-webhooks", save=False)


def inbox_prune(*, older_than: timedelta = INBOX_RETENTION, batch: int = INBOX_PRUNE_BATCH) -> int:
    """Delete deliveries received more than ``older_than`` ago, except ``failed`` ones (support has not dealt
    with them) and ``pending`` ones; returns how many. Each batch of ``batch`` rows is its own short write,
    so deliveries arriving meanwhile wait for one batch at most, not for the whole prune."""
    cutoff = timezone.now() - older_than
    old = WebhookInbox.objects.filter(received_at__lt=cutoff).exclude(
        outcome__in=(Outcome.FAILED, Outcome.PENDING)
    )
    deleted = 0
    while ids := list(old.order_by("received_at", "id").values_list("id", flat=True)[:batch]):
        count, _ = WebhookInbox.objects.filter(pk__in=ids).delete()
        deleted += count
    return deleted
