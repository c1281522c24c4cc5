"""What the console says about an order's place in amoCRM: one display state per order, computed in one place
for the orders list, the order page, the dashboard, the CSV export and the bulk progress bar.

The display state is read from the order's ``OrderSync`` row, the order itself and the connection's state:

- ``skipped``: the order is marked "do not sync".
- ``running``: a worker is syncing it now.
- ``paused``: a sync waits (queued) while the connection is not connected; nothing moves until it is.
- ``failed``: the last attempt failed and a retry is scheduled (a queued row with an error and a retry time:
  "failed, retrying", never "queued"), or the sync gave up after ``AMOCRM_MAX_ATTEMPTS``.
- ``queued``: a sync waits for a worker.
- ``drifted``: synced, no push pending, but the deal's stage as last seen in amoCRM means another order
  status (or none) than the order has.
- ``synced``: the deal matches the order.
- ``not_linked``: the order has no deal (never sent, or unlinked by a manager).

:func:`display_state` computes it for one order in Python; :func:`state_q` gives the same rule as a query
filter on orders (the list's filter) and :func:`state_counts` counts every state at once (the dashboard). All
read a :class:`SyncContext` loaded once per request (two small queries: the connection's state and the stage
map).
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from enum import StrEnum
from functools import reduce

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from console.amocrm.api.errors import CIRCUIT_KINDS
from console.amocrm.models import AmoConnection, OrderSync
from console.amocrm.outbound import retries
from console.amocrm.stagemap import StageMap
from console.orders.models import Order
from console.web.errors import shown_error
from console.web.templatetags.console_format import format_when

State = OrderSync.State


class DisplayState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SYNCED = "synced"
    FAILED = "failed"
    PAUSED = "paused"
    SKIPPED = "skipped"
    NOT_LINKED = "not_linked"
    DRIFTED = "drifted"


LABELS = {
    DisplayState.QUEUED: gettext_lazy("queued"),
    DisplayState.RUNNING: gettext_lazy("running"),
    DisplayState.SYNCED: gettext_lazy("synced"),
    DisplayState.FAILED: gettext_lazy("failed"),
    DisplayState.PAUSED: gettext_lazy("paused"),
    DisplayState.SKIPPED: gettext_lazy("skipped"),
    DisplayState.NOT_LINKED: gettext_lazy("not linked"),
    DisplayState.DRIFTED: gettext_lazy("drifted"),
}
CHOICES = [(state.value, LABELS[state]) for state in DisplayState]
# States in which the page showing them refreshes itself until they end.
ACTIVE = frozenset({DisplayState.QUEUED, DisplayState.RUNNING})


@dataclass(frozen=True)
class SyncContext:
    """What every display state of one request depends on besides the order: read once per request."""

    connection_state: str
    stage_map: StageMap

    @property
    def connected(self) -> bool:
        return self.connection_state == AmoConnection.State.CONNECTED

    @property
    def connection_label(self) -> str:
        return str(AmoConnection.State(self.connection_state).label)


def sync_context(*, connection_state: str | None = None) -> SyncContext:
    """The connection's state (read unless given) and the stage map, for :func:`display_state` and
    :func:`state_q`."""
    state = connection_state or AmoConnection.objects.filter(pk=1).values_list("state", flat=True).first()
    return SyncContext(connection_state=state or AmoConnection.State.NOT_CONNECTED, stage_map=StageMap.load())


@dataclass(frozen=True)
class SyncDisplay:
    """An order's display state: ``label`` is the badge's text, ``reason`` its hover text (``title``)."""

    state: DisplayState
    label: str
    reason: str

    @property
    def css(self) -> str:
        return f"badge sync-{self.state.value}"

    @property
    def active(self) -> bool:
        return self.state in ACTIVE


# --- the rule in Python -------------------------------------------------------------------------------------


def _effective_status(order: Order) -> str:
    """The status the deal's stage should mean: a deleted order's deal goes where cancelled ones go."""
    return order.status if order.is_active else Order.Status.CANCELLED


def stage_status(sync: OrderSync | None, ctx: SyncContext) -> tuple[str | None, str]:
    """The order status the deal's last seen stage means (None and why when none or when never seen)."""
    if sync is None or sync.amo_pipeline_id is None or sync.amo_status_id is None:
        return None, "the deal's stage was never seen"
    return ctx.stage_map.status_for(int(sync.amo_pipeline_id), int(sync.amo_status_id))


