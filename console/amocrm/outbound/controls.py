"""A manager's controls over an order's sync: push, skip, unskip, unlink, link to an existing deal, and the
same for many orders at once. Each is logged in the order's sync log; none calls amoCRM in the caller's
request except :func:`order_link_to_lead`, which runs in the cluster (``order_link_request`` enqueues it).

"Do not sync" has one home: ``Order.sync_disabled``. Skip and unskip set it (through the orders service),
and the sync state (``skipped``) follows it."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from django.db.models import F
from django.utils import timezone

from console.amocrm import queue
from console.amocrm.account.access import account_client
from console.amocrm.api.errors import AmoCRMError, NotFound, error_detail, error_kind, error_title
from console.amocrm.api.redaction import redact
from console.amocrm.models import OrderSync, SyncLog
from console.amocrm.outbound.detached import Reason, detached_lead_request
from console.amocrm.outbound.job import control_log
from console.amocrm.outbound.products import lead_products
from console.amocrm.outbound.queueing import enqueue_bulk, order_sync_request, order_sync_state
from console.amocrm.outbound.unconfirmed import order_creates_forget
from console.orders.models import Order
from console.orders.services import order_update

State = OrderSync.State
LINK_TASK = "console.amocrm.tasks.order_link_task"


class PushResult(StrEnum):
    """What a manager's push did (each one a true message for the console)."""

    QUEUED = "queued"  # a sync is queued (or rides along the one already queued or running)
    SKIPPED = "skipped"  # the order is marked "do not sync": unskip it first
    NOTHING = "nothing"  # a cancelled or deleted order that never had a deal: no deal is made for it
    CHOOSE = "choose"  # unlinked from a deal: create a new deal or link the old one again?
    RELINKING = "relinking"  # the old deal is being linked again (checked in amoCRM first)
    DRAFT = "draft"  # a deal made in amoCRM, not confirmed yet: confirm it first


def order_push(*, order_id: int, trigger: str, mode: str = "") -> PushResult:
    """Push now: a full sync of the order.

    An order unlinked from a deal needs ``mode``: "new" (a new deal) or "relink" (the old deal again); without
    it the answer is ``CHOOSE`` and nothing happens.
    """
    order = Order.objects.get(pk=order_id)
    if order.is_draft:
        return PushResult.DRAFT
    sync = order_sync_state(order=order)
    if sync.state == State.SKIPPED:
        return PushResult.SKIPPED
    if not sync.lead_id and (not order.is_active or order.status == Order.Status.CANCELLED):
        return PushResult.NOTHING
    if sync.state == State.UNLINKED and sync.previous_lead_id:
        if mode == "relink":
            order_link_request(order_id=order_id, lead_id=int(sync.previous_lead_id), trigger=trigger)
            return PushResult.RELINKING
        if mode != "new":
            return PushResult.CHOOSE
        OrderSync.objects.filter(pk=sync.pk).update(previous_lead_id=None)
    # Forget what we believe was pushed: the deal's fields and stage are sent again and its product links
    # are re-read from amoCRM (``products.pushed_products_reread``), so manual edits in amoCRM are put right.
    OrderSync.objects.filter(pk=sync.pk).update(
        attempts=0, pushed_lead_hash="", payload_hash="", pushed_pipeline_id=None, pushed_status_id=None
    )
    order_sync_request(order_id=order_id, trigger=trigger, event="push", force=True)
    return PushResult.QUEUED


def _actor(trigger: str) -> str:
    return trigger.split(":", 1)[1] if ":" in trigger else trigger


def _set_do_not_sync(order: Order, value: bool, trigger: str) -> None:
    """``Order.sync_disabled`` is the one "do not sync" flag; the sync state follows it."""
    if order.sync_disabled != value and order.is_active:
        order_update(order=order, data={"sync_disabled": value}, origin="manager", actor=_actor(trigger))


def order_skip(*, order_id: int, trigger: str) -> None:
    """Never sync this order (until unskipped): sets the order's "do not sync" flag. The deal, if any, stays
    as it is in amoCRM."""
    order = Order.objects.get(pk=order_id)
    _set_do_not_sync(order, True, trigger)
    sync_mark_skipped(order_id=order_id, trigger=trigger)


