"""The console's home page: where the orders stand in amoCRM, what failed lately and why, the task queue, the
connection's health with what to do, orders whose deal moved elsewhere, and a week of sync attempts per hour.

The figures over all orders and the sync log (the :class:`Summary`) cost about a hundred milliseconds of
database work at 100,000 orders on SQLite, so each process keeps them while nothing they count has moved
(the connection's state, the newest sync log row, the newest order: what amoCRM changes comes as a logged
webhook, and a sync attempt logs its end), at most ``SUMMARY_SECONDS``, and after a slow count a while longer
(``_kept``); the page says how old they are. The
queue and the connection are read on every request. A constant number of queries
either way (at most 14, whatever the data's size).

The page is live (``console.web.live``): its script's poll costs one query (``connection_with_marks``), and
the page is sent again when a sync attempt or a webhook was logged, an order was added, the connection, its
webhook or the incidents changed, or its figures were counted afresh."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from django.core.cache.backends.locmem import LocMemCache
from django.db.models import Func, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from console.amocrm.alerts import incidents_open
from console.amocrm.models import AmoConnection, Incident, SyncLog, WebhookHealth
from console.amocrm.outbound.selectors import sync_failures_by_kind, sync_outcomes_per_hour, sync_queue_health
from console.orders.models import Order
from console.web import live, sync_state
from console.web.customer_lists import open_conflict_count
from console.web.decorators import staff_required
from console.web.errors import error_message
from console.web.webhook_health import webhook_health_shown

DRIFTED_SHOWN = 10
CHART_DAYS = 7
# The chart's geometry (SVG user units): one bar per hour.
BAR_WIDTH, BAR_GAP, CHART_HEIGHT, LABEL_HEIGHT = 5, 1, 120, 18
# How long a process keeps the summary. A local-memory cache
# (https://docs.djangoproject.com/en/5.2/topics/cache/#local-memory-caching), not the shared one: reading it
# takes no query (the shared cache is a database table in the embedded mode), and each process recomputing
# the figures once per period is cheap.
SUMMARY_SECONDS = 10
RECOUNT_AFTER_COSTS = 5
SUMMARIES = LocMemCache("console-dashboard", {"TIMEOUT": SUMMARY_SECONDS, "OPTIONS": {"MAX_ENTRIES": 20}})


# The webhook health the dashboard shows, loaded with the connection (one query for both).
_HEALTH_FIELDS = [
    f"webhook_health__{name}" for name in ("state", "reasons", "checked_at", "repaired_at", "broken_since")
]


def _loaded_health(connection: AmoConnection | None) -> WebhookHealth | None:
    try:
        return connection.webhook_health if connection else None
    except WebhookHealth.DoesNotExist:
        return None


class LiveMarks(NamedTuple):
    """What says the dashboard may show something new (``marks_of``)."""

    state: str  # the connection's
    log: int | None  # the newest sync log row
    order: int | None  # the newest order
    row: tuple  # everything read


def connection_with_marks() -> AmoConnection | None:
    """The connection with its webhook health and what ``marks_of`` reads, in one query."""
    marks = {
        "newest_log": Subquery(SyncLog.objects.order_by("-pk").values("pk")[:1]),
        "newest_order": Subquery(Order.objects.order_by("-pk").values("pk")[:1]),
        "open_incidents": Subquery(
            Incident.objects.filter(cleared_at__isnull=True)
            .order_by()
            .annotate(ids=Func("pk", function="SUM"))
            .values("ids")
        ),
    }
    return (
        AmoConnection.objects.filter(pk=1)
        .select_related("webhook_health")
        .only("state", "state_changed_at", "last_success_at", *_HEALTH_FIELDS)
        .annotate(**marks)
        .first()
    )


def marks_of(connection: AmoConnection | None) -> LiveMarks:
    """What says the dashboard may show something new: the connection's state and webhook health, the
    newest sync log row (every sync attempt and every webhook applied writes one), the newest order, and the
    open incidents. The queue's depth is left out: it moves all the time under load."""
    if connection is None:  # never connected: only orders and the log can change what the page shows
        log = SyncLog.objects.order_by("-pk").values_list("pk", flat=True).first()
        newest = Order.objects.order_by("-pk").values_list("pk", flat=True).first()
        return LiveMarks(AmoConnection.State.NOT_CONNECTED, log, newest, (log, newest))
    health = _loaded_health(connection)
    shown = [getattr(health, name.split("__")[1], None) for name in _HEALTH_FIELDS]
    row = (connection.state, connection.state_changed_at, connection.last_success_at, *shown)
    extra = (connection.newest_log, connection.newest_order, connection.open_incidents)
    return LiveMarks(connection.state, connection.newest_log, connection.newest_order, row + extra)


