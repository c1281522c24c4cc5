"""Garbage of every kind is a 4xx JSON answer (400, or 415 for an unsupported content type), never a 500, and
writes nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from console.customers.models import Company, Customer
from console.orders.models import Order, OrderItem, OrderStatusChange
from tests.fixtures.builders import future

pytestmark = pytest.mark.django_db

URL = "/api/v1/orders/"
MISSING = object()


def counts() -> tuple[int, ...]:
    return tuple(m.objects.count() for m in (Order, OrderItem, Customer, Company, OrderStatusChange))


RAW_BODIES: list[tuple[str, bytes, str]] = [
    ("malformed json", b"{bad", "application/json"),
    ("empty body", b"", "application/json"),
    ("json null", b"null", "application/json"),
    ("json list", b"[]", "application/json"),
    ("json number", b"123", "application/json"),
    ("json string", b'"order"', "application/json"),
    ("not utf-8", b"\xff\xfe\x00{", "application/json"),
    ("NaN", b'{"items": NaN}', "application/json"),
    ("Infinity", b'{"items": [{"sku": "T-CHAIR", "quantity": Infinity}]}', "application/json"),
    ("deep nesting", b"[" * 100_000 + b"]" * 100_000, "application/json"),
    (
        "a 5000-digit number",
        b'{"items": [{"product": 1' + b"0" * 5000 + b', "quantity": 1}]}',
        "application/json",
    ),
    ("bogus charset", b'{"items": []}', "application/json; charset=bogus-42"),
    ("utf-16 claimed, utf-8 sent", '{"comment": "привет"}'.encode(), "application/json; charset=utf-16"),
    ("multipart without boundary", b"--x\r\n\r\n", "multipart/form-data"),
    ("multipart garbage", b"garbage", "multipart/form-data; boundary=zzz"),
    ("form data", b"items=1&customer=2", "application/x-www-form-urlencoded"),
    ("plain text", b"hello", "text/plain"),
    ("xml", b"<order/>", "application/xml"),
]


@pytest.mark.parametrize(
    ("body", "content_type"), [(b, c) for _n, b, c in RAW_BODIES], ids=[n for n, _b, _c in RAW_BODIES]
)
def test_a_raw_garbage_body_is_a_json_4xx_and_writes_nothing(
    api_client, products, body: bytes, content_type: str
) -> None:
    before = counts()
    response = api_client.generic("POST", URL, body, content_type=content_type)
    assert response.status_code in (400, 415), response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    assert counts() == before


BAD_FIELDS: list[tuple[str, Any]] = [
    ("customer", MISSING),
    ("customer", None),
    ("customer", ""),
    ("customer", []),
    ("customer", {}),
    ("customer", True),
    ("customer", 1.5),
    ("customer", "x" * 10_000),
    ("customer", {"name": "x" * 10_000, "phone": "9991234567"}),
    ("customer", {"name": "Аня", "phone": "📞📞📞📞📞📞📞"}),
    ("customer", {"name": "🙂" * 301, "phone": "9991234567"}),
    ("customer", {"name": "Аня", "phone": "9" * 10_000}),
    ("customer", {"name": "Аня", "phone": None, "email": None}),
    ("customer", {"name": "Аня", "email": "a@" + "b" * 300 + ".ru"}),
    ("customer", {"name": "Аня", "phone": "9991234567", "customer_type": "business", "company": "ООО"}),
    (
        "customer",
        {
            "name": "Аня",
            "phone": "9991234567",
            "customer_type": "business",
            "company": {"name": "ООО", "inn": "1" * 10_000},
        },
    ),
    ("customer", {"name": "Аня", "phone": "9991234567", "customer_type": ["individual"]}),
    ("installation_date", MISSING),
    ("installation_date", None),
    ("installation_date", 20260101),
    ("installation_date", []),
    ("installation_date", {"y": 2026}),
    ("installation_date", "2026-13-01"),
    ("installation_date", "0000-00-00"),
    ("installation_date", "99999-01-01"),
    ("installation_date", "0001-01-01"),
    ("installation_date", "завтра"),
    ("dismantle_date", "2026-01-01T10:00:00+03:00"),
    ("dismantle_date", MISSING),
    ("items", MISSING),
    ("items", None),
    ("items", "abc"),
    ("items", {}),
    ("items", [None]),
    ("items", [[]]),
    ("items", [{"sku": None, "quantity": 1}]),
    ("items", [{"sku": "T-CHAIR", "quantity": "many"}]),
    ("items", [{"sku": "T-CHAIR", "quantity": 1e308}]),
    ("items", [{"sku": "T-CHAIR", "quantity": 10**30}]),
    ("items", [{"sku": "T-CHAIR", "quantity": 1.5}]),
    ("items", [{"sku": "T-CHAIR", "quantity": True}]),
    ("items", [{"sku": "T-CHAIR", "quantity": None}]),
    ("items", [{"sku": "T-CHAIR"}]),
    ("items", [{"product": -1, "quantity": 1}]),
    ("items", [{"product": 10**30, "quantity": 1}]),
    ("items", [{"product": "1; DROP TABLE orders_order", "quantity": 1}]),
    ("items", [{"product": 1.5, "quantity": 1}]),
    ("items", [{"sku": "😀" * 65, "quantity": 1}]),
    ("items", [{"sku": "T-CHAIR", "product": 1, "quantity": 1}]),
    ("items", [{"sku": f"S{i}", "quantity": 1} for i in range(201)]),
    ("delivery_method", None),
    ("delivery_method", 1),
    ("delivery_method", ["pickup"]),
    ("delivery_method", "🚚"),
    ("delivery_address", None),
    ("delivery_address", "адрес" * 2_000),
    ("comment", None),
    ("comment", {"x": 1}),
    ("comment", "x" * 10_000),
    ("comment", "nul\x00byte"),
    ("comment", "lone \ud800 surrogate"),
    ("comment", ["a"]),
]


@pytest.mark.parametrize(
    ("field", "value"), BAD_FIELDS, ids=[f"{f}-{i}" for i, (f, _v) in enumerate(BAD_FIELDS)]
)
def test_a_bad_field_value_is_a_400_naming_the_field_and_writes_nothing(
    api_client, order_payload, field: str, value: Any
) -> None:
    payload = order_payload()
    if value is MISSING:
        del payload[field]
    else:
        payload[field] = value
    before = counts()
    # ensure_ascii keeps lone surrogates encodable, as a browser's JSON.stringify would send them.
    response = api_client.generic("POST", URL, json.dumps(payload), content_type="application/json")
    assert response.status_code == 400, response.content[:300]
    assert field in response.json()
    assert counts() == before


def test_a_body_of_nulls_is_a_400(api_client) -> None:
    keys = ["customer", "installation_date", "dismantle_date", "delivery_method", "delivery_address", "items"]
    response = api_client.post(URL, dict.fromkeys(keys), format="json")
    assert response.status_code == 400
    assert {"customer", "installation_date", "dismantle_date", "items"} <= set(response.json())


def test_cyrillic_and_emoji_are_accepted_where_text_is_free(api_client, order_payload) -> None:
    payload = order_payload(
        comment="Нужны 🎈 и 🪑, пожалуйста",
        delivery_address="Москва, ул. Ёлочная, 5 🏠",
        customer={"name": "Ёжиков Пётр 😀", "phone": "9991234567"},
    )
    response = api_client.post(URL, payload, format="json")
    assert response.status_code == 201, response.json()
    assert Customer.objects.get().display_name == "Ёжиков Пётр 😀"


@pytest.mark.parametrize(
    "patch",
    [
        {"items": []},
        {"items": None},
        {"status": "lost"},
        {"customer": 10**30},
        {"customer": None},
        {"installation_date": None},
        {"dismantle_date": future(-1000).isoformat()},
        {"source": "amocrm"},
        {"sync_to_crm": "perhaps"},
        {"comment": "x" * 10_000},
    ],
)
def test_a_bad_patch_is_a_400_and_changes_nothing(staff_client, make_order, patch: dict) -> None:
    order = make_order(comment="before")
    before = (counts(), order.updated_at)
    response = staff_client.patch(f"{URL}{order.pk}/", json.dumps(patch), content_type="application/json")
    assert response.status_code == 400, response.content[:300]
    order.refresh_from_db()
    assert (counts(), order.updated_at) == before


@pytest.mark.parametrize(
    "body",
    [
        {"first_name": "x" * 10_000, "phone": "9991234567"},
        {"first_name": "Аня", "phone": "📞"},
        {"first_name": "Аня", "email": "nope"},
        {"first_name": "Аня", "tags": "vip"},
        {"first_name": "Аня", "tags": ["x"] * 21},
        {"first_name": "Аня", "tags": [None]},
        {"first_name": "Аня", "customer_type": None},
        {"first_name": "Аня", "company": "ООО"},
        {},
        {"first_name": None, "phone": "9991234567"},
        {"first_name": "\ud800", "phone": "9991234567"},
    ],
)
def test_bad_customer_input_is_a_400_and_writes_nothing(staff_client, body: dict) -> None:
    response = staff_client.generic(
        "POST", "/api/v1/customers/", json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 400, response.content[:300]
    assert Customer.objects.count() == 0


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "x" * 256},
        {"name": "ООО", "inn": 7707083893.5},
        {"name": "ООО", "kpp": "1"},
        {"name": "ООО", "ogrn": "abc"},
        {"name": None},
        {"name": "ООО", "phone": "call me"},
    ],
)
def test_bad_company_input_is_a_400_and_writes_nothing(staff_client, body: dict) -> None:
    response = staff_client.generic(
        "POST", "/api/v1/companies/", json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 400, response.content[:300]
    assert Company.objects.count() == 0


def test_a_nul_byte_in_a_search_is_harmless(staff_client) -> None:
    assert staff_client.get(URL, {"search": "abc\x00def"}).status_code == 200
    assert staff_client.get("/api/v1/customers/", {"search": "\x00" * 5000}).status_code == 200
