"""The lead rules: what amoCRM says about a deal's stage, and whether it changes the order's status.

Webhook deliveries (``inbound.inbox``) and the reconciliation (``inbound.reconcile``) feed the same rules
(:func:`lead_observe`): echoes of our own pushes, stale or superseded reports and local changes not pushed
yet are told apart from a manager's real stage move in amoCRM, which sets the mapped order status.

Webhooks carry no signature (https://www.amocrm.ru/developers/content/crm_platform/webhooks-api), so a
delivery's time is a claim: one more than ``FUTURE_TOLERANCE`` after our clock (forged, or a clock far off)
is not trusted, and no time later than that is ever stored, so it cannot make later real changes look stale.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from console.amocrm.account.access import account_client
from console.amocrm.inbound.items import as_int
from console.amocrm.leases import ORDER, lease_live
from console.amocrm.models import OrderSync, WebhookInbox
from console.amocrm.reasons import Code, Reason, reason
from console.amocrm.stagemap import StageMap
from console.orders.models import Order, OrderStatusChange
from console.orders.services import order_set_status

Outcome = WebhookInbox.Outcome
ACTOR = "amocrm"
# Seconds of clock difference tolerated between amoCRM and us when a hook's time is compared with our push.
CLOCK_SKEW = 1
# Seconds a reported time may lie after our clock and still be trusted (and the latest time ever stored).
FUTURE_TOLERANCE = 300


@dataclass
class ItemResult:
    """What processing made of one item (stored in ``WebhookInbox.results``)."""

    outcome: str
    reasons: list[Reason] = field(default_factory=list)
    entity: str = "leads"
    action: str = ""
    id: int | None = None
    order_id: int | None = None
    http_calls: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LeadObservation:
    """A lead's stage as amoCRM reported it: by a webhook (as of ``modified``) or read from the API now."""

    lead_id: int
    pipeline_id: int
    status_id: int
    modified: int | None  # the lead's last_modified / updated_at, unix seconds
    source: str  # "webhook" | "api"
    fetched_at: float | None = None  # for "api": when we read it (unix, our clock)


class _VerifyNeeded(Exception):
    """The observation may predate our own push or tie with the last applied change: re-read the lead."""


def _unix(moment: datetime | None) -> float | None:
    return moment.timestamp() if moment is not None else None


def trust_horizon() -> int:
    """The latest amoCRM time (unix) we trust or store: our clock plus ``FUTURE_TOLERANCE``."""
    return int(time.time()) + FUTURE_TOLERANCE


def _from_future(modified: int | None) -> bool:
    return modified is not None and modified > trust_horizon()


def _local_status_changed_at(order: Order) -> float | None:
    """When the order's status last changed by anyone but amoCRM (a manager, the storefront, the system)."""
    change = (
        OrderStatusChange.objects.filter(order=order)
        .exclude(origin="amocrm")
        .order_by("-created_at", "-id")
        .first()
    )
    return _unix(change.created_at) if change else None


def _push_in_flight(sync: OrderSync) -> bool:
    """The sync engine holds a live claim on the order: it is syncing and its lease (renewed as the push
    works) has not run out; a claim whose lease ran out was left by a dead worker."""
    if sync.state != OrderSync.State.SYNCING:
        return False
    return lease_live(kind=ORDER, key=sync.order_id)


def _local_change_wins(sync: OrderSync, obs: LeadObservation) -> bool:
    """A status change made here and not pushed yet, no older than the observation (within the skew)."""
    local_at = _local_status_changed_at(sync.order)
    if local_at is None:
        return False
    pushed_at = _unix(sync.last_synced_at)
    if pushed_at is not None and pushed_at >= local_at:
        return False  # already pushed: an amoCRM stage differing from it is judged by rule 5
    return obs.modified is None or obs.modified <= local_at + CLOCK_SKEW


def _needs_verification(sync: OrderSync, obs: LeadObservation, *, time_forgotten: bool) -> bool:
    if obs.source == "api":
        pushed_at = _unix(sync.last_synced_at)
        return pushed_at is not None and obs.fetched_at is not None and obs.fetched_at < pushed_at
    if obs.modified is None or time_forgotten:
        return True
    if sync.last_amo_modified is not None and obs.modified == sync.last_amo_modified:
        return True
    pushed_at = _unix(sync.last_synced_at)
    return pushed_at is not None and obs.modified <= pushed_at + CLOCK_SKEW