def _poll_version(request: HttpRequest) -> str:
    marks = marks_of(connection_with_marks())
    kept = _kept(marks)
    return live.digest([marks.row, kept.key if kept else _figures_key(marks)])


@require_GET
@staff_required
@live.live_condition(_poll_version)
def dashboard(request: HttpRequest) -> HttpResponse:
    """The dashboard (see the module docstring)."""
    connection = connection_with_marks()
    marks = marks_of(connection)
    state = marks.state
    figures = summary(marks)
    queue = sync_queue_health()
    now = timezone.now()
    context = {
        "summary": figures,
        "summary_seconds": SUMMARY_SECONDS,
        "counts": _state_cards(figures.counts),
        "drifted_count": figures.counts[sync_state.DisplayState.DRIFTED],
        "drifted": figures.drifted,
        "failures": [(kind, n, error_message(kind)[0]) for kind, n in figures.failures],
        "queue": queue,
        "queue_since": now - queue.oldest_age if queue.oldest_age else None,
        "connection": _connection_health(connection, state),
        "webhook_health": webhook_health_shown(_loaded_health(connection)),
        "chart": build_chart(figures.hours, figures.at),
        "incidents": incidents_open(),
        "live_version": live.digest([marks.row, figures.key]),
    }
    return render(request, "dashboard/index.html", context)


@dataclass(frozen=True)
class DriftedOrder:
    """A drifted order as the dashboard lists it."""

    pk: int
    number: str
    customer: str
    status: str


@dataclass(frozen=True)
class Summary:
    """The figures over all orders and the sync log, as of ``at``: active orders per display state, the first
    drifted ones, the last day's failed attempts per error kind, and attempts per hour for the chart."""

    at: datetime
    counts: dict[str, int]
    drifted: list[DriftedOrder]
    failures: list[tuple[str, int]]
    hours: dict[datetime, tuple[int, int]]
    conflicts: int = 0
    key: tuple = ()  # what they were counted as of (``_figures_key``)
    cost: float = 0.0  # seconds the count took


def _figures_key(marks: LiveMarks) -> tuple:
    """What the figures depend on: the connection's state (a queued order is "paused" while it is down),
    the newest log row, the newest order."""
    return (marks.state, marks.log, marks.order)


def _kept(marks: LiveMarks) -> Summary | None:
    """The kept figures a request would show now, or None when it would count them afresh: they are kept
    while what they depend on has not moved, and, when it has, until they are ``RECOUNT_AFTER_COSTS`` times
    as old as their count took (counting spends at most about a sixth of the time: at 100,000 orders the
    count takes ~0.1 s, so the next poll counts again; at a million, ~1 s, so it waits some 5 s)."""
    kept = SUMMARIES.get(f"summary:{marks.state}")
    if kept is None or kept.key == _figures_key(marks):
        return kept
    age = (timezone.now() - kept.at).total_seconds()
    return kept if age < kept.cost * RECOUNT_AFTER_COSTS else None


def summary(marks: LiveMarks) -> Summary:
    """The summary as of ``marks``: the kept one (``_kept``), else counted afresh and kept at most
    ``SUMMARY_SECONDS``."""
    figures = _kept(marks)
    if figures is None:
        started = time.perf_counter()
        figures = compute_summary(connection_state=marks.state, now=timezone.now())
        cost = time.perf_counter() - started
        figures = dataclasses.replace(figures, key=_figures_key(marks), cost=cost)
        SUMMARIES.set(f"summary:{marks.state}", figures)
    return figures


def compute_summary(*, connection_state: str, now: datetime) -> Summary:
    """The summary from the database: six queries (the stage map, two for the counts, the drifted orders
    when there are any, the failures, the week's attempts and the open conflicts' contacts and companies)."""
    ctx = sync_state.sync_context(connection_state=connection_state)
    counts = sync_state.state_counts(ctx, is_active=True)
    drifted = []
    if counts[sync_state.DisplayState.DRIFTED]:
        orders = sync_state.drifted(Order.objects.filter(is_active=True), ctx).select_related("customer")
        drifted = [
            DriftedOrder(o.pk, o.number, o.customer.name, str(o.get_status_display()))
            for o in orders.order_by("-created_at", "-id")[:DRIFTED_SHOWN]
        ]
    return Summary(
        at=now,
        counts=counts,
        drifted=drifted,
        failures=sync_failures_by_kind(since=now - timedelta(hours=24)),
        hours=sync_outcomes_per_hour(since=chart_hours(now)[0]),
        conflicts=open_conflict_count(),
    )


