"""What one sync run works on: each claimed order (a :class:`Job`) and what the run shares (a :class:`Run`).

A job holds three things: the claim (which sync row, who asked, the change counter it started from), the
target (what the deal should look like, computed once from the order), and how far it got (the contact and
company it resolved to, what was done, the outcome). The steps in ``customers``, ``leads``, ``products``
and ``notes`` read the target, call amoCRM and write the sync row column by column.

A run keeps its claims alive: :meth:`Run.heartbeat` moves their ``OrderSync.claimed_at`` forward, between
the engine's steps and before each amoCRM call a step makes (:attr:`Run.amo`), at most every
``AMOCRM_CLAIM_STALE_SECONDS / 6``. A claim whose heartbeat stopped (``outbound.retries``) is taken over.
The same heartbeat keeps the run's contact and company leases (``outbound.customers``) from running out.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from console.amocrm.api.client import AmoCRMClient
from console.amocrm.api.errors import AmoCRMError, UnknownOutcome, error_detail, error_kind
from console.amocrm.api.redaction import redact
from console.amocrm.api.transport import BATCH_SIZE
from console.amocrm.models import AmoConnection, CompanyAmoLink, CustomerAmoLink, OrderSync, SyncLog
from console.amocrm.stagemap import Stage, StageMap
from console.orders.models import Order

# The steps' name for the client's batch size (``api.transport.BATCH_SIZE``, its one home).
BATCH = BATCH_SIZE


def lease_until(now: datetime) -> datetime:
    """The end of a contact or company lease taken or renewed at ``now``: like a claim, a lease with no
    heartbeat for ``AMOCRM_CLAIM_STALE_SECONDS`` was left by a dead worker."""
    return now + timedelta(seconds=settings.AMOCRM_CLAIM_STALE_SECONDS)


@dataclass(frozen=True)
class Target:
    """What an order's deal should be in amoCRM: lead fields, stage, products, and their hashes."""

    lines: list[Any]
    stage: Stage | None
    fields: dict[str, Any]
    products: dict[str, int]  # sku -> quantity
    lead_hash: str  # of ``fields``
    full_hash: str  # of everything pushed: a sync whose hash equals the stored one has nothing to send
    summary: dict[str, Any]  # what the deal's notes tell (``payloads.order_summary``)
    payment: dict[str, str]  # what the deal's payment fields tell (``console.amocrm.payment``)


@dataclass
class Job:
    """One claimed order inside a run."""

    sync: OrderSync
    order: Order
    trigger: str
    event: str
    claimed_seq: int
    started: float = field(default_factory=time.monotonic)
    started_at: datetime = field(default_factory=timezone.now)
    target: Target | None = None
    contact_id: int | None = None
    company_id: int | None = None
    new_contact: dict[str, Any] | None = None  # a contact created together with the lead (/leads/complex)
    new_lead: bool = False
    action: str = ""
    outcome: str = ""
    batch_failed: bool = False
    calls: int = 0

    @property
    def done(self) -> bool:
        return bool(self.outcome)

    def finish(self, outcome: str, action: str = "") -> None:
        self.outcome = outcome
        self.action = self.action or action