def _bump_modified(sync: OrderSync, modified: int | None, **fields: Any) -> None:
    if modified is not None:
        modified = min(modified, trust_horizon())
        if sync.last_amo_modified is None or modified > sync.last_amo_modified:
            fields["last_amo_modified"] = modified
    if fields:
        OrderSync.objects.filter(pk=sync.pk).update(**fields)


def _forget_future_modified(sync: OrderSync) -> bool:
    """Drop a stored ``last_amo_modified`` that lies in the future (written from a forged or skewed delivery
    before times were checked): it would make every real change look stale. True when one was dropped."""
    if not _from_future(sync.last_amo_modified):
        return False
    OrderSync.objects.filter(pk=sync.pk).update(last_amo_modified=None)
    sync.last_amo_modified = None
    return True


def _seen(obs: LeadObservation) -> dict[str, Any]:
    """The deal's stage as amoCRM reports it (``OrderSync.amo_*``: the console shows it and any drift)."""
    return {"amo_pipeline_id": obs.pipeline_id, "amo_status_id": obs.status_id, "amo_seen_at": timezone.now()}


def _decide_locked(sync: OrderSync, obs: LeadObservation, *, verified: bool) -> ItemResult:
    """The rules, in order, for a lead linked to ``sync`` (row locked by the caller)."""
    order = sync.order
    result = ItemResult(outcome=Outcome.IGNORED, id=obs.lead_id, order_id=order.pk)
    time_forgotten = _forget_future_modified(sync)
    if not order.is_active:
        result.reasons = [reason(Code.ORDER_DELETED)]
        return result
    if (
        obs.modified is not None
        and sync.last_amo_modified is not None
        and obs.modified < sync.last_amo_modified
    ):
        result.outcome = Outcome.STALE
        result.reasons = [reason(Code.OLDER_THAN_APPLIED, seen=obs.modified, applied=sync.last_amo_modified)]
        return result
    if (obs.pipeline_id, obs.status_id) == (sync.pushed_pipeline_id, sync.pushed_status_id):
        _bump_modified(sync, obs.modified, **_seen(obs))
        result.outcome = Outcome.ECHO
        result.reasons = [reason(Code.OUR_STAGE, pipeline_id=obs.pipeline_id, status_id=obs.status_id)]
        return result
    if _push_in_flight(sync):
        result.outcome = Outcome.STALE
        result.reasons = [reason(Code.PUSH_IN_FLIGHT)]
        return result
    if _local_change_wins(sync, obs):
        result.outcome = Outcome.STALE
        result.reasons = [reason(Code.LOCAL_STATUS_WINS)]
        return result
    if not verified and _needs_verification(sync, obs, time_forgotten=time_forgotten):
        raise _VerifyNeeded
    status, why = StageMap.load().status_for(obs.pipeline_id, obs.status_id)
    if status is None:
        _bump_modified(sync, None, **_seen(obs))  # the deal now sits where no status maps: drift, shown
        result.reasons = [why] if why else []
        return result
    stage_fields = {"pushed_pipeline_id": obs.pipeline_id, "pushed_status_id": obs.status_id, **_seen(obs)}
    if order.status == status:
        _bump_modified(sync, obs.modified, **stage_fields)
        result.outcome = Outcome.ECHO
        result.reasons = [reason(Code.ALREADY_STATUS, status=status)]
        return result
    order_set_status(order=order, status=status, origin="amocrm", actor=ACTOR)
    # Recorded as pushed: the sync engine then sees nothing to send back for this stage, and the deal's
    # notes (which tell a cancellation) do not tell amoCRM's own move back to it.
    if "status" in (sync.pushed_summary or {}):
        stage_fields["pushed_summary"] = {**sync.pushed_summary, "status": status}
    _bump_modified(sync, obs.modified, **stage_fields)
    result.outcome = Outcome.APPLIED
    result.reasons = [
        reason(Code.STATUS_SET, status=status, pipeline_id=obs.pipeline_id, status_id=obs.status_id)
    ]
    return result


def _observe_once(obs: LeadObservation, *, verified: bool) -> ItemResult:
    with transaction.atomic():
        syncs = list(
            OrderSync.objects.select_for_update().select_related("order").filter(lead_id=obs.lead_id)[:2]
        )
        if not syncs:
            return ItemResult(outcome=Outcome.IGNORED, reasons=[reason(Code.NO_ORDER)], id=obs.lead_id)
        if len(syncs) > 1:
            return ItemResult(outcome=Outcome.IGNORED, reasons=[reason(Code.SEVERAL_ORDERS)], id=obs.lead_id)
        return _decide_locked(syncs[0], obs, verified=verified)