def is_drifted(order: Order, sync: OrderSync | None, ctx: SyncContext) -> bool:
    """True when the deal's last seen stage means another status than the order's, with no push pending.

    A stage that maps to no status is drift too, unless the order's status maps to no stage either (then
    neither side can be applied to the other)."""
    if sync is None or sync.state != State.SYNCED or sync.task_pending or not sync.lead_id:
        return False
    if sync.amo_pipeline_id is None or sync.amo_status_id is None:
        return False
    status = _effective_status(order)
    mapped, _why = stage_status(sync, ctx)
    if mapped is None:
        return ctx.stage_map.stage_for(status) is not None
    return mapped != status


def _retrying(sync: OrderSync) -> bool:
    return bool(sync.error_kind and sync.next_retry_at and sync.error_kind not in CIRCUIT_KINDS)


def _failed(sync: OrderSync) -> SyncDisplay:
    attempt = {"n": sync.attempts, "max": retries.max_attempts()}
    if sync.state == State.QUEUED:
        label = _("failed · retry at %(time)s · attempt %(n)s of %(max)s") % {
            **attempt,
            "time": format_when(sync.next_retry_at, "today"),
        }
    else:
        label = _("failed · attempt %(n)s of %(max)s, no more retries") % attempt
    return SyncDisplay(DisplayState.FAILED, label, _failure_reason(sync))


def _failure_reason(sync: OrderSync) -> str:
    """What happened and what to do in plain words (the error kind's messages, translated); amoCRM's own
    text stays in the order's "Last error" details. Read from the row alone, so a page of orders takes no
    query for it."""
    error = shown_error(sync)
    if error is None:
        return _("The sync failed.")
    return f"{error.what} {error.todo}"


def _simple(state: DisplayState, reason: str) -> SyncDisplay:
    return SyncDisplay(state, str(LABELS[state]), reason)


def _not_linked(sync: OrderSync | None) -> SyncDisplay:
    if sync is not None and sync.state == State.UNLINKED:
        reason = _("Unlinked from its deal by a manager; a push asks whether to make a new deal.")
    else:
        reason = _("Never sent to AmoCRM.")
    return _simple(DisplayState.NOT_LINKED, reason)


def _drift_reason(order: Order, sync: OrderSync, ctx: SyncContext) -> str:
    mapped, _why = stage_status(sync, ctx)
    ours = Order.Status(_effective_status(order)).label
    if mapped is None:
        return _("The deal's stage in AmoCRM maps to no order status; the order is “%(ours)s”.") % {
            "ours": ours
        }
    return _("The deal's stage in AmoCRM means “%(theirs)s”; the order is “%(ours)s”.") % {
        "theirs": Order.Status(mapped).label,
        "ours": ours,
    }


def _queued(sync: OrderSync, ctx: SyncContext) -> SyncDisplay:
    if not ctx.connected:
        reason = _("The AmoCRM connection is “%(state)s”: the order waits until it is connected again.") % {
            "state": ctx.connection_label
        }
        return _simple(DisplayState.PAUSED, reason)
    if _retrying(sync):
        return _failed(sync)
    return _simple(DisplayState.QUEUED, _("Waiting for a worker."))


def display_state(order: Order, ctx: SyncContext) -> SyncDisplay:
    """The display state of ``order`` (its ``amo_sync`` row read through the relation: select it along)."""
    sync = getattr(order, "amo_sync", None)
    if order.sync_disabled or (sync is not None and sync.state == State.SKIPPED):
        return _simple(DisplayState.SKIPPED, _("Marked “do not sync”."))
    if sync is None or sync.state in (State.NOT_SYNCED, State.UNLINKED):
        return _not_linked(sync)
    if sync.state == State.SYNCING:
        return _simple(DisplayState.RUNNING, _("A worker is syncing the order now."))
    if sync.state == State.QUEUED:
        return _queued(sync, ctx)
    if sync.state == State.FAILED:
        return _failed(sync)
    if is_drifted(order, sync, ctx):
        return _simple(DisplayState.DRIFTED, _drift_reason(order, sync, ctx))
    return _simple(DisplayState.SYNCED, _("The deal matches the order."))


# --- the same rule as a query -------------------------------------------------------------------------------


def _stage_q(pipeline_id: int, status_id: int, sync: str) -> Q:
    return Q(**{f"{sync}amo_pipeline_id": pipeline_id, f"{sync}amo_status_id": status_id})


def _with_status(status: str, order: str) -> Q:
    """Orders whose effective status (see ``_effective_status``) is ``status``."""
    active = Q(**{f"{order}is_active": True, f"{order}status": status})
    return active | Q(**{f"{order}is_active": False}) if status == Order.Status.CANCELLED else active


