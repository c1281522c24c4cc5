"""One lifecycle for a create whose answer may be lost, the same for deals, contacts, companies, notes and
catalog elements (``models.UnconfirmedCreate``):

1. :func:`creates_sending` marks the creates as sent (a row per key) for as long as the call runs;
2. the caller stores the new ids and confirms them (:func:`creates_forget`); an error amoCRM answered means
   nothing was created: the mark is taken back at once;
3. a lost answer (``UnknownOutcome``, or a crash) leaves the mark: the next attempt waits until the create
   has settled in amoCRM (:func:`creates_settle_at`, ``retries.settled_at``), then looks the entity up
   (a deal by its order number, a contact by phone, a company by INN or name, a note among the deal's notes,
   a task among the deal's tasks by its text, an element by SKU) before creating it again.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from django.utils import timezone

from console.amocrm.api.errors import AmoCRMError, UnknownOutcome
from console.amocrm.models import Lease, UnconfirmedCreate
from console.amocrm.outbound.retries import settled_at

Kind = UnconfirmedCreate.Kind
LEAD, CONTACT, COMPANY, NOTE, ELEMENT = Kind.LEAD, Kind.CONTACT, Kind.COMPANY, Kind.NOTE, Kind.ELEMENT
TASK = Kind.TASK


@contextmanager
def creates_sending(
    kind: str, keys: Iterable[int], data: dict[int, Any] | None = None, *, holder: str = ""
) -> Iterator[None]:
    """Mark the creates of ``keys`` as sent now (with ``data[key]`` for the look-up) while the call runs.

    An answered error takes the marks back; a lost answer leaves them (the caller confirms what it stores).
    ``holder`` names the run sending, for creates no lease makes exclusive (catalog elements): while that
    run is alive its marks are in flight, not lost (:func:`creates_lost`)."""
    keys = sorted(set(keys))
    now = timezone.now()
    rows = []
    for key in keys:
        row_data = dict((data or {}).get(key, {}))
        if holder:
            row_data["holder"] = holder
        rows.append(UnconfirmedCreate(kind=kind, key=key, sent_at=now, data=row_data))
    # One statement, so two runs marking the same key at once (two orders of one product) both succeed: the
    # later mark takes the key over.
    UnconfirmedCreate.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["kind", "key"], update_fields=["sent_at", "data"]
    )
    try:
        yield
    except AmoCRMError as exc:
        if not isinstance(exc, UnknownOutcome):
            creates_forget(kind, keys, holder=holder)
        raise


def creates_forget(kind: str, keys: Iterable[int], *, holder: str = "") -> None:
    """The creates of ``keys`` are settled: their ids are stored (or nothing was created). With ``holder``,
    only that run's marks: a mark another run took over since is that run's to confirm."""
    keys = list(keys)
    if keys:
        marks = UnconfirmedCreate.objects.filter(kind=kind, key__in=keys)
        if holder:
            marks = marks.filter(data__holder=holder)
        marks.delete()


def order_creates_forget(order_id: int) -> None:
    """Forget the order's unconfirmed deal, note and task creates (its deal link was dropped or replaced)."""
    UnconfirmedCreate.objects.filter(kind__in=[LEAD, NOTE, TASK], key=order_id).delete()


def creates_unconfirmed(kinds: Iterable[str], keys: Iterable[int]) -> dict[int, dict[str, UnconfirmedCreate]]:
    """The unconfirmed creates of ``keys`` by key, then kind."""
    found: dict[int, dict[str, UnconfirmedCreate]] = {}
    keys = list(keys)
    if not keys:
        return found
    for row in UnconfirmedCreate.objects.filter(kind__in=list(kinds), key__in=keys):
        found.setdefault(row.key, {})[row.kind] = row
    return found


def creates_settle_at(kind: str, keys: Iterable[int]) -> datetime | None:
    """When the last unconfirmed create of ``keys`` has settled in amoCRM (None when none is unconfirmed)."""
    sent = (
        UnconfirmedCreate.objects.filter(kind=kind, key__in=list(keys))
        .order_by("-sent_at")
        .values_list("sent_at", flat=True)
        .first()
    )
    return settled_at(sent)


def creates_lost(rows: Iterable[UnconfirmedCreate]) -> list[UnconfirmedCreate]:
    """The ``rows`` whose answer was lost: all but those a live run is still sending (its holder holds a live
    lease; it confirms them or leaves them lost when it ends)."""
    rows = list(rows)
    holders = {row.data.get("holder") for row in rows} - {None, ""}
    alive = set(
        Lease.objects.filter(holder__in=holders, until__gte=timezone.now()).values_list("holder", flat=True)
    )
    return [row for row in rows if row.data.get("holder") not in alive]


def settles_of(rows: Iterable[UnconfirmedCreate]) -> datetime | None:
    """When the last of ``rows`` has settled (None for no rows)."""
    return max((settled_at(row.sent_at) for row in rows), default=None)
