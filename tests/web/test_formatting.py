"""One format for money and dates on every page (console/web/templatetags/console_format.py), the offline
API docs, and messages that name what a change did."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pytest
from django.template import Context, Template
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from console.web.templatetags.console_format import format_money, format_when

NBSP = "\u00a0"


@pytest.mark.parametrize(
    ("language", "value", "expected"),
    [
        ("ru", Decimal("441800"), "441 800,00 ₽"),
        ("en", Decimal("441800"), "441,800.00 ₽"),
        ("ru", "1234567.5", "1 234 567,50 ₽"),
        ("en", 99.99, "99.99 ₽"),
        ("ru", Decimal("-1500.10"), "-1 500,10 ₽"),
    ],
)
def test_money_is_grouped_with_two_decimals_in_the_active_language(
    language: str, value: Any, expected: str
) -> None:
    with translation.override(language):
        assert format_money(value).replace(NBSP, " ") == expected


def test_money_never_wraps_and_shows_a_dash_for_nothing() -> None:
    with translation.override("ru"):
        assert format_money(Decimal("441800")) == f"441{NBSP}800,00{NBSP}₽"
    assert format_money(None) == "—"


def test_the_money_filter_renders_in_a_template() -> None:
    with translation.override("en"):
        html = Template("{% load console_format %}{{ v|money }}").render(Context({"v": Decimal("5")}))
    assert html == f"5.00{NBSP}₽"


def test_dates_and_times_are_shown_in_moscow_time() -> None:
    moment = dt.datetime(2026, 3, 9, 21, 5, tzinfo=dt.UTC)  # 00:05 on the 10th in Moscow
    assert format_when(moment) == "10.03.2026 00:05"
    assert format_when(moment, "time") == "00:05"
    assert format_when(moment, "seconds") == "10.03.2026 00:05:00"
    assert format_when(dt.date(2026, 3, 9)) == "09.03.2026"
    assert format_when(int(moment.timestamp())) == "10.03.2026 00:05"  # amoCRM's Unix seconds
    assert format_when(None) == "—"


def test_today_shows_only_the_time() -> None:
    now = timezone.now()
    assert re.fullmatch(r"\d\d:\d\d", format_when(now, "today"))
    assert re.fullmatch(r"\d\d\.\d\d\.\d{4} \d\d:\d\d", format_when(now + dt.timedelta(days=2), "today"))


def test_the_when_filter_renders_in_a_template() -> None:
    moment = dt.datetime(2026, 3, 9, 9, 0, tzinfo=dt.UTC)
    html = Template('{% load console_format %}{{ m|when }} {{ m|when:"time" }}').render(
        Context({"m": moment})
    )
    assert html == "09.03.2026 12:00 12:00"


@pytest.mark.django_db
def test_the_api_docs_load_only_local_assets(client: Client) -> None:
    response = client.get("/api/v1/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assets = re.findall(r'(?:src|href)\s*=\s*["\']([^"\']+)', html)
    assets += re.findall(r'["\']((?:https?:)?//[^"\']+)', html)
    assert any("swagger-ui" in url for url in assets), assets
    for url in assets:
        assert url.startswith("/") and not url.startswith("//"), url
    assert "cdn" not in html.lower()


@pytest.mark.django_db
def test_changing_the_status_names_the_new_status(staff_user: Any, make_order: Any) -> None:
    order = make_order()
    client = Client()
    client.force_login(staff_user)
    with translation.override("en"):
        response = client.post(
            reverse("web:order_action", args=[order.pk]),
            {"action": "status", "status": "reserved"},
            follow=True,
        )
    assert "Status changed to “Reserved”" in response.content.decode()