def sync_mark_skipped(*, order_id: int, trigger: str) -> None:
    """The sync state follows the flag: ``skipped``, nothing queued (logged once)."""
    sync = order_sync_state(order=Order.objects.get(pk=order_id))
    if sync.state == State.SKIPPED:
        return
    OrderSync.objects.filter(pk=sync.pk).update(state=State.SKIPPED, next_retry_at=None, task_pending=False)
    control_log(order_id, "skip", trigger, sync)


def order_unskip(*, order_id: int, trigger: str) -> PushResult:
    """Sync this order again: clears the "do not sync" flag and queues a push."""
    order = Order.objects.get(pk=order_id)
    _set_do_not_sync(order, False, trigger)
    sync = order_sync_state(order=order)
    if sync.state == State.SKIPPED:
        OrderSync.objects.filter(pk=sync.pk).update(
            state=State.NOT_SYNCED if not sync.lead_id else State.SYNCED
        )
        control_log(order_id, "unskip", trigger, sync)
    return order_push(order_id=order_id, trigger=trigger, mode="new")


def order_unlink(*, order_id: int, trigger: str) -> None:
    """Forget the deal link (state ``unlinked``); the deal gets a note saying so, and a later push asks
    whether to make a new deal or link this one again. The sync log keeps the history."""
    order = Order.objects.get(pk=order_id)
    sync = order_sync_state(order=order)
    control_log(order_id, "unlink", trigger, sync)
    if sync.lead_id:
        detached_lead_request(
            lead_id=int(sync.lead_id), order_number=order.number or "", reason=Reason.UNLINKED, actor=trigger
        )
    OrderSync.objects.filter(pk=sync.pk).update(
        state=State.UNLINKED,
        lead_id=None,
        previous_lead_id=sync.lead_id or sync.previous_lead_id,
        pushed_pipeline_id=None,
        pushed_status_id=None,
        amo_pipeline_id=None,  # the old deal's stage is no longer this order's (issue 22, defect 9)
        amo_status_id=None,
        amo_seen_at=None,
        payload_hash="",
        pushed_lead_hash="",
        pushed_products={},
        note_added=False,
        pushed_summary={},
        next_retry_at=None,
        task_pending=False,
        lead_deleted_at=None,
        last_amo_modified=None,
    )
    order_creates_forget(order_id)


def _lead_owned_elsewhere(order_id: int, lead_id: int) -> None:
    if OrderSync.objects.filter(lead_id=lead_id).exclude(order_id=order_id).exists():
        raise ValueError(f"Lead {lead_id} is already linked to another order.")


def order_link_to_lead(*, order_id: int, lead_id: int, trigger: str) -> OrderSync:
    """Link the order to an existing deal (checked in amoCRM), then queue a push making it match the order.

    Raises ``NotFound`` when amoCRM has no such deal, ``ValueError`` when another order already owns it.
    """
    order = Order.objects.get(pk=order_id)
    _lead_owned_elsewhere(order_id, lead_id)
    if OrderSync.objects.filter(order=order, state=State.SYNCING).exists():
        raise ValueError("The order is being synced right now; try again in a moment.")
    client = account_client()
    lead = client.get_lead(int(lead_id))
    if not lead:
        raise NotFound(title=f"Lead {lead_id} does not exist in AmoCRM", status=204)
    products = lead_products(client, int(lead_id))
    sync = order_sync_state(order=order)
    OrderSync.objects.filter(pk=sync.pk).update(
        state=State.SYNCED,
        lead_id=int(lead_id),
        pushed_pipeline_id=lead.get("pipeline_id"),
        pushed_status_id=lead.get("status_id"),
        amo_pipeline_id=lead.get("pipeline_id"),
        amo_status_id=lead.get("status_id"),
        amo_seen_at=timezone.now(),
        payload_hash="",
        pushed_lead_hash="",
        pushed_products={str(k): v for k, v in products.items()},
        contact_id=None,  # so the push attaches our contact and company to this deal
        company_id=None,
        note_added=True,
        pushed_summary={},
        lead_deleted_at=None,
        last_amo_modified=None,
        attempts=0,
        next_retry_at=None,
        previous_lead_id=None,
    )
    order_creates_forget(order_id)
    sync.refresh_from_db()
    control_log(order_id, "link_to_lead", trigger, sync, calls=client.calls)
    order_sync_request(order_id=order_id, trigger=trigger, event="link")
    sync.refresh_from_db()
    return sync