def _agree_q(ctx: SyncContext, sync: str, order: str) -> Q | None:
    """Orders whose deal's last seen stage agrees with their status (drift's negation, for seen stages)."""
    stages = ctx.stage_map.reverse.statuses
    terms = [_stage_q(p, s, sync) & _with_status(status, order) for (p, s), status in stages.items()]
    unmapped = [status for status in Order.Status.values if ctx.stage_map.stage_for(status) is None]
    if unmapped:
        no_status = ~reduce(operator.or_, [_stage_q(p, s, sync) for p, s in stages], Q(pk__in=[]))
        terms.append(reduce(operator.or_, [_with_status(s, order) for s in unmapped]) & no_status)
    return reduce(operator.or_, terms) if terms else None


def drift_q(ctx: SyncContext, *, sync: str = "amo_sync__", order: str = "") -> Q:
    """Orders :func:`is_drifted` says are drifted. Field paths: ``sync`` to the sync row, ``order`` to the
    order (from orders by default; ``sync=""``, ``order="order__"`` from sync rows)."""
    # One Q per term, in this order (keyword arguments would be sorted): the state's test first, so SQLite
    # stops there for most rows that are not synced.
    terms = [
        (f"{sync}state", State.SYNCED),
        (f"{sync}task_pending", False),
        (f"{sync}lead_id__isnull", False),
        (f"{sync}amo_pipeline_id__isnull", False),
        (f"{sync}amo_status_id__isnull", False),
    ]
    seen = reduce(operator.and_, (Q(term) for term in terms))
    agree = _agree_q(ctx, sync, order)
    return seen & ~agree if agree is not None else seen


def _drifted_q(ctx: SyncContext) -> Q:
    """Drift (as :func:`drift_q`) written as an EXISTS on each order: a page in the orders' own order then
    reads only the newest orders until it is full, each checked in ``ordersync_display_idx``, where a join
    would make SQLite read every synced row by the state index and sort the drifted ones."""
    rows = OrderSync.objects.filter(order_id=OuterRef("pk")).filter(drift_q(ctx, sync="", order="order__"))
    return Q(Exists(rows)) & Q(sync_disabled=False)


def drifted(orders: QuerySet[Order], ctx: SyncContext) -> QuerySet[Order]:
    """The drifted ones of ``orders`` (as ``state_q(DRIFTED)``)."""
    return orders.filter(_drifted_q(ctx))


def _retrying_q(sync: str = "amo_sync__") -> Q:
    """Queued rows that are "failed, retrying" (see ``_retrying``)."""
    return (
        ~Q(**{f"{sync}error_kind": ""})
        & Q(**{f"{sync}next_retry_at__isnull": False})
        & ~Q(**{f"{sync}error_kind__in": CIRCUIT_KINDS})
    )


def _failed_rows(ctx: SyncContext) -> Q:
    """Sync rows an order shows "failed" for (with the order not kept out of amoCRM)."""
    failed = Q(state=State.FAILED)
    return failed | (Q(state=State.QUEUED) & _retrying_q(sync="")) if ctx.connected else failed


def state_q(state: str, ctx: SyncContext, *, per_order: bool = True) -> Q:
    """A filter on orders matching exactly the orders whose :func:`display_state` is ``state``.

    The rare states a manager looks for (failed, drifted) come in two spellings of one rule: ``per_order``
    (the default) tests each order's sync row by an EXISTS, which a page in the orders' own order reads
    fastest (the newest orders until the page is full); ``per_order=False`` joins the sync rows, which a count
    reads fastest (only the rows in that state, by the state index): :class:`console.web.filters.OrderFilter`
    counts with it."""
    skipped = Q(sync_disabled=True) | Q(amo_sync__state=State.SKIPPED)
    if state == DisplayState.SKIPPED:
        return skipped
    if state == DisplayState.DRIFTED:  # a drifted order is synced, so never skipped
        return _drifted_q(ctx) if per_order else drift_q(ctx) & Q(sync_disabled=False)
    if state == DisplayState.FAILED and per_order:  # a failed row is neither skipped
        rows = OrderSync.objects.filter(order_id=OuterRef("pk")).filter(_failed_rows(ctx))
        return Q(Exists(rows)) & Q(sync_disabled=False)
    nothing = Q(pk__in=[])
    queued = Q(amo_sync__state=State.QUEUED)
    retrying = _retrying_q()
    failed = Q(amo_sync__state=State.FAILED)
    rules = {
        DisplayState.NOT_LINKED: Q(amo_sync__isnull=True)
        | Q(amo_sync__state__in=(State.NOT_SYNCED, State.UNLINKED)),
        DisplayState.RUNNING: Q(amo_sync__state=State.SYNCING),
        DisplayState.PAUSED: nothing if ctx.connected else queued,
        DisplayState.QUEUED: queued & ~retrying if ctx.connected else nothing,
        DisplayState.FAILED: failed | (queued & retrying) if ctx.connected else failed,
        DisplayState.SYNCED: Q(amo_sync__state=State.SYNCED) & ~drift_q(ctx),
    }
    return rules[DisplayState(state)] & ~skipped


