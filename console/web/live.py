"""Live screens: the order page, the orders list, the customers and companies lists, the customer card, the
sync log, the webhook inbox, the failed syncs page and the dashboard show changes made in amoCRM (a deal
moved, paid, reassigned, a contact edited, a deal created there: whatever lands on the order, its customer or
its sync state) without a reload.

The page carries a version of what it shows (``orders_version``: a hash of the shown columns of its orders,
read in one query by primary key) in ``<meta name="console-live">``; ``static/console/live.js`` asks for the
same address every 2 s with ``X-Console-Live: 1`` and ``If-None-Match: "<version>"``. ``live_condition``
answers ``304 Not Modified`` after that one query when nothing changed, and otherwise lets the view render the
page as usual (read after the version, so a change in between only costs one more render), with the new
version in ``ETag``; the script swaps the parts that differ. It is HTTP's own conditional GET
(https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/If-None-Match), asked for by our script
only: ordinary page loads carry no ``ETag``, so a browser never answers itself from its cache.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any

from django.db.models import Func, OuterRef, Q, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified
from django.utils.cache import add_never_cache_headers

from console.amocrm.models import PartyConflict
from console.amocrm.outbound.selectors import sync_failed_list
from console.customers.models import Customer
from console.orders.models import Order
from console.web.customer_lists import companies_queryset, customers_queryset

LIVE_HEADER = "X-Console-Live"
# The list's script names the orders it shows (their ids, "1,2,3"): the list's filters are not re-run.
IDS_HEADER = "X-Console-Live-Ids"
MAX_IDS = 200
# The orders a customer card lists (its latest ones).
CARD_ORDERS = 50

# What the order page and the list's rows show of an order. ``updated_at`` moves on every save of the order;
# the sync row is written by partial updates that leave its ``updated_at`` alone, so its shown columns count.
ORDER_FIELDS = (
    "pk",
    "updated_at",
    "status",
    "payment_status",
    "paid_amount",
    "responsible",
    "is_active",
    "customer__updated_at",
    "customer__company__updated_at",
    "amo_loss_reason__set_at",  # the reason of a lost deal, written after its status
)
SYNC_FIELDS = tuple(
    f"amo_sync__{name}"
    for name in (
        "state",
        "task_pending",
        "lead_id",
        "previous_lead_id",
        "amo_pipeline_id",
        "amo_status_id",
        "amo_seen_at",
        "lead_deleted_at",
        "last_synced_at",
        "next_retry_at",
        "attempts",
        "error_kind",
        "error",
        "updated_at",
    )
)


def rows_version(shown: QuerySet, ids: Iterable[int], fields: Iterable[str], newest: QuerySet | None) -> str:
    """A short hash of the ``fields`` of the rows ``ids`` of ``shown`` and, with ``newest``, of the newest
    row's id there (so a list learns that a row was added), in one query by primary key. The newest id alone
    when none of ``ids`` is found."""
    ids, fields = sorted(set(ids)), list(fields)
    rows = shown.filter(pk__in=ids).order_by("pk")
    top = None
    if newest is not None:
        top = newest.order_by("-pk").values("pk")[:1]
        rows, fields = rows.annotate(newest=Subquery(top)), [*fields, "newest"]
    values = list(rows.values_list(*fields)) if ids else []
    return digest(values or [top.values_list("pk", flat=True).first() if top is not None else None])


def orders_version(ids: Iterable[int], *, newest: bool = False) -> str:
    """A short hash of what the pages show of the orders ``ids``, in one query by primary key. With
    ``newest`` it also covers the newest order's id, so a list learns that an order was added."""
    return rows_version(Order.objects, ids, (*ORDER_FIELDS, *SYNC_FIELDS), Order.objects if newest else None)


# What the customer card shows of the customer, its company, its amoCRM link and open conflicts.
CUSTOMER_FIELDS = (
    "updated_at",
    "is_active",
    "company__updated_at",
    "amo_link__contact_id",
    "amo_link__company_id",
    "amo_link__update_pending",
    "amo_link__updated_at",
)


def customer_version(pk: int, *, orders: int) -> str:
    """A short hash of what the customer card shows: the customer's row (its company, its amoCRM link and
    how many conflicts on its contact or company are open) in one query, its latest ``orders`` orders in
    another."""
    open_conflicts = PartyConflict.objects.filter(
        Q(party="contact", object_id=OuterRef("pk")) | Q(party="company", object_id=OuterRef("company_id")),
        resolved_at__isnull=True,
    )
    counted = open_conflicts.order_by().annotate(n=Func("pk", function="COUNT")).values("n")
    customer = Customer.objects.filter(pk=pk).annotate(conflicts=Subquery(counted))
    shown = Order.objects.filter(customer_id=pk).order_by("-created_at", "-id")[:orders]
    return digest(
        [
            list(customer.values_list(*CUSTOMER_FIELDS, "conflicts")),
            list(shown.values_list(*ORDER_FIELDS, *SYNC_FIELDS)),
        ]
    )


