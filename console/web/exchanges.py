"""What a sync attempt sent to amoCRM and what amoCRM answered, for support (role action
``sync.exchanges``): attached to the attempts of an order's history and to the failed-sync page's orders,
rendered by ``templates/sync/_exchange.html``."""

from __future__ import annotations

import json
from typing import Any

from console.amocrm.models import OrderSync, SyncLog
from console.amocrm.outbound.exchanges import exchanges_of_runs
from console.roles import can
from console.web.errors import FailureGroup
from console.web.timeline import Event

FAILED = (SyncLog.Outcome.FAILED, SyncLog.Outcome.RETRY)


def pretty_json(text: str) -> str:
    """``text`` indented when it is JSON (a body cut by the cap is not: it is shown as it is)."""
    try:
        return json.dumps(json.loads(text), ensure_ascii=False, indent=2)
    except ValueError:
        return text


def timeline_with_exchanges(events: list[Event], user: Any) -> list[Event]:
    """``events`` (an order's timeline), each sync attempt given its run's exchanges as ``row.exchanges``
    when ``user`` may read them (one query)."""
    if not can(user, "sync.exchanges"):
        return events
    attempts = [event.row for event in events if event.kind == "sync"]
    by_run = exchanges_of_runs(row.run for row in attempts)
    for row in attempts:
        row.exchanges = by_run.get(row.run, [])
    return events


def failed_with_exchanges(groups: list[FailureGroup], user: Any) -> list[FailureGroup]:
    """The failed-sync page's ``groups``, each order shown given the exchanges of its last failed attempt as
    ``sync.exchanges`` when ``user`` may read them (two queries)."""
    if not can(user, "sync.exchanges"):
        return groups
    syncs: list[OrderSync] = [sync for group in groups for sync in group.rows]
    last_run: dict[int, str] = {}
    logs = SyncLog.objects.filter(order_id__in=[s.order_id for s in syncs], outcome__in=FAILED)
    logs = logs.exclude(run="")
    for order_id, run in logs.order_by("order_id", "-started_at", "-id").values_list("order_id", "run"):
        last_run.setdefault(order_id, run)
    by_run = exchanges_of_runs(last_run.values())
    for sync in syncs:
        sync.exchanges = by_run.get(last_run.get(sync.order_id, ""), [])
    return groups
