"""Reconciliation: read the leads amoCRM changed since a watermark and apply them by the lead rules.

Webhooks get lost; this run makes a lost one cost at most one interval. Each run lists leads updated since the
stored watermark (minus an overlap, for leads changed within the same second as the last one seen), feeds
every lead linked to an order through :func:`console.amocrm.inbound.rules.lead_observe` as an API
observation, and moves the watermark to the newest ``updated_at`` seen (amoCRM's clock, never ours).
Each run writes one ``SyncLog`` row (trigger ``schedule`` or whoever ran it) and one row per order it changed.

A lead no order owns, created since the watermark (not on the first run, which looks a day back), becomes a
draft order (``inbound.drafts``): the list is read with each lead's contacts and catalog elements, so only a
contact not linked to a customer yet costs a read of its own.

A lead whose stored ``OrderSync.last_amo_modified`` lies in the future (written from a forged or clock-skewed
delivery before the rules checked times) is also re-read by id, changed since the watermark or not: the API
read is the truth about the deal's stage, and the rules replace that time, so each such lead is read once.

The deals of orders with an open task have their tasks read too (one request), for a task webhook that was
lost (``inbound.tasks``).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from console.amocrm.account.access import account_client
from console.amocrm.api.errors import AmoCRMError, error_kind
from console.amocrm.api.redaction import redact
from console.amocrm.api.transport import PAGE_LIMIT
from console.amocrm.inbound.drafts import LEAD_WITH, lead_draft_from_api
from console.amocrm.inbound.loss import loss_reason_record
from console.amocrm.inbound.payments import combine, payment_from_api, payment_observe
from console.amocrm.inbound.rules import ItemResult, LeadObservation, Outcome, lead_observe, trust_horizon
from console.amocrm.inbound.tasks import task_observe
from console.amocrm.models import OrderSync, OrderTask, SyncLog, WebhookCounter

logger = logging.getLogger(__name__)

WATERMARK_KEY = "reconcile:watermark"
OVERLAP_SECONDS = 60
FIRST_RUN_LOOKBACK_SECONDS = 24 * 3600
REPAIR_LIMIT = 50  # leads with a future last_amo_modified re-read per run (normally none)


@dataclass
class ReconcileReport:
    """What one run saw and did: outcome counts over linked leads, calls, the watermark before and after."""

    since: int | None = None
    watermark: int | None = None
    leads_seen: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    http_calls: int = 0
    error: str = ""

    def add(self, result: ItemResult) -> None:
        self.counts[result.outcome] = self.counts.get(result.outcome, 0) + 1
        self.http_calls += result.http_calls

    def summary(self) -> str:
        counts = ", ".join(f"{n} {o}" for o, n in sorted(self.counts.items())) or "no linked leads changed"
        return f"{self.leads_seen} leads since {self.since}: {counts}; watermark {self.watermark}"


def watermark_get() -> int | None:
    """The amoCRM ``updated_at`` (unix) up to which leads are reconciled; None before the first run."""
    return WebhookCounter.objects.filter(key=WATERMARK_KEY).values_list("value", flat=True).first()


def watermark_set(*, value: int) -> None:
    """Move the watermark forward to ``value`` (never backwards)."""
    with transaction.atomic():
        row, _created = WebhookCounter.objects.select_for_update().get_or_create(
            key=WATERMARK_KEY, defaults={"value": value}
        )
        if value > row.value:
            WebhookCounter.objects.filter(pk=row.pk).update(value=value)


def _observation(lead: dict[str, Any], fetched_at: float) -> LeadObservation:
    updated_at = lead.get("updated_at")
    return LeadObservation(
        lead_id=int(lead["id"]),
        pipeline_id=int(lead["pipeline_id"]),
        status_id=int(lead["status_id"]),
        modified=int(updated_at) if updated_at is not None else None,
        source="api",
        fetched_at=fetched_at,
    )


def _apply_one(lead: dict[str, Any], report: ReconcileReport, *, client: Any, fetched_at: float) -> None:
    result = lead_observe(_observation(lead, fetched_at), client_factory=lambda: client)
    result = combine(result, payment_observe(lead_id=int(lead["id"]), seen=payment_from_api(lead)))
    result = combine(result, loss_reason_record(lead=lead))  # the list carries loss_reason_id
    report.add(result)
    if result.outcome == Outcome.APPLIED and result.order_id:
        SyncLog.objects.create(
            order_id=result.order_id,
            event="reconcile",
            action="amocrm_status",
            trigger="reconcile",
            outcome=SyncLog.Outcome.OK,
            lead_id=result.id,
        )


def _apply_batch(
    leads: list[dict[str, Any]],
    report: ReconcileReport,
    *,
    client: Any,
    run_started: float,
    drafts_since: int | None = None,
) -> None:
    ids = [int(lead["id"]) for lead in leads]
    linked = set(OrderSync.objects.filter(lead_id__in=ids).values_list("lead_id", flat=True))
    for lead in leads:
        if int(lead["id"]) in linked:
            _apply_one(lead, report, client=client, fetched_at=run_started)
        elif drafts_since is not None and int(lead.get("created_at") or 0) >= drafts_since:
            _draft_one(lead, report, client=client)


def _draft_one(lead: dict[str, Any], report: ReconcileReport, *, client: Any) -> None:
    """A deal created in amoCRM whose ``add_lead`` was lost: its draft (counted only when one is made)."""
    result = lead_draft_from_api(lead, client)
    if result is not None and result.outcome == Outcome.APPLIED:
        report.add(result)


def _repair_future_times(report: ReconcileReport, *, client: Any) -> None:
    """Re-read each lead whose stored ``last_amo_modified`` lies in the future and apply it by the rules,
    which replace that time; where they did not (the lead is gone, or several orders claim it), it is
    dropped here, so no lead is re-read twice for it."""
    future = OrderSync.objects.filter(last_amo_modified__gt=trust_horizon(), lead_id__isnull=False)
    for lead_id in list(future.values_list("lead_id", flat=True)[:REPAIR_LIMIT]):
        fetched_at = time.time()
        lead = client.get_lead(lead_id)
        if lead is not None:
            _apply_one(lead, report, client=client, fetched_at=fetched_at)
        future.filter(lead_id=lead_id).update(last_amo_modified=None)


def _tasks_reread(report: ReconcileReport, *, client: Any) -> None:
    """The fallback of the task webhooks: the deals whose order has an open task (at most 250 a run) have
    their tasks read in one request, and each one's done flag is recorded (``inbound.tasks``)."""
    open_tasks = OrderTask.objects.filter(amo_id__isnull=False, completed=False, wanted=True)
    orders = set(open_tasks.values_list("order_id", flat=True)[:PAGE_LIMIT])
    lead_ids = set(
        OrderSync.objects.filter(order_id__in=orders, lead_id__isnull=False).values_list("lead_id", flat=True)
    )
    if not lead_ids:
        return
    for task in client.list_tasks("leads", sorted(lead_ids)):
        result = task_observe(amo_id=int(task["id"]), completed=bool(task.get("is_completed")))
        if result.order_id:
            report.add(result)


