"""Support reads what a sync attempt sent to amoCRM and what amoCRM answered, on the order's history and on
the failed-sync page; a manager does not (role action ``sync.exchanges``). The data comes from a real
refused push to the sandbox."""

from __future__ import annotations

from collections.abc import Callable
from html import unescape
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from console.amocrm.models import AmoConnection, SyncExchange, SyncLog
from console.orders.models import Order
from tests.fixtures.builders import make_user
from tests.fixtures.sync import committed

SUMMARY = "What was sent / What amoCRM answered"


def _client(role: str) -> Client:
    client = Client()
    client.force_login(make_user(role, role=role))
    return client


@pytest.fixture
def refused(amo: Any, make_order: Callable[..., Order]) -> Order:
    """An order whose deal create amoCRM refused with a 400 (a lead field id it does not know)."""
    connection = AmoConnection.get_solo()
    AmoConnection.objects.filter(pk=1).update(lead_field_ids={**connection.lead_field_ids, "source": 424242})
    with committed():
        return make_order()


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["order", "failed"])
def test_support_sees_the_body_sent_and_the_400_answer(refused: Order, page: str) -> None:
    url = reverse("web:order_detail", args=[refused.pk]) if page == "order" else reverse("web:sync_failed")
    html = unescape(_client("support").get(url).content.decode())

    create = SyncExchange.objects.get(run=SyncLog.objects.get(order=refused).run, status=400)
    assert SUMMARY in html
    assert f"POST {create.path}</code> → HTTP 400" in html
    assert '"field_id": 424242' in html  # the body sent, pretty-printed
    assert create.request_id in html
    assert "What amoCRM answered" in html


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["order", "failed"])
def test_a_manager_does_not_see_what_was_sent(refused: Order, page: str) -> None:
    url = reverse("web:order_detail", args=[refused.pk]) if page == "order" else reverse("web:sync_failed")
    response = _client("manager").get(url)

    assert response.status_code == 200
    assert SUMMARY not in unescape(response.content.decode())


@pytest.mark.django_db
def test_the_failed_page_reads_the_exchanges_in_a_fixed_number_of_queries(
    refused: Order, make_order: Callable[..., Order], django_assert_max_num_queries: Any
) -> None:
    client = _client("support")
    client.get(reverse("web:sync_failed"))  # warm the session and the caches
    with django_assert_max_num_queries(30) as one:
        client.get(reverse("web:sync_failed"))
    with committed():
        make_order(), make_order()
    with django_assert_max_num_queries(len(one.captured_queries)):
        html = client.get(reverse("web:sync_failed")).content.decode()
    assert html.count('class="small sync-exchanges"') == 3