def order_link_request(*, order_id: int, lead_id: int, trigger: str) -> None:
    """Ask for the order to be linked to deal ``lead_id``.

    Checks now what needs no amoCRM call and leaves the lookup in amoCRM to the cluster (``order_link_run``).
    Raises ``ValueError`` when another order owns the deal.
    """
    Order.objects.get(pk=order_id)
    _lead_owned_elsewhere(order_id, lead_id)
    queue.enqueue_on_commit(LINK_TASK, order_id, lead_id, trigger)


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
            outcome=SyncLog.Outcome.FAILED,
            lead_id=lead_id,
            error_title=redact(error_title(exc) if error else str(exc))[:500],
            error_detail=error_detail(exc),
            error_status=getattr(error, "status", None),
            request_id=(getattr(error, "request_id", "") or "")[:100],
            # The console's own refusals (another order owns the deal, a sync is running) are not "internal":
            # that kind sends the manager to the developers; their title says what to do.
            error_kind=error_kind(error) if error else "other",
            resolved=True,  # a refused link is an answer, not a failure waiting for a retry
        )
        return "failed"
    return "linked"


class Unlinked(StrEnum):
    """What a bulk push does with the orders unlinked from their deals (the manager's answer)."""

    ASK = ""  # leave them out: the caller asks first (``orders_unlinked``)
    NEW = "new"  # each gets a new deal
    RELINK = "relink"  # each is linked to its old deal again (checked in amoCRM first)


def orders_unlinked(*, order_ids: Sequence[int]) -> list[Order]:
    """The orders among ``order_ids`` that were unlinked from a deal and still remember it: a push must ask
    whether they get a new deal or their old one back."""
    rows = OrderSync.objects.filter(
        order_id__in=list(order_ids), state=State.UNLINKED, previous_lead_id__isnull=False
    )
    return list(Order.objects.filter(pk__in=rows.values("order_id")).order_by("pk"))


def _unlinked_settle(order_ids: Sequence[int], unlinked: str, trigger: str) -> tuple[set[int], int]:
    """Apply the manager's answer for the unlinked orders among ``order_ids``; returns the ids the bulk sync
    must leave out (asked about, or being linked to their old deal) and how many links were requested."""
    rows = OrderSync.objects.filter(
        order_id__in=list(order_ids), state=State.UNLINKED, previous_lead_id__isnull=False
    )
    if unlinked == Unlinked.NEW:
        rows.update(previous_lead_id=None)
        return set(), 0
    pairs = list(rows.values_list("order_id", "previous_lead_id"))
    requested = 0
    for order_id, lead_id in pairs if unlinked == Unlinked.RELINK else []:
        try:
            order_link_request(order_id=order_id, lead_id=int(lead_id), trigger=trigger)
        except ValueError:  # another order owns the old deal now: this one stays unlinked
            continue
        requested += 1
    return {order_id for order_id, _lead in pairs}, requested


def orders_push_bulk(*, order_ids: Sequence[int], trigger: str, unlinked: str = Unlinked.ASK) -> int:
    """Queue a bulk sync of many orders (batch calls), skipped ones and drafts left out; returns how many
    were queued (or are being linked to their old deal).

    Orders unlinked from a deal follow ``unlinked`` (:class:`Unlinked`): never a silent second deal.
    """
    ids: list[int] = []
    left_out, relinking = _unlinked_settle(order_ids, unlinked, trigger)
    for order in Order.objects.filter(pk__in=list(order_ids)).exclude(pk__in=left_out):
        sync = order_sync_state(order=order)
        if sync.state == State.SKIPPED or order.is_draft:
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
    enqueue_bulk(order_ids=ids, trigger=trigger)
    return len(ids) + relinking


def order_sync_toggle(*, order_id: int, trigger: str) -> bool:
    """The order's "do not sync" flag changed (the ``order_changed`` receiver): the sync state follows it.

    Returns True when the flag decided what happens (the caller queues nothing more).
    """
    order = Order.objects.get(pk=order_id)
    sync = order_sync_state(order=order)
    if order.sync_disabled and sync.state != State.SKIPPED:
        sync_mark_skipped(order_id=order_id, trigger=trigger)
        return True
    if not order.sync_disabled and sync.state == State.SKIPPED:
        order_unskip(order_id=order_id, trigger=trigger)
        return True
    return False