def _since(watermark: int | None, run_started: float) -> int:
    if watermark is None:
        return int(run_started) - FIRST_RUN_LOOKBACK_SECONDS
    return watermark - OVERLAP_SECONDS


def _log_run(report: ReconcileReport, *, trigger: str, started: float, exc: AmoCRMError | None) -> None:
    outcome = SyncLog.Outcome.OK if report.counts.get(Outcome.APPLIED) else SyncLog.Outcome.NOOP
    fields: dict[str, Any] = {}
    if exc is not None:
        outcome = SyncLog.Outcome.FAILED
        fields = {
            "error_title": redact(str(getattr(exc, "title", "") or exc))[:500],
            "error_detail": redact(report.error)[:4000],
            "error_status": getattr(exc, "status", None),
            "request_id": (getattr(exc, "request_id", "") or "")[:100],
            "error_kind": error_kind(exc),
        }
    SyncLog.objects.create(
        order=None,
        event="reconcile",
        action="reconcile",
        trigger=trigger,
        duration_ms=int((time.time() - started) * 1000),
        outcome=outcome,
        http_calls=report.http_calls,
        error_detail=fields.pop("error_detail", report.summary()),
        **fields,
    )


def leads_reconcile(*, trigger: str = "schedule", client: Any = None) -> ReconcileReport:
    """One reconciliation run (see the module docstring). amoCRM errors end the run as a failed log row;
    the watermark still moves to the newest lead processed, so the next run resumes from there."""
    started = time.time()
    client = client or account_client()
    calls_before = getattr(client, "calls", 0)
    watermark = watermark_get()
    report = ReconcileReport(since=_since(watermark, started))
    drafts_since = report.since if watermark is not None else None
    newest: int | None = None
    exc: AmoCRMError | None = None
    batch: list[dict[str, Any]] = []
    try:
        for lead in client.iter_leads(updated_since=report.since, with_=LEAD_WITH):
            report.leads_seen += 1
            if lead.get("updated_at") is not None:
                newest = max(newest or 0, int(lead["updated_at"]))
            batch.append(lead)
            if len(batch) >= PAGE_LIMIT:
                _apply_batch(batch, report, client=client, run_started=started, drafts_since=drafts_since)
                batch = []
        _apply_batch(batch, report, client=client, run_started=started, drafts_since=drafts_since)
        _repair_future_times(report, client=client)
        _tasks_reread(report, client=client)
    except AmoCRMError as error:
        exc, report.error = error, f"{type(error).__name__}: {error}"
        logger.warning("reconciliation stopped: %s", redact(report.error))
    report.http_calls = getattr(client, "calls", 0) - calls_before or report.http_calls
    if newest is not None:
        watermark_set(value=newest)
    report.watermark = watermark_get()
    _log_run(report, trigger=trigger, started=started, exc=exc)
    return report
