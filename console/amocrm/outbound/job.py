"""What one sync run works on: each claimed order (a :class:`Job`) and what the run shares (a :class:`Run`).

A job holds three things: the claim (which sync row, who asked, the change counter it started from), the
target (what the deal should look like, computed once from the order), and how far it got (the contact and
company it resolved to, what was done, the outcome). The steps in ``customers``, ``leads``, ``products``
and ``notes`` read the target, call amoCRM and write the sync row column by column.

A run holds its claims as leases (``console.amocrm.leases``, kind ``order``) under one holder name, shared
with the contact and company leases its customer step takes; :meth:`Run.heartbeat` renews them all in one
UPDATE, between the engine's steps and before each amoCRM call a step makes (:attr:`Run.amo`), at most every
sixth of ``AMOCRM_LEASE_SECONDS``. A lease whose heartbeat stopped is taken over.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone

from console.amocrm.api.client import AmoCRMClient
from console.amocrm.api.errors import AmoCRMError, error_detail, error_kind
from console.amocrm.api.redaction import redact
from console.amocrm.api.transport import BATCH_SIZE
from console.amocrm.leases import leases_renew, new_holder, renew_due
from console.amocrm.models import AmoConnection, OrderSync, SyncLog
from console.amocrm.stagemap import Stage, StageMap
from console.orders.models import Order

# The steps' name for the client's batch size (``api.transport.BATCH_SIZE``, its one home).
BATCH = BATCH_SIZE


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
    holder: str = ""  # the name the claim's lease is held under (the run's)
    started: float = field(default_factory=time.monotonic)
    started_at: datetime = field(default_factory=timezone.now)
    target: Target | None = None
    contact_id: int | None = None
    company_id: int | None = None
    unconfirmed: dict[str, Any] = field(default_factory=dict)  # kind -> its UnconfirmedCreate (deal, note)
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
    jobs: list[Job] = field(default_factory=list)  # the claims this run holds (kept alive by heartbeat)
    holder: str = ""  # the name its leases are held under: its jobs' (a new one when it has none)
    beaten: float = field(default_factory=time.monotonic)  # when the last heartbeat was written

    def __post_init__(self) -> None:
        if not self.holder:
            self.holder = self.jobs[0].holder if self.jobs and self.jobs[0].holder else new_holder()

    def heartbeat(self, *, force: bool = False) -> None:
        """Tell other workers this run is alive: renew every lease it holds (its claims, its contact and
        company leases) at most every sixth of ``AMOCRM_LEASE_SECONDS`` unless ``force``.

        A lease taken over meanwhile (the run was silent too long) belongs to its new holder and is not
        renewed; ``outcomes.job_release`` leaves that order to it."""
        if not force and not renew_due(time.monotonic() - self.beaten):
            return
        self.beaten = time.monotonic()
        leases_renew(holder=self.holder)

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


def sync_save(sync: OrderSync, *names: str) -> None:
    """Write only ``names`` of ``sync`` (never a full save: receivers update other columns concurrently)."""
    OrderSync.objects.filter(pk=sync.pk).update(**{name: getattr(sync, name) for name in names})


def sync_record_error(
    sync: OrderSync, error: AmoCRMError | None, title: str, exc: Exception | None = None, kind: str = ""
) -> None:
    """Put an error's title, detail, HTTP status and request id on ``sync`` (not saved)."""
    sync.error_kind = kind or error_kind(error or exc)
    sync.error = {
        "title": redact(title)[:500],
        "detail": error_detail(error or exc),
        "status": getattr(error, "status", None),
        "request_id": (getattr(error, "request_id", "") or "")[:100],
    }


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
