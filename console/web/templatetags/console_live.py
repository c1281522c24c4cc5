"""The live screens' version of a page (``console.web.live``): ``{% load console_live %}``.

``{% order_version order %}`` for one order's page, ``{% table_version table %}`` for the orders list's rows
on the current page (and the newest order), ``{% customer_card_version customer %}`` for a customer's card.
The page puts it in ``<meta name="console-live">``.
"""

from __future__ import annotations

from typing import Any

from django import template

from console.web.live import CARD_ORDERS, customer_version, orders_version

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
