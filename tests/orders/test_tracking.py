"""The storefront's tracking link: GET /api/v1/orders/track/<token>/ shows an order's progress to anyone
holding the token, and nothing about the customer."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.throttling import ScopedRateThrottle

from console.orders.models import Order
from console.orders.services import order_set_payment, order_set_status, order_soft_delete, order_update

pytestmark = pytest.mark.django_db

URL = "/api/v1/orders/"


def track_url(token: str) -> str:
    return f"{URL}track/{token}/"


@pytest.fixture
def checkout(api_client, order_payload) -> Order:
    """An order placed by the storefront, with its tracking token from the checkout's answer."""
    response = api_client.post(URL, order_payload(), format="json")
    assert response.status_code == 201
    return Order.objects.get(tracking_token=response.json()["tracking_token"])


def test_tracking_shows_the_progress_and_nothing_personal(api_client, checkout: Order) -> None:
    order_set_status(order=checkout, status="reserved", origin="manager", actor="anna")
    order_set_payment(
        order=checkout, paid_amount="1000", payment_status="prepaid", origin="manager", actor="a"
    )
    response = api_client.get(track_url(checkout.tracking_token))
    assert response.status_code == 200
    checkout.refresh_from_db()
    assert response.json() == {
        "number": checkout.number,
        "status": "reserved",
        "status_display": "Reserved",
        "installation_date": checkout.installation_date.isoformat(),
        "dismantle_date": checkout.dismantle_date.isoformat(),
        "total_amount": "8254.50",
        "payment_status": "prepaid",
    }
    body = response.content.decode()
    for personal in ("Анна", "Смирнова", "999", "anna@example.com", "Тверская", "Свадьба"):
        assert personal not in body


def test_the_status_is_shown_in_the_callers_language(api_client, checkout: Order) -> None:
    response = api_client.get(track_url(checkout.tracking_token), HTTP_ACCEPT_LANGUAGE="ru")
    assert response.json()["status_display"] == "Новый"


@pytest.mark.parametrize("token", ["no-such-token", "x" * 64, "a" * 65, "bad%20token", "%00"])
def test_an_unknown_or_malformed_token_is_a_json_404(api_client, checkout: Order, token: str) -> None:
    response = api_client.get(track_url(token))
    assert (response.status_code, response["Content-Type"]) == (404, "application/json")
    assert response.json() == {"detail": "Not found."}


def test_a_deleted_order_is_not_tracked(api_client, checkout: Order) -> None:
    order_soft_delete(order=checkout, origin="manager", actor="anna")
    assert api_client.get(track_url(checkout.tracking_token)).status_code == 404


def test_the_token_is_random_unique_and_never_changes(make_order) -> None:
    orders = [make_order() for _ in range(5)]
    tokens = {order.tracking_token for order in orders}
    assert len(tokens) == 5 and all(len(token) >= 22 for token in tokens)
    order = orders[0]
    order_update(order=order, data={"comment": "x", "status": "in_rent"}, origin="manager", actor="a")
    order.refresh_from_db()
    assert order.tracking_token in tokens and order.tracking_token == orders[0].tracking_token


def test_tracking_is_throttled_with_the_storefront_scope(api_client, checkout: Order, monkeypatch) -> None:
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"storefront": "2/min"})
    cache.clear()
    statuses = [api_client.get(track_url(checkout.tracking_token)).status_code for _ in range(3)]
    cache.clear()
    assert statuses == [200, 200, 429]


def test_tracking_is_read_only(api_client, checkout: Order) -> None:
    response = api_client.post(track_url(checkout.tracking_token), {}, format="json")
    assert response.status_code in (403, 405) and "detail" in response.json()


def test_the_schema_documents_the_tracking_path(api_client) -> None:
    schema = api_client.get("/api/v1/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/v1/orders/track/{token}/"]["get"]
    assert set(operation["responses"]) == {"200", "404"}
    tracked = schema["components"]["schemas"]["OrderTracking"]["properties"]
    assert set(tracked) == {
        "number",
        "status",
        "status_display",
        "installation_date",
        "dismantle_date",
        "total_amount",
        "payment_status",
    }