def has_error_q() -> Q:
    """Orders whose sync row holds an error (failed, retrying, or paused after an error)."""
    return Q(amo_sync__isnull=False) & ~Q(amo_sync__error_kind="")


def state_counts(ctx: SyncContext, **orders: object) -> dict[str, int]:
    """``{display state: number of orders}`` over the orders matching the ``orders`` lookups (all orders when
    none; the dashboard counts ``is_active=True``).

    Two queries, each reading one narrow index (``order_active_sync_idx``, ``ordersync_display_idx``) rather
    than the wide rows: the orders alone (how many, how many kept out of amoCRM), then the sync rows of those
    orders, joined to their order by its primary key, each state counted by the row's state and flags. The
    states split the orders, so the orders without a row are what the second count leaves of the first, and
    "synced" is what the other states leave of the total."""
    mine = Order.objects.filter(**orders).aggregate(
        total=Count("pk"), disabled=Count("pk", filter=Q(sync_disabled=True))
    )
    enabled = Q(order__sync_disabled=False)

    def where(state: str, extra: Q | None = None) -> Q:
        # The state's test first: SQLite stops at the first false term of each row.
        return Q(state=state) & (extra or Q()) & enabled

    of_orders = {f"order__{lookup}": value for lookup, value in orders.items()}
    rows = OrderSync.objects.filter(**of_orders).aggregate(
        rows=Count("pk"),
        disabled=Count("pk", filter=Q(order__sync_disabled=True)),
        skipped=Count("pk", filter=where(State.SKIPPED)),
        not_linked=Count("pk", filter=Q(state__in=(State.NOT_SYNCED, State.UNLINKED)) & enabled),
        running=Count("pk", filter=where(State.SYNCING)),
        queued=Count("pk", filter=where(State.QUEUED)),
        retrying=Count("pk", filter=where(State.QUEUED, _retrying_q(sync=""))),
        failed=Count("pk", filter=where(State.FAILED)),
        drifted=Count("pk", filter=drift_q(ctx, sync="", order="order__") & enabled),
    )
    without_row = (mine["total"] - mine["disabled"]) - (rows["rows"] - rows["disabled"])
    retrying = rows["retrying"] if ctx.connected else 0
    counts = {
        DisplayState.QUEUED: rows["queued"] - retrying if ctx.connected else 0,
        DisplayState.RUNNING: rows["running"],
        DisplayState.FAILED: rows["failed"] + retrying,
        DisplayState.PAUSED: 0 if ctx.connected else rows["queued"],
        DisplayState.SKIPPED: mine["disabled"] + rows["skipped"],
        DisplayState.NOT_LINKED: without_row + rows["not_linked"],
        DisplayState.DRIFTED: rows["drifted"],
    }
    counts[DisplayState.SYNCED] = mine["total"] - sum(counts.values())
    return {state.value: counts[state] for state in DisplayState}


@dataclass(frozen=True)
class BulkProgress:
    """How far a bulk action over ``total`` orders got: ``pending`` are still queued or running."""

    total: int
    pending: int
    counts: dict[str, int]

    @property
    def done(self) -> int:
        return self.total - self.pending

    @property
    def finished(self) -> bool:
        return self.pending == 0

    @property
    def summary(self) -> str:
        """E.g. "5 synced · 1 failed" (the orders' display states now, most common first)."""
        order = list(DisplayState)
        ranked = sorted(self.counts.items(), key=lambda item: (-item[1], order.index(DisplayState(item[0]))))
        return " · ".join(f"{n} {LABELS[DisplayState(state)]}" for state, n in ranked if n)


def bulk_progress(*, order_ids: list[int], ctx: SyncContext) -> BulkProgress:
    """The display states of the given orders (one query): the progress of a bulk action over them."""
    orders = Order.objects.filter(pk__in=order_ids).select_related("amo_sync")
    counts: dict[str, int] = {}
    for order in orders:
        state = display_state(order, ctx).state.value
        counts[state] = counts.get(state, 0) + 1
    pending = sum(counts.get(state.value, 0) for state in ACTIVE)
    return BulkProgress(total=sum(counts.values()), pending=pending, counts=counts)