def _state_cards(counts: dict[str, int]) -> list[dict]:
    return [
        {"state": state, "label": sync_state.LABELS[sync_state.DisplayState(state)], "count": n}
        for state, n in counts.items()
    ]


def _connection_health(connection: AmoConnection | None, state: str) -> dict:
    """The connection's state in words and the one thing to do about it."""
    if state == AmoConnection.State.CONNECTED:
        advice = _("All good: orders go to amoCRM as they change.")
    elif state == AmoConnection.State.ERROR:
        advice = _("The last call to amoCRM failed: the connection page shows the error.")
    else:
        advice = str(error_message(state)[1])
    return {
        "state": state,
        "label": AmoConnection.State(state).label,
        "advice": advice,
        "since": connection.state_changed_at if connection else None,
        "last_success_at": connection.last_success_at if connection else None,
    }


# --- the chart ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    """One hour: the synced part from the baseline up, the failed part on top of it."""

    x: int
    synced: int
    failed: int
    scale: float
    title: str

    def svg(self) -> str:
        """The hour's ``<g>`` (empty for an hour without attempts), written with plain string formatting (168
        bars through ``format_html`` cost several milliseconds): every value is a number but the title, which
        is escaped. Numbers as Python writes them ("12.5"): a localised "12,5" is not SVG."""
        if not (self.synced or self.failed):
            return ""
        synced_height = round(self.synced * self.scale, 2)
        failed_height = round(self.failed * self.scale, 2)
        parts = [f"<g><title>{escape(self.title)}</title>"]
        if self.synced:
            parts.append(_rect("synced", self.x, CHART_HEIGHT - synced_height, synced_height))
        if self.failed:
            parts.append(_rect("failed", self.x, CHART_HEIGHT - synced_height - failed_height, failed_height))
        parts.append("</g>")
        return "".join(parts)


def _rect(kind: str, x: int, y: float, height: float) -> str:
    return f'<rect class="{kind}" x="{x}" y="{round(y, 2)}" width="{BAR_WIDTH}" height="{height}"></rect>'


@dataclass(frozen=True)
class Chart:
    """An inline SVG bar chart of ``hours`` bars (synced below, failed stacked on top)."""

    bars: list[Bar]
    days: list[dict]
    width: int
    height: int
    peak: int
    synced: int
    failed: int
    baseline: int = CHART_HEIGHT

    @property
    def svg_bars(self) -> str:
        """The bars as SVG markup, written here: 168 hours through template tags cost tens of ms."""
        return mark_safe("".join(bar.svg() for bar in self.bars))  # numbers, and titles escaped by Bar.svg


def chart_hours(now: datetime, *, days: int = CHART_DAYS) -> list[datetime]:
    """The chart's hours (local time), oldest first: the last ``days`` days up to the hour of ``now``."""
    last = timezone.localtime(now).replace(minute=0, second=0, microsecond=0)
    return [last - timedelta(hours=n) for n in range(days * 24 - 1, -1, -1)]


def build_chart(counts: dict[datetime, tuple[int, int]], now: datetime, *, days: int = CHART_DAYS) -> Chart:
    """The chart of the attempts per hour in ``counts`` (see ``sync_outcomes_per_hour``) over the ``days``
    days up to ``now``: bar geometry and per-day totals."""
    hours = chart_hours(now, days=days)
    values = [counts.get(hour, (0, 0)) for hour in hours]
    peak = max((synced + failed for synced, failed in values), default=0)
    scale = CHART_HEIGHT / peak if peak else 0
    title = _("%(hour)s: %(synced)s synced, %(failed)s failed")
    bars, day_rows = [], {}
    for index, (hour, (synced, failed)) in enumerate(zip(hours, values, strict=True)):
        x = index * (BAR_WIDTH + BAR_GAP)
        label = title % {"hour": hour.strftime("%d.%m %H:00"), "synced": synced, "failed": failed}
        bars.append(Bar(x, synced, failed, scale, label))
        day = day_rows.setdefault(hour.date(), {"x": x, "synced": 0, "failed": 0})
        day["synced"] += synced
        day["failed"] += failed
    return Chart(
        bars=bars,
        days=[{"date": date, **row} for date, row in day_rows.items()],
        width=len(hours) * (BAR_WIDTH + BAR_GAP),
        height=CHART_HEIGHT + LABEL_HEIGHT,
        peak=peak,
        synced=sum(v[0] for v in values),
        failed=sum(v[1] for v in values),
    )
