"""Issue 13: an id nobody could have (2**63 and beyond, negative, not a number) typed into any console form,
filter or address is a form error, a message, a 400 or a 404: never a 500 (an ``OverflowError`` from the
database driver).

The walk covers every id-bearing input of the console: list filters, bulk ids, the customer picker, the
link-to-deal form, the order form's customer and product ids, and the ``<int:pk>`` addresses.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from console.amocrm.models import OrderSync
from console.customers.serializers import MAX_ID
from console.orders.models import Order
from console.web import urls as web_urls
from console.web.filters import OrderFilter
from tests.web.orders_world import form_data

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("products")]

BAD_IDS: list[Any] = [2**63, 2**64, -(2**63) - 1, -1, 0, "9" * 40, "1e309", "abc", "", " 12 ", "12\x00", "١٢"]
IDS = [repr(value)[:14] for value in BAD_IDS]
OK = {200, 204, 302, 400, 404}

# (url name, query parameter) of every GET filter: the orders list's own filters (whatever they become), and
# the ids and numbers the other pages read.
GET_FILTERS = [
    *[("web:orders", name) for name in OrderFilter.base_filters],
    *[("web:orders_export", name) for name in OrderFilter.base_filters],
    ("web:orders", "page"),
    ("web:orders", "sort"),
    ("web:orders", "customer"),
    ("web:orders", "lead"),
    ("web:orders", "order"),
    ("web:orders_export", "customer"),
    ("web:customer_picker", "customer_q"),
    ("web:sync_log", "order"),
    ("web:sync_log", "lead"),
    ("web:sync_log", "page"),
    ("web:sync_log", "trigger"),
    ("web:sync_log", "outcome"),
    ("web:webhooks", "outcome"),
    ("web:sync_bulk_status", "ids"),
    ("web:webhooks", "lead"),
    ("web:webhooks", "order"),
    ("web:webhooks", "page"),
]

# Every console address with an ``<int:…>`` in it (whatever they become).
PK_ROUTES = [pattern.name for pattern in web_urls.urlpatterns if "<int:" in str(pattern.pattern)]


@pytest.fixture
def admin(admin_client: Client) -> Client:
    admin_client.raise_request_exception = False
    return admin_client


def _ok(response: Any) -> None:
    assert response.status_code in OK, (response.status_code, response.content[:500])


@pytest.mark.parametrize("value", BAD_IDS, ids=IDS)
@pytest.mark.parametrize(("name", "field"), GET_FILTERS, ids=[f"{n}-{f}" for n, f in GET_FILTERS])
def test_a_filter_given_an_impossible_id_answers_without_a_server_error(
    admin: Client, name: str, field: str, value: Any
) -> None:
    _ok(admin.get(reverse(name), {field: str(value)}))
    _ok(admin.get(reverse(name), {field: str(value)}, headers={"HX-Request": "true"}))


@pytest.mark.parametrize("value", [2**63, 2**64, 10**40], ids=["2^63", "2^64", "10^40"])
@pytest.mark.parametrize("name", PK_ROUTES)
def test_an_address_with_an_impossible_id_is_a_404(admin: Client, name: str, value: int) -> None:
    url = reverse(f"web:{name}", args=[1]).replace("/1/", f"/{value}/", 1)
    answers = {admin.get(url).status_code, admin.post(url, {"lead_id": "5", "role": "manager"}).status_code}
    assert answers in ({404}, {404, 405}), (url, answers)  # 405: the method the address does not take


@pytest.mark.parametrize("value", BAD_IDS, ids=IDS)
@pytest.mark.parametrize("action", ["push", "skip", "unskip", "unlink"])
def test_bulk_actions_given_impossible_ids_answer_without_a_server_error(
    admin: Client, order: Order, enqueued: list, action: str, value: Any
) -> None:
    url = reverse("web:sync_bulk", args=[action])
    _ok(admin.post(url, {"order_ids": [str(value), str(order.pk)], "confirm": "1"}))
    _ok(admin.post(url, {"order_ids": f"{value},{order.pk}", "confirm": "1"}, headers={"HX-Request": "true"}))


@pytest.mark.parametrize("value", BAD_IDS, ids=IDS)
def test_retry_given_impossible_ids_answers_without_a_server_error(
    admin: Client, order: Order, enqueued: list, value: Any
) -> None:
    _ok(admin.post(reverse("web:sync_retry"), {"order_ids": [str(value)]}))
    _ok(admin.post(reverse("web:sync_retry"), {"kind": str(value)}))


@pytest.mark.parametrize("value", BAD_IDS, ids=IDS)
def test_linking_to_an_impossible_deal_is_a_message_not_a_server_error(
    admin: Client, order: Order, enqueued: list, value: Any
) -> None:
    response = admin.post(reverse("web:sync_link", args=[order.pk]), {"lead_id": str(value)}, follow=True)
    assert response.status_code == 200
    assert enqueued == [] or str(value).strip().isdigit()


@pytest.mark.parametrize("value", BAD_IDS, ids=IDS)
@pytest.mark.parametrize("field", ["customer", "lines-0-product", "lines-0-quantity"])
def test_the_order_form_given_an_impossible_id_shows_a_form_error(
    admin: Client, products: list, field: str, value: Any
) -> None:
    data = form_data(lines=[(products[0], 1)], new_phone="+79990001122") | {field: str(value)}
    before = Order.objects.count()
    response = admin.post(reverse("web:order_create"), data)
    if response.status_code == 302:  # an empty customer falls back to the new one; a blank line is skipped
        assert str(value).strip() in ("", "0") or field == "customer"
        return
    assert response.status_code in (200, 400)
    assert b"errorlist" in response.content
    assert Order.objects.count() == before


@pytest.mark.parametrize("value", BAD_IDS, ids=IDS)
def test_the_order_form_s_customer_finder_given_an_impossible_id_answers(admin: Client, value: Any) -> None:
    data = form_data() | {"find_customer": "1", "customer_q": str(value), "customer": str(value)}
    _ok(admin.post(reverse("web:order_create"), data))


@pytest.mark.parametrize("value", BAD_IDS, ids=IDS)
def test_the_order_action_given_an_impossible_amount_answers(admin: Client, order: Order, value: Any) -> None:
    url = reverse("web:order_action", args=[order.pk])
    _ok(admin.post(url, {"action": "payment", "paid_amount": str(value), "payment_status": "paid"}))


def test_a_bulk_action_names_the_id_it_refuses(admin: Client, order: Order, enqueued: list) -> None:
    url = reverse("web:sync_bulk", args=["skip"])
    response = admin.post(url, {"order_ids": f"{order.pk},{2**64}"}, follow=True)
    assert f"“{2**64}” is not an id" in response.content.decode()
    assert OrderSync.objects.get(order=order).state != "skipped"

    response = admin.post(url, {"order_ids": f"{order.pk},{2**64}"}, headers={"HX-Request": "true"})
    assert response.status_code == 204 and "is not an id" in response.headers["HX-Trigger"]


def test_the_bulk_progress_refuses_an_impossible_id_with_a_400(admin: Client) -> None:
    response = admin.get(reverse("web:sync_bulk_status"), {"ids": f"1,{2**63}"})
    assert response.status_code == 400


def test_a_deal_number_beyond_any_id_is_refused_with_a_message(
    admin: Client, order: Order, enqueued: list
) -> None:
    url = reverse("web:sync_link", args=[order.pk])
    response = admin.post(url, {"lead_id": str(MAX_ID + 1)}, follow=True)
    assert "No deal has a number this large" in response.content.decode()
    response = admin.post(url, {"lead_id": f" {MAX_ID} "}, follow=True)
    assert "once AmoCRM confirms it" in response.content.decode()
    assert enqueued == [("order_link_task", order.pk, MAX_ID, "manager:admin")]


def test_the_search_box_looks_a_long_number_up_as_text_only(admin: Client, order: Order) -> None:
    OrderSync.objects.filter(order=order).update(lead_id=MAX_ID)
    body = admin.get(reverse("web:orders"), {"q": str(MAX_ID)}).content.decode()
    assert order.number in body
    assert admin.get(reverse("web:orders"), {"q": str(MAX_ID + 1)}).status_code == 200
