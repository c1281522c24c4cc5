"""Filters of ``sync/_exchange.html``: a stored request or answer body indented for reading, and whether it
was cut by the cap."""

from __future__ import annotations

from django import template

from console.amocrm.api.exchanges import TRUNCATED
from console.web.exchanges import pretty_json as _pretty_json

register = template.Library()


@register.filter
def pretty_json(text: str) -> str:
    return _pretty_json(text or "")


@register.filter
def was_cut(text: str) -> bool:
    """True when the body was cut to ``AMOCRM_EXCHANGE_MAX_BYTES`` before it was kept."""
    return (text or "").endswith(TRUNCATED)