def _fetch_observation(lead_id: int, client_factory: Callable[[], Any]) -> LeadObservation | None:
    fetched_at = time.time()
    lead = client_factory().get_lead(lead_id)
    if not lead:
        return None
    return LeadObservation(
        lead_id=lead_id,
        pipeline_id=int(lead["pipeline_id"]),
        status_id=int(lead["status_id"]),
        modified=as_int(lead.get("updated_at")),
        source="api",
        fetched_at=fetched_at,
    )


def lead_observe(obs: LeadObservation, *, client_factory: Callable[[], Any] | None = None) -> ItemResult:
    """Apply what amoCRM says about a lead's stage to its order, by these rules in order:

    1. no order linked to the lead, or the order is deleted -> ``ignored``;
    2. ``modified`` older than ``OrderSync.last_amo_modified`` (newest change applied or seen) -> ``stale``;
    3. the stage is the one recorded as pushed (our push, or a stage applied from amoCRM) -> ``echo``;
       ``last_amo_modified`` moves forward, nothing else changes;
    4. a push of the order is in flight (the sync engine claimed it) -> ``stale``: the push overwrites the
       stage in amoCRM, and a push without a stage bumps the lead so the reconciliation re-checks it;
       likewise when the order's status was changed here (not by amoCRM), not pushed yet, and not older
       than ``modified`` (within the skew): our change is newer and the sync engine pushes it;
    5. the observation may predate our last push (a hook no later than ``last_synced_at`` + skew, one without
       a time, one tying with the last applied time; an API read made before our last push) or cannot be
       placed in time (a hook whose time lies more than ``FUTURE_TOLERANCE`` after our clock is judged as
       one without a time; a stored ``last_amo_modified`` that lies in the future is dropped, and a hook then
       checked) -> the lead is re-read once from amoCRM and the fresh read is judged instead; if it shows the
       pushed stage, the hook was superseded by our push -> ``stale``;
    6. the stage maps to no status, to several, or only by a disabled row -> ``ignored`` with the reason;
    7. the order already has that status -> ``echo`` (the stage is recorded as pushed);
    8. otherwise the status is applied with ``order_set_status(origin="amocrm")`` and the stage recorded as
       pushed with ``last_amo_modified`` -> ``applied``. Nothing is pushed back: the sync receivers skip
       amoCRM-origin status changes, and the recorded stage makes any later push a no-op for the stage.

    ``last_amo_modified`` is never set later than our clock plus ``FUTURE_TOLERANCE``.
    """
    if obs.source == "webhook" and _from_future(obs.modified):
        result = _observe(replace(obs, modified=None), client_factory)
        ahead = reason(Code.TIME_AHEAD, seen=obs.modified, minutes=FUTURE_TOLERANCE // 60)
        result.reasons = [ahead, *result.reasons]
        return result
    return _observe(obs, client_factory)


def _observe(obs: LeadObservation, client_factory: Callable[[], Any] | None) -> ItemResult:
    try:
        return _observe_once(obs, verified=obs.source == "api" and obs.fetched_at is None)
    except _VerifyNeeded:
        pass
    fresh = _fetch_observation(obs.lead_id, client_factory or account_client)
    if fresh is None:
        return ItemResult(outcome=Outcome.IGNORED, reasons=[reason(Code.LEAD_GONE)], id=obs.lead_id)
    result = _observe_once(fresh, verified=True)
    result.http_calls += 1
    if result.outcome == Outcome.ECHO and obs.source == "webhook":
        result.outcome = Outcome.STALE
        result.reasons = [reason(Code.SUPERSEDED)]
    elif result.outcome == Outcome.APPLIED:
        for r in result.reasons:
            if r["code"] == Code.STATUS_SET:
                r["params"]["verified"] = True
    return result


def lead_mark_deleted(*, lead_id: int, deleted: bool = True) -> ItemResult:
    """``delete_lead``: the order's sync state records that the deal was deleted in amoCRM (nothing else)."""
    now = timezone.now() if deleted else None
    sync = OrderSync.objects.filter(lead_id=lead_id).first()
    if sync is None:
        return ItemResult(outcome=Outcome.IGNORED, reasons=[reason(Code.NO_ORDER)], id=lead_id)
    OrderSync.objects.filter(pk=sync.pk).update(lead_deleted_at=now)
    why = reason(Code.DEAL_DELETED if deleted else Code.DEAL_RESTORED)
    return ItemResult(outcome=Outcome.APPLIED, reasons=[why], id=lead_id, order_id=sync.order_id)
