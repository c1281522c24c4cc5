"""Issue 13, the API half: an id nobody could have (2**63 and beyond, negative, not a number) in a filter, an
address or a body of /api/v1/ is a JSON 400 or 404, never a 500 (an ``OverflowError`` from the database)."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from console.orders.models import Order

pytestmark = pytest.mark.django_db

BAD_IDS: list[Any] = [2**63, 2**64, -(2**63) - 1, -1, 0, "9" * 40, "1e309", "abc", " 12 ", "12\x00"]
IDS = [repr(value)[:14] for value in BAD_IDS]

QUERIES = [
    ("/api/v1/orders/", "customer"),
    ("/api/v1/orders/", "limit"),
    ("/api/v1/orders/", "offset"),
    ("/api/v1/orders/", "search"),
    ("/api/v1/orders/", "id"),
    ("/api/v1/customers/", "company"),
    ("/api/v1/customers/", "search"),
    ("/api/v1/companies/", "inn"),
    ("/api/v1/companies/", "search"),
]
ADDRESSES = ["/api/v1/orders/{}/", "/api/v1/customers/{}/", "/api/v1/companies/{}/"]


@pytest.mark.parametrize("value", BAD_IDS, ids=IDS)
@pytest.mark.parametrize(("url", "field"), QUERIES, ids=[f"{u}-{f}" for u, f in QUERIES])
def test_a_filter_given_an_impossible_id_is_a_json_answer_not_a_500(
    staff_client: APIClient, url: str, field: str, value: Any
) -> None:
    response = staff_client.get(url, {field: str(value)})
    assert response.status_code in (200, 400), response.content[:300]
    assert response["Content-Type"].startswith("application/json")


@pytest.mark.parametrize("value", [2**63, 2**64, 10**40, -1], ids=["2^63", "2^64", "10^40", "-1"])
@pytest.mark.parametrize("address", ADDRESSES)
@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_an_address_with_an_impossible_id_is_a_json_404(
    staff_client: APIClient, address: str, method: str, value: int
) -> None:
    response = getattr(staff_client, method)(address.format(value), {}, format="json")
    assert response.status_code == 404, response.content[:300]
    assert response["Content-Type"].startswith("application/json")


@pytest.mark.parametrize("value", BAD_IDS, ids=IDS)
@pytest.mark.parametrize("field", ["customer", "product"])
def test_a_body_naming_an_impossible_id_is_a_400_on_that_field(
    staff_client: APIClient, order_payload: Any, field: str, value: Any
) -> None:
    payload = order_payload()
    if field == "customer":
        payload["customer"] = value
    else:
        payload["items"] = [{"product": value, "quantity": 1}]
    before = Order.objects.count()
    response = staff_client.post("/api/v1/orders/", payload, format="json")
    if value == " 12 " and response.status_code == 201:  # a number with spaces is a number
        return
    assert response.status_code == 400, response.content[:300]
    assert (field if field == "customer" else "items") in response.json()
    assert Order.objects.count() == before
