"""How the orders list reads a page of a large table: the page's ids first, then those rows whole; and a
count written for counting (``OrderFilter.count``)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any

from django.core.paginator import Paginator
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
