"""What a sync run sent to amoCRM and what it answered, for support: the run's client collects each request
(``console.amocrm.api.exchanges``, redacted and capped) and the run stores them once, in one insert, under
its name (``SyncLog.run`` of each attempt it logged); they are kept ``AMOCRM_EXCHANGE_DAYS`` days."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from console.amocrm.api.exchanges import ExchangeLog
from console.amocrm.models import SyncExchange


def exchanges_store(*, run: str, log: ExchangeLog | None) -> int:
    """Store the requests ``log`` collected under ``run`` (one bulk insert; none when nothing was sent)."""
    if log is None or not log.items or not run:
        return 0
    rows = [
        SyncExchange(
            run=run,
            seq=seq,
            at=item.at,
            method=item.method,
            path=item.path,
            status=item.status,
            request_body=item.request,
            response_body=item.response,
            request_bytes=item.request_bytes,
            response_bytes=item.response_bytes,
            request_id=item.request_id,
        )
        for seq, item in enumerate(log.items)
    ]
    SyncExchange.objects.bulk_create(rows)
    return len(rows)


def exchanges_of_runs(runs: Iterable[str]) -> dict[str, list[SyncExchange]]:
    """The stored exchanges of each of ``runs``, in the order they were sent (one query)."""
    wanted = {run for run in runs if run}
    by_run: dict[str, list[SyncExchange]] = defaultdict(list)
    if wanted:
        for row in SyncExchange.objects.filter(run__in=wanted).order_by("run", "seq"):
            by_run[row.run].append(row)
    return dict(by_run)


def exchanges_prune(*, older_than: timedelta | None = None) -> int:
    """Delete the exchanges older than ``older_than`` (``AMOCRM_EXCHANGE_DAYS``); returns the count."""
    age = older_than if older_than is not None else timedelta(days=settings.AMOCRM_EXCHANGE_DAYS)
    deleted, _ = SyncExchange.objects.filter(at__lt=timezone.now() - age).delete()
    return deleted
