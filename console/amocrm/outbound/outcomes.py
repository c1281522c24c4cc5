"""How a job ends: synced, paused (back in the queue, no attempt counted), retried later or failed; then the
claim is released and the attempt written to the sync log.

Releasing compares the order's change counter with the one the sync started from: a change made meanwhile
queues one more sync of the latest state right away.
"""

from __future__ import annotations

import time
from datetime import timedelta

from django.utils import timezone

from console.amocrm import queue
from console.amocrm.api.errors import AmoCRMError, CircuitOpen, UnknownOutcome, error_title
from console.amocrm.leases import ORDER, lease_exists, leases_release
from console.amocrm.models import OrderSync, SyncLog
from console.amocrm.outbound.job import Job, sync_record_error, sync_save
from console.amocrm.outbound.queueing import SYNC_TASK
from console.amocrm.outbound.retries import CIRCUIT_PAUSE, max_attempts, next_retry_at

State = OrderSync.State
Outcome = SyncLog.Outcome


def job_succeed(job: Job) -> None:
    """The deal matches the order: remember the pushed hash, clear errors and resolve earlier failures."""
    sync = job.sync
    sync.payload_hash = job.target.full_hash
    sync.pushed_payment = job.target.payment
    if sync.pushed_status_id:  # the deal sits at the stage we pushed (what the console shows as its stage)
        sync.amo_pipeline_id, sync.amo_status_id = sync.pushed_pipeline_id, sync.pushed_status_id
        sync.amo_seen_at = timezone.now()
    sync.last_synced_at = timezone.now()
    sync.attempts = 0
    sync.next_retry_at = None
    sync.error_clear()
    sync_save(
        sync,
        "payload_hash",
        "pushed_payment",
        "amo_pipeline_id",
        "amo_status_id",
        "amo_seen_at",
        "last_synced_at",
        "attempts",
        "next_retry_at",
        "error_kind",
        "error",
    )
    job.finish(Outcome.OK if job.action else Outcome.NOOP, "none")
    SyncLog.objects.filter(
        order=job.order, outcome__in=(Outcome.FAILED, Outcome.RETRY), resolved=False
    ).update(resolved=True)


def job_pause(
    job: Job, delay: timedelta, title: str, error: AmoCRMError | None = None, kind: str = ""
) -> None:
    """Put the order back in the queue after ``delay`` without counting an attempt."""
    job.sync.next_retry_at = timezone.now() + delay
    sync_record_error(job.sync, error, title, kind=kind)
    job.finish(Outcome.RETRY, "wait")


def jobs_fail(jobs: list[Job], exc: Exception) -> None:
    """Apply a run-wide error to every job not finished yet: an open circuit pauses, a transient error
    retries on the schedule, a permanent one (or the last attempt) fails."""
    for job in jobs:
        if job.done:
            continue
        if isinstance(exc, CircuitOpen):
            job_pause(job, CIRCUIT_PAUSE, exc.title, exc)
            continue
        attempts = job.sync.attempts = job.sync.attempts + 1
        permanent = not isinstance(exc, AmoCRMError) or exc.permanent
        if isinstance(exc, UnknownOutcome):
            permanent = False
        if permanent or attempts >= max_attempts():
            job.sync.next_retry_at = None
            job.batch_failed = permanent and len(jobs) > 1
            job.finish(Outcome.FAILED, "sync")
        else:
            job.sync.next_retry_at = next_retry_at(attempts, unconfirmed=isinstance(exc, UnknownOutcome))
            job.finish(Outcome.RETRY, "sync")
        sync_record_error(job.sync, exc if isinstance(exc, AmoCRMError) else None, error_title(exc), exc)


def _final_state(job: Job) -> str:
    if job.outcome == Outcome.FAILED:
        return State.FAILED
    if job.outcome == Outcome.RETRY:
        return State.QUEUED
    if job.outcome == Outcome.SKIPPED:
        return State.NOT_SYNCED if not job.sync.lead_id else State.SYNCED
    return State.SYNCED


def job_release(job: Job) -> None:
    """End the claim: write the final state, log the attempt, re-queue if the order changed meanwhile.

    A claim whose lease was taken over meanwhile (no heartbeat for too long) is no longer this run's: its
    row is left to the new holder, only the attempt is logged. The order's lease is given back."""
    sync = job.sync
    final = _final_state(job)
    fields = {
        "state": final,
        "attempts": sync.attempts,
        "next_retry_at": sync.next_retry_at,
        "error_kind": sync.error_kind,
        "error": sync.error,
        "pending_trigger": "",
        "pending_event": "",
        "updated_at": timezone.now(),
    }
    rows = OrderSync.objects.filter(pk=sync.pk, state=State.SYNCING).filter(
        lease_exists(ORDER, "order_id", holder=job.holder)
    )
    unchanged = rows.filter(change_seq=job.claimed_seq).update(**fields)
    again = False
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
        again = bool(rows.update(**fields)) and fields["task_pending"]
    leases_release(holder=job.holder, kinds=[ORDER], keys=[job.order.pk])
    if again:
        queue.enqueue_on_commit(SYNC_TASK, job.order.pk, job.trigger)
    _log(job)


def _log(job: Job) -> None:
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
        error_kind=sync.last_error_kind if failed else "",
        run=job.holder[:32],
    )
