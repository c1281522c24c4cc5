"""One claim shape for all background work: a lease says who holds what until when (``models.Lease``).

- :func:`leases_take` takes the free or expired leases of some keys in one short transaction: it deletes the
  expired rows, inserts one row per key ignoring the keys someone else holds (the unique (kind, key) decides
  between two takers, on SQLite and PostgreSQL alike), and reads back which rows are the caller's.
- :func:`leases_renew` moves every lease of a holder forward in one UPDATE; a holder calls it from its
  heartbeat at most every sixth of :func:`lease_seconds` (:func:`renew_due`).
- :func:`leases_release` deletes a holder's leases (:func:`leases_held` says which it holds).
- :func:`lease_live` / :func:`lease_exists`: whether someone holds a key now (the second for querysets).

One clock: a lease lasts ``AMOCRM_LEASE_SECONDS`` (60 s) past its last renewal; a worker killed meanwhile has
its work taken over within that time.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from console.amocrm.models import Lease

ORDER = "order"  # key: the order id (a sync run)
CONTACT = "contact"  # key: the customer id (finding or creating the customer's contact)
COMPANY = "company"  # key: the company id (finding or creating the company)
WEBHOOKS = "webhooks"  # key: 0 for the one processing task, or an inbox row id


def lease_seconds() -> float:
    """How long a lease lasts past its last renewal (``AMOCRM_LEASE_SECONDS``)."""
    return float(settings.AMOCRM_LEASE_SECONDS)


def lease_until(now: datetime | None = None) -> datetime:
    """The end of a lease taken or renewed at ``now``."""
    return (now or timezone.now()) + timedelta(seconds=lease_seconds())


def renew_due(seconds_since_renewal: float) -> bool:
    """A holder renews its leases at most every sixth of their length (five renewals before one expires)."""
    return seconds_since_renewal >= lease_seconds() / 6


def new_holder() -> str:
    """A name for one worker's run, unique across processes."""
    return uuid.uuid4().hex


def leases_take(*, kind: str, keys: Iterable[int], holder: str) -> set[int]:
    """Take the leases of ``keys`` that nobody holds (or whose holder stopped renewing them).

    Returns the keys ``holder`` holds afterwards (including those it held already)."""
    keys = sorted(set(keys))
    if not keys:
        return set()
    now = timezone.now()
    with transaction.atomic():
        Lease.objects.filter(kind=kind, key__in=keys, until__lt=now).delete()
        Lease.objects.bulk_create(
            [Lease(kind=kind, key=key, holder=holder, until=lease_until(now)) for key in keys],
            ignore_conflicts=True,
        )
        return set(Lease.objects.filter(kind=kind, key__in=keys, holder=holder).values_list("key", flat=True))


def leases_renew(*, holder: str) -> int:
    """Move every lease ``holder`` holds forward to a full length from now; returns how many."""
    return Lease.objects.filter(holder=holder).update(until=lease_until())


def leases_held(*, holder: str, kinds: Iterable[str]) -> dict[str, set[int]]:
    """The keys ``holder`` holds, by kind (only the ``kinds`` asked for, each present)."""
    held: dict[str, set[int]] = {kind: set() for kind in kinds}
    for kind, key in Lease.objects.filter(holder=holder, kind__in=list(held)).values_list("kind", "key"):
        held[kind].add(key)
    return held


def leases_release(*, holder: str, kinds: Iterable[str], keys: Iterable[int] | None = None) -> int:
    """Give back ``holder``'s leases of ``kinds`` (only those of ``keys`` when given); returns how many."""
    held = Lease.objects.filter(holder=holder, kind__in=list(kinds))
    if keys is not None:
        held = held.filter(key__in=list(keys))
    deleted, _ = held.delete()
    return deleted


def leases_expire(*, kind: str) -> int:
    """Delete the leases of ``kind`` whose holder stopped renewing them; returns how many."""
    deleted, _ = Lease.objects.filter(kind=kind, until__lt=timezone.now()).delete()
    return deleted


def lease_live(*, kind: str, key: int) -> bool:
    """Someone holds the lease of ``key`` now."""
    return Lease.objects.filter(kind=kind, key=key, until__gte=timezone.now()).exists()


def lease_exists(kind: str, key: OuterRef | str, holder: str | None = None) -> Exists:
    """A filter for querysets: a live lease of ``kind`` on ``key`` (a column, e.g. ``OuterRef("order_id")``),
    held by ``holder`` when given (then whether it is past its time does not matter: nobody took it over)."""
    rows = Lease.objects.filter(kind=kind, key=OuterRef(key) if isinstance(key, str) else key)
    rows = rows.filter(until__gte=timezone.now()) if holder is None else rows.filter(holder=holder)
    return Exists(rows)
