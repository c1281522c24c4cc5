"""The conflicts partial on the order page and its resolve view (POST, audited on the conflict row)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.urls import reverse

from console.amocrm.models import Party, PartyConflict
from console.orders.models import Order

pytestmark = pytest.mark.django_db


def conflict(order: Order) -> PartyConflict:
    return PartyConflict.objects.create(
        party=Party.CONTACT, object_id=order.customer_id, field="first_name", ours="Ольга", theirs="Пётр"
    )


def test_the_order_page_shows_the_customers_open_conflict_in_russian(
    admin_client: Any, make_order: Callable[..., Order]
) -> None:
    order = make_order()
    conflict(order)
    page = admin_client.get(reverse("web:order_detail", args=[order.pk]), HTTP_ACCEPT_LANGUAGE="ru")
    text = page.content.decode()
    assert "Изменено и в amoCRM, и здесь" in text and "Пётр" in text


def test_taking_theirs_resolves_it_and_records_who(
    admin_client: Any, make_order: Callable[..., Order]
) -> None:
    order = make_order()
    row = conflict(order)
    back = reverse("web:order_detail", args=[order.pk])
    url = reverse("web:conflict_resolve", args=[row.pk])
    response = admin_client.post(url, {"keep": "theirs", "next": back})
    row.refresh_from_db()
    order.customer.refresh_from_db()
    assert response["Location"] == back
    assert (row.resolution, order.customer.first_name) == ("theirs", "Пётр")
    assert row.resolved_by == "admin"
    assert "Изменено" not in admin_client.get(back, HTTP_ACCEPT_LANGUAGE="ru").content.decode()


def test_a_bad_choice_or_a_get_changes_nothing(admin_client: Any, make_order: Callable[..., Order]) -> None:
    row = conflict(make_order())
    url = reverse("web:conflict_resolve", args=[row.pk])
    assert admin_client.get(url).status_code == 405
    assert admin_client.post(url, {"keep": "both", "next": "https://evil.example/"}).status_code == 302
    row.refresh_from_db()
    assert row.resolved_at is None
