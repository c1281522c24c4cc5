"""How the orders list reads a page of a large table: the page's ids first, then those rows whole; and how
it counts them: through a spelling of its filters written for counting (``OrderFilter.total``), exactly up to
``EXACT_UP_TO`` rows, estimated past that on PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.core.paginator import Paginator
from django.db import connection
from django.db.models import QuerySet


class DeferredJoinQuerySet(QuerySet):
    """A queryset whose slices (a list's page) are read in two steps: the page's ids in the list's order,
    from what the filters and the order need alone, then those rows with their ``select_related`` joins by
    primary key (a "deferred join"). A deep page then skips tens of thousands of ids rather than wide joined
    rows: page 900 of 100,000 orders on PostgreSQL reads the skipped orders' index entries, not their
    customers, companies and sync rows."""

    def __getitem__(self, k: Any) -> Any:
        if not isinstance(k, slice) or self._result_cache is not None or self._fields is not None:
            return super().__getitem__(k)  # one row, rows already read, or the ids' own slice
        ids = list(self.values_list("pk", flat=True)[k])
        rows = self.model._default_manager.filter(pk__in=ids)
        rows.query.select_related = self.query.select_related
        rows._prefetch_related_lookups = self._prefetch_related_lookups
        found = {row.pk: row for row in rows}
        return [found[pk] for pk in ids if pk in found]


class CountedPaginator(Paginator):
    """A paginator told how to count its rows (``count``): the orders list counts through another spelling
    of its filters than the one that reads the page (``OrderFilter.count``)."""

    def __init__(self, object_list: Any, per_page: int, *, count: Callable[[], int], **options: Any) -> None:
        super().__init__(object_list, per_page, **options)
        self._count = count

    @cached_property
    def count(self) -> int:
        return self._count()


# Up to this many rows a list counts exactly; above, on PostgreSQL, it says about how many (``total``).
EXACT_UP_TO = 1000


@dataclass(frozen=True)
class Total:
    """How many rows a list holds: ``n``, and whether it is the planner's estimate."""

    n: int
    estimated: bool = False


def total(queryset: QuerySet, *, estimate: bool = True) -> Total:
    """How many rows ``queryset`` holds. On PostgreSQL a count reads every matching row (tens of
    thousands of failed orders among a million take ~400 ms): it counts up to ``EXACT_UP_TO`` and stops; past
    that the planner's estimate serves, as a page's "about 50,000 orders"
    (https://wiki.postgresql.org/wiki/Count_estimate). ``estimate=False`` where the planner cannot know (a
    condition comparing two tables' columns, as drift does): an exact count. SQLite counts at its sizes fast
    enough: exactly."""
    rows = queryset.order_by().values("pk")
    if connection.vendor != "postgresql" or not estimate:
        return Total(rows.count())
    first = rows[: EXACT_UP_TO + 1].count()
    if first <= EXACT_UP_TO:
        return Total(first)
    sql, params = rows.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return Total(max(first, int(plan[0]["Plan"]["Plan Rows"])), estimated=True)