@dataclass
class Run:
    """What the jobs of one run share: the client, the connection's ids, the stage map, catalog elements."""

    connection: AmoConnection
    stage_map: StageMap
    client: AmoCRMClient | None = None
    elements: dict[str, int] = field(default_factory=dict)  # sku -> catalog element id
    leased: list[int] = field(default_factory=list)  # CustomerAmoLink pks whose lease this run holds
    company_leased: list[int] = field(default_factory=list)  # CompanyAmoLink pks whose lease it holds
    jobs: list[Job] = field(default_factory=list)  # the claims this run holds (kept alive by heartbeat)
    beaten: float = field(default_factory=time.monotonic)  # when the last heartbeat was written

    def heartbeat(self, *, force: bool = False) -> None:
        """Tell other workers this run is alive: move the ``claimed_at`` of its claims to now (at most every
        sixth of ``AMOCRM_CLAIM_STALE_SECONDS`` unless ``force``).

        Only claims still held as this run wrote them are moved; one taken over meanwhile (the run was silent
        too long) keeps its new owner's time, and ``outcomes.job_release`` leaves it to that owner. The
        contact and company leases the run holds are renewed alike."""
        if not self.jobs or (
            not force and time.monotonic() - self.beaten < settings.AMOCRM_CLAIM_STALE_SECONDS / 6
        ):
            return
        self.beaten = time.monotonic()
        now = timezone.now()
        OrderSync.objects.filter(
            pk__in=[job.sync.pk for job in self.jobs],
            state=OrderSync.State.SYNCING,
            claimed_at__in={job.sync.claimed_at for job in self.jobs},
        ).update(claimed_at=now)
        for held in self._leases():
            held.filter(locked_until__isnull=False).update(locked_until=lease_until(now))
        for job in self.jobs:
            job.sync.claimed_at = now

    def _leases(self) -> list[QuerySet]:
        """The contact and company links whose find-or-create lease this run holds."""
        held = []
        if self.leased:
            held.append(CustomerAmoLink.objects.filter(pk__in=self.leased))
        if self.company_leased:
            held.append(CompanyAmoLink.objects.filter(pk__in=self.company_leased))
        return held

    def leases_release(self) -> None:
        """Give back every lease the run holds, when it ends however it ends (a create whose answer was lost
        stays marked as sent: nobody looks it up before it has settled)."""
        for held in self._leases():
            held.update(locked_until=None)

    @property
    def field_ids(self) -> dict[str, int]:
        """Lead custom field ids by our key (account setup)."""
        return {k: int(v) for k, v in (self.connection.lead_field_ids or {}).items() if v}

    @property
    def enum_ids(self) -> dict[str, dict[str, int]]:
        """Select options of our lead fields: field key -> our value -> amoCRM enum id (account setup)."""
        return self.connection.lead_field_enums or {}

    @property
    def company_field_ids(self) -> dict[str, int]:
        """Company custom field ids by our key (account setup)."""
        return {k: int(v) for k, v in (self.connection.company_field_ids or {}).items() if v}

    @property
    def amo(self) -> AmoCRMClient:
        """The client (made when the first job needs amoCRM); each use is a sign of life (a heartbeat)."""
        assert self.client is not None
        self.heartbeat()
        return self.client


@contextmanager
def creates_sending(rows: QuerySet, field: str, **marks: Any) -> Iterator[None]:
    """Mark the creates of ``rows`` as sent (``field`` set to now, with ``marks``) while the call runs.

    An answer that is lost (an ``UnknownOutcome``, or a crash) leaves the mark: nobody looks those entities
    up before they have settled in amoCRM (``retries.settled_at``). An error amoCRM answered means nothing was
    created: the send time is taken back, so the next attempt need not wait."""
    rows.update(**{field: timezone.now()}, **marks)
    try:
        yield
    except AmoCRMError as exc:
        if not isinstance(exc, UnknownOutcome):
            rows.update(**{field: None})
        raise


def sync_save(sync: OrderSync, *names: str) -> None:
    """Write only ``names`` of ``sync`` (never a full save: receivers update other columns concurrently)."""
    OrderSync.objects.filter(pk=sync.pk).update(**{name: getattr(sync, name) for name in names})


def sync_record_error(
    sync: OrderSync, error: AmoCRMError | None, title: str, exc: Exception | None = None, kind: str = ""
) -> None:
    """Put an error's title, detail, HTTP status and request id on ``sync`` (not saved)."""
    sync.last_error_title = redact(title)[:500]
    sync.last_error_detail = error_detail(error or exc)
    sync.last_error_status = getattr(error, "status", None)
    sync.last_error_request_id = (getattr(error, "request_id", "") or "")[:100]
    sync.last_error_kind = kind or error_kind(error or exc)


def control_log(order_id: int, action: str, trigger: str, sync: OrderSync, calls: int = 0) -> None:
    """One sync log row for a manager's control (skip, unskip, unlink, link)."""
    SyncLog.objects.create(
        order_id=order_id,
        event="manager",
        action=action,
        trigger=trigger[:160],
        outcome=SyncLog.Outcome.OK,
        http_calls=calls,
        lead_id=sync.lead_id,
        contact_id=sync.contact_id,
        company_id=sync.company_id,
    )


def mass_link(lead_id: int, item: dict[str, Any]) -> dict[str, Any]:
    """A link item of lead ``lead_id`` for the mass link/unlink endpoints."""
    return {"entity_id": int(lead_id), "entity_type": "leads", **item}


def id_of(value: Any) -> int | None:
    """An entity id from whatever the client returned: an int, a dict with ``id``, or None."""
    if value is None or value == []:
        return None
    if isinstance(value, dict):
        value = value.get("id")
    if isinstance(value, (list, tuple)):
        return id_of(value[0])
    return int(value) if value else None


def ids_of(values: Any) -> list[int]:
    if isinstance(values, dict):
        values = (values.get("_embedded") or {}).get("leads") or values.get("ids") or []
    return [int(id_of(v)) for v in values]
