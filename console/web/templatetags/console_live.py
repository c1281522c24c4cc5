"""The live screens' version of a page (``console.web.live``): ``{% load console_live %}``.

``{% order_version order %}`` for one order's page, ``{% table_version table %}`` for the orders list's rows
on the current page (and the newest order), ``{% list_rows_version table "customers" %}`` for the customers
(or companies) list's page, ``{% customer_card_version customer %}`` for a customer's card,
``{% log_page_version page "sync" %}`` (or ``"webhooks"``) for the sync log (or the webhook inbox) and
``{% failed_page_version %}`` for the failed syncs.
The page puts it in ``<meta name="console-live">``.
"""

from __future__ import annotations

from typing import Any

from django import template

from console.web.live import (
    CARD_ORDERS,
    customer_version,
    failed_version,
    list_version,
    log_version,
    orders_version,
)

register = template.Library()


@register.simple_tag
def order_version(order: Any) -> str:
    """The version of one order's page."""
    return orders_version([order.pk])


@register.simple_tag
def table_version(table: Any) -> str:
    """The version of the orders list: the rows of the table's current page and the newest order."""
    return orders_version([row.record.pk for row in table.page.object_list], newest=True)


@register.simple_tag
def customer_card_version(customer: Any) -> str:
    """The version of one customer's card."""
    return customer_version(customer.pk, orders=CARD_ORDERS)


@register.simple_tag
def list_rows_version(table: Any, kind: str) -> str:
    """The version of the ``kind`` list (``live.LIST_ROWS``): the rows of the table's current page."""
    return list_version(kind, [row.record.pk for row in table.page.object_list])


@register.simple_tag
def log_page_version(page: Any, kind: str) -> str:
    """The version of a ``kind`` log's page ``page`` (of the log as filtered; ``live.LOG_FIELDS``)."""
    return log_version(kind, page.paginator.object_list, [row.pk for row in page])


@register.simple_tag
def failed_page_version() -> str:
    """The version of the failed syncs page."""
    return failed_version()
