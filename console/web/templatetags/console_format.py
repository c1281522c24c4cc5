"""The console's formats, the same on every page: ``{% load console_format %}``.

- ``{{ amount|money }}``: "441 800,00 ₽" in Russian, "441,800.00 ₽" in English (Django's number formats of
  the active language, grouped always; https://docs.djangoproject.com/en/5.2/topics/i18n/formatting/). The
  spaces are no-break spaces (U+00A0), so an amount never wraps.
- ``{{ moment|when }}``: a datetime as "dd.mm.yyyy HH:MM" in the console's time zone (``settings.TIME_ZONE``,
  Moscow), a date as "dd.mm.yyyy", Unix seconds (amoCRM's times) as a datetime; ``|when:"time"`` gives
  "HH:MM" only, ``|when:"today"`` "HH:MM" for a moment of today and the full form otherwise,
  ``|when:"seconds"`` with seconds, ``|when:"day"`` "dd.mm" (a chart's day). None and "" give "—"; a
  number that is no representable moment is shown as it is (rendering never raises).
- ``{{ customer.phone|phone }}``: "8 (999) 123-45-67" (``customers.normalize.display_phone``), "—" if none.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from django import template
from django.conf import settings
from django.utils import timezone
from django.utils.formats import number_format

from console.customers.normalize import display_phone

register = template.Library()

EMPTY = "—"
NBSP = "\u00a0"
FORMATS = {
    "": "%d.%m.%Y %H:%M",
    "time": "%H:%M",
    "date": "%d.%m.%Y",
    "seconds": "%d.%m.%Y %H:%M:%S",
    "day": "%d.%m",
}


def format_money(value: Any) -> str:
    """``value`` (Decimal, int, float or a numeric string) in roubles with two decimals; "—" if none."""
    if value is None or value == "":
        return EMPTY
    try:
        amount = Decimal(str(value).replace(NBSP, "").replace(" ", ""))
    except InvalidOperation:
        return str(value)
    return f"{number_format(amount, decimal_pos=2, use_l10n=True, force_grouping=True)}{NBSP}₽"


def console_time(value: dt.datetime | int | float) -> dt.datetime:
    """An aware datetime (or Unix seconds) in the console's time zone; a naive one is taken as UTC."""
    if isinstance(value, int | float):
        value = dt.datetime.fromtimestamp(value, tz=dt.UTC)
    elif value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(ZoneInfo(settings.TIME_ZONE))


def format_when(value: Any, part: str = "") -> str:
    """See the module docstring; ``part`` is "" (date and time), "time", "today", "date", "seconds" or
    "day"."""
    if value is None or value == "" or isinstance(value, bool):
        return EMPTY
    if isinstance(value, str):
        if not value.strip().isdigit():
            return value
        value = int(value)
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value.strftime(FORMATS["day" if part == "day" else "date"])
    try:
        moment = console_time(value)
    except (OverflowError, ValueError, OSError):  # no representable moment (a year past 9999): as given
        return str(value)
    if part == "today":
        part = "time" if moment.date() == console_time(timezone.now()).date() else ""
    return moment.strftime(FORMATS.get(part, FORMATS[""]))


@register.filter
def money(value: Any) -> str:
    return format_money(value)


@register.filter
def when(value: Any, part: str = "") -> str:
    return format_when(value, part)


@register.filter
def phone(value: Any) -> str:
    """A phone in the one national form ("8 (999) 123-45-67"); an empty one as "—"."""
    return display_phone(str(value)) if value else EMPTY