# What the customers and companies lists show of each row (a contact edited in amoCRM moves ``updated_at``,
# a deal created there adds an order), and how their rows are read for it.
LIST_ROWS: dict[str, tuple[Callable[[], QuerySet], tuple[str, ...]]] = {
    "customers": (
        customers_queryset,
        ("pk", "updated_at", "is_active", "company__updated_at", "order_count"),
    ),
    "companies": (companies_queryset, ("pk", "updated_at", "customer_count")),
}


def list_version(kind: str, ids: Iterable[int]) -> str:
    """A short hash of what the ``kind`` list (``LIST_ROWS``) shows of its rows ``ids`` and of its newest
    row's id (so the list learns that one was added), in one query by primary key."""
    rows, fields = LIST_ROWS[kind]
    return rows_version(rows(), ids, fields, rows().model.objects)


def list_page_version(kind: str) -> Callable[[HttpRequest], str]:
    """The ``kind`` list page's version (``live_condition``'s ``version_of``): the rows its script names."""
    return lambda request: list_version(kind, requested_ids(request))


# What the log pages show of a row that may change after it is written: the sync log's (written once, only
# "resolved" set later) and the webhook inbox's (a delivery is processed, retried, replayed).
LOG_FIELDS = {
    "sync": ("pk", "resolved"),
    "webhooks": ("pk", "outcome", "attempts", "processed_at", "order_id"),
}


def log_version(kind: str, rows: QuerySet, ids: Iterable[int]) -> str:
    """A short hash of what a ``kind`` log page (``LOG_FIELDS``) shows: its rows ``ids`` and the newest of
    ``rows`` (the log as filtered), in one query by primary key."""
    return rows_version(rows.model.objects, ids, LOG_FIELDS[kind], rows)


def log_page_version(kind: str, rows_of: Callable[[HttpRequest], QuerySet]) -> Callable[[HttpRequest], str]:
    """The ``kind`` log page's version (``live_condition``'s ``version_of``): the rows its script names, and
    the newest of ``rows_of(request)`` (the log as the request filters it)."""
    return lambda request: log_version(kind, rows_of(request), requested_ids(request))


def failed_version() -> str:
    """A short hash of what the failed syncs page shows of its orders (one query over the failed rows)."""
    rows = sync_failed_list().order_by("order_id")
    return digest(list(rows.values_list(*FAILED_FIELDS)))


FAILED_FIELDS = ("order_id", "state", "attempts", "next_retry_at", "error_kind", "error", "last_synced_at")


def digest(rows: list[Any]) -> str:
    """A short hash of ``rows`` (their ``repr``): a page's live version."""
    return hashlib.blake2b(repr(rows).encode(), digest_size=10).hexdigest()


def is_live(request: HttpRequest) -> bool:
    """True for the live script's polls (not for page loads, htmx fragments or anything else)."""
    return request.headers.get(LIVE_HEADER) == "1"


def requested_ids(request: HttpRequest) -> list[int]:
    """The order ids the list's script names (``IDS_HEADER``); anything that is not an id is ignored."""
    raw = request.headers.get(IDS_HEADER, "")
    return [int(part) for part in raw.split(",")[:MAX_IDS] if part.strip().isdigit()]


def live_condition(
    version_of: Callable[..., str],
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Wrap a GET view for the live script: ``version_of(request, *args, **kwargs)`` gives the current
    version; a live poll whose ``If-None-Match`` names it gets ``304`` without running the view; any other
    live poll gets the view's answer with the version in ``ETag``. Other requests go straight to the view."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not is_live(request):
                return view(request, *args, **kwargs)
            etag = f'"{version_of(request, *args, **kwargs)}"'
            if etag in request.headers.get("If-None-Match", ""):
                response: HttpResponse = HttpResponseNotModified()
            else:
                response = view(request, *args, **kwargs)
            response["ETag"] = etag
            add_never_cache_headers(response)
            return response

        return wrapped

    return decorator


def order_page_version(request: HttpRequest, pk: int) -> str:
    """The order page's version (``live_condition``'s ``version_of``)."""
    return orders_version([pk])


def customer_page_version(request: HttpRequest, pk: int) -> str:
    """The customer card's version (``live_condition``'s ``version_of``)."""
    return customer_version(pk, orders=CARD_ORDERS)


def order_list_version(request: HttpRequest) -> str:
    """The orders list's version: the orders the script names, and the newest order's id."""
    return orders_version(requested_ids(request), newest=True)
