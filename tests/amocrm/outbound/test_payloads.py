"""Unit tests of the pure payloads (no database, no network)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from console.amocrm.outbound import payloads
from console.amocrm.stagemap import Stage
from console.customers.models import Company, Customer
from console.orders.models import Order, OrderItem, Product

FIELDS = {
    "order_number": 101,
    "installation_date": 102,
    "dismantle_date": 103,
    "delivery_method": 104,
    "delivery_address": 105,
    "source": 106,
}


def make_order(**kw) -> Order:
    customer = kw.pop(
        "customer",
        Customer(
            first_name="Иван", last_name="Петров", phone="8 (999) 123-45-67", phone_normalized="+79991234567"
        ),
    )
    defaults = dict(
        pk=7,
        number="R-000123",
        customer=customer,
        status="new",
        installation_date=dt.date(2026, 6, 1),
        dismantle_date=dt.date(2026, 6, 4),
        delivery_method="delivery",
        delivery_address="Москва, Тверская 1",
        comment="Позвонить за час",
        total_amount=Decimal("12345.50"),
        source="storefront",
    )
    defaults.update(kw)
    return Order(**defaults)


def make_lines() -> list[OrderItem]:
    chair = Product(sku="CH-1", name="Стул Кьявари", unit_price=Decimal("150.00"))
    table = Product(sku="TB-2", name="Стол круглый", unit_price=Decimal("990.50"))
    return [
        OrderItem(product=chair, quantity=40, unit_price=Decimal("150.00"), line_total=Decimal("18000.00")),
        OrderItem(product=table, quantity=4, unit_price=Decimal("990.50"), line_total=Decimal("11886.00")),
    ]


def test_price_is_rounded_half_up_to_whole_roubles_as_an_int():
    assert payloads.whole_roubles(Decimal("12345.50")) == 12346
    assert payloads.whole_roubles(Decimal("12345.49")) == 12345
    assert isinstance(payloads.whole_roubles(Decimal("10")), int)
    assert payloads.whole_roubles(None) == 0


def test_lead_name_carries_the_order_number_and_the_customer():
    assert payloads.lead_name(make_order()) == "Заказ R-000123 — Иван Петров"


def test_lead_payload_has_price_stage_custom_fields_tags_and_links():
    fields = payloads.lead_fields(make_order(), FIELDS)
    payload = payloads.lead_payload(fields, stage=Stage(10, 20), contact_id=5, company_id=6)
    assert payload["price"] == 12346
    assert (payload["pipeline_id"], payload["status_id"]) == (10, 20)
    cfs = {cf["field_id"]: cf["values"][0]["value"] for cf in payload["custom_fields_values"]}
    assert cfs[101] == "R-000123"
    assert cfs[102] == payloads.date_to_unix(dt.date(2026, 6, 1))
    assert cfs[104] == "Доставка"
    assert cfs[105] == "Москва, Тверская 1"
    assert cfs[106] == "сайт"
    assert payload["_embedded"]["tags"] == [{"name": "сайт"}]
    assert payload["_embedded"]["contacts"] == [{"id": 5, "is_main": True}]
    assert payload["_embedded"]["companies"] == [{"id": 6}]


def test_a_date_field_is_local_midnight_in_unix_seconds():
    assert payloads.date_to_unix(dt.date(2026, 1, 1)) == 1767214800  # 2025-12-31T21:00Z = 00:00 Moscow


def test_unknown_field_ids_are_left_out_of_the_payload():
    payload = payloads.lead_payload(payloads.lead_fields(make_order(), {"order_number": 1}), stage=None)
    assert payload["custom_fields_values"] == [{"field_id": 1, "values": [{"value": "R-000123"}]}]
    assert "status_id" not in payload


def test_a_pickup_order_clears_the_delivery_address():
    payload = payloads.lead_fields(make_order(delivery_method="pickup"), FIELDS)
    address = next(cf for cf in payload["custom_fields_values"] if cf["field_id"] == 105)
    assert address["values"] is None


def test_a_manager_order_of_a_business_customer_is_tagged_as_such():
    customer = Customer(first_name="Анна", customer_type="business", company=Company(name="ООО Ромашка"))
    payload = payloads.lead_fields(make_order(customer=customer, source="manager"), FIELDS)
    assert payload["_embedded"]["tags"] == [{"name": "менеджер"}, {"name": "юрлицо"}]


def test_contact_payload_has_names_phone_in_e164_email_and_tags():
    customer = Customer(
        first_name="Иван",
        last_name="Петров",
        phone="8 999 123-45-67",
        phone_normalized="+79991234567",
        email="ivan@example.com",
        tags=["VIP", "VIP", ""],
    )
    payload = payloads.contact_payload(customer)
    assert payload["name"] == "Иван Петров"
    assert payload["first_name"] == "Иван" and payload["last_name"] == "Петров"
    assert {"field_code": "PHONE", "values": [{"value": "+79991234567", "enum_code": "WORK"}]} in payload[
        "custom_fields_values"
    ]
    assert {"field_code": "EMAIL", "values": [{"value": "ivan@example.com", "enum_code": "WORK"}]} in payload[
        "custom_fields_values"
    ]
    assert payload["_embedded"]["tags"] == [{"name": "VIP"}]


def test_contact_payload_without_email_sends_no_empty_field():
    payload = payloads.contact_payload(Customer(first_name="А", phone="+79990000000"))
    assert [cf["field_code"] for cf in payload["custom_fields_values"]] == ["PHONE"]
    assert "_embedded" not in payload


def test_company_payload_has_the_name_and_requisites_by_known_field_ids():
    company = Company(name="Ромашка", legal_name="ООО «Ромашка»", inn="7707083893", kpp="773601001")
    ids = {"company_inn": 201, "company_kpp": 202, "company_legal_name": 203, "company_ogrn": 204}
    payload = payloads.company_payload(company, ids)
    assert payload["name"] == "Ромашка"
    fields = payload["custom_fields_values"]
    assert {"field_id": 201, "values": [{"value": "7707083893"}]} in fields
    assert {"field_id": 202, "values": [{"value": "773601001"}]} in fields
    assert {"field_id": 203, "values": [{"value": "ООО «Ромашка»"}]} in fields
    assert {"field_id": 204, "values": None} in fields  # an empty requisite is cleared in amoCRM


def test_no_payload_ever_carries_an_empty_custom_fields_list():
    # amoCRM refuses "custom_fields_values": [] with a 400 (TooFew): the key is left out instead.
    assert "custom_fields_values" not in payloads.contact_payload(Customer(first_name="А"))
    assert "custom_fields_values" not in payloads.company_payload(Company(name="Ромашка"))
    assert "custom_fields_values" not in payloads.lead_fields(make_order(), {})
    assert "custom_fields_values" not in payloads.lead_payload(
        payloads.lead_fields(make_order(), {}), stage=None
    )


def test_the_creation_note_lists_lines_dates_delivery_comment_and_source():
    text = payloads.note_text(make_order(), make_lines())
    assert "Стул Кьявари (CH-1) — 40 шт." in text
    assert "Стол круглый (TB-2) — 4 шт. × 990,50 ₽/сут. × 3 сут. = " in text
    assert "Монтаж: 01.06.2026" in text
    assert "Демонтаж: 04.06.2026 (суток аренды: 3)" in text
    assert "Доставка: Доставка" in text and "Адрес: Москва, Тверская 1" in text
    assert "Комментарий: Позвонить за час" in text
    assert text.endswith("Источник: сайт")
    assert payloads.note_text(make_order(source="manager"), []).endswith("Источник: менеджер")


def test_the_note_and_the_deal_name_each_delivery_method_as_the_console_does_in_russian():
    from django.utils import translation

    for method in Order.DeliveryMethod.values:
        with translation.override("ru"):
            console_words = str(Order.DeliveryMethod(method).label)
        order = make_order(delivery_method=method)
        fields = {cf["field_id"]: cf["values"] for cf in payloads.lead_custom_fields(order, FIELDS)}
        assert fields[104] == [{"value": console_words}], method
        assert f"Доставка: {console_words}" in payloads.note_text(order, [])
        before = payloads.order_summary(make_order(delivery_method="pickup"), [])
        change = payloads.note_change_text(order, before, payloads.order_summary(order, []))
        assert method == "pickup" or f"Доставка: Самовывоз → {console_words}" in change
    assert "Доставка: Доставка с монтажом" in payloads.note_text(
        make_order(delivery_method="delivery_installation"), []
    )


def test_money_in_the_note_groups_thousands_and_drops_zero_kopecks():
    assert payloads.format_money(Decimal("18000.00")) == "18 000"
    assert payloads.format_money(Decimal("12345.5")) == "12 345,50"


def test_catalog_products_are_keyed_by_sku_with_a_whole_price():
    lines = make_lines()
    assert payloads.catalog_product(lines[1].product) == {"sku": "TB-2", "name": "Стол круглый", "price": 991}
    assert payloads.order_products(lines) == {"CH-1": 40, "TB-2": 4}


def test_a_product_link_carries_quantity_catalog_and_price_id():
    assert payloads.product_link(9, 3, catalog_id=4, price_id=8) == {
        "to_entity_id": 9,
        "to_entity_type": "catalog_elements",
        "metadata": {"quantity": 3, "catalog_id": 4, "price_id": 8},
    }


def test_products_diff_links_new_and_changed_and_unlinks_removed_and_changed():
    diff = payloads.products_diff({1: 2, 2: 5, 3: 1}, {1: 2, 2: 6, 4: 1})
    assert diff.link == {2: 6, 4: 1}
    assert diff.unlink == [2, 3]
    assert payloads.products_diff({1: 2}, {1: 2}).empty


def test_the_payload_hash_ignores_key_order():
    assert payloads.stable_hash({"a": 1, "b": [1, 2]}) == payloads.stable_hash({"b": [1, 2], "a": 1})
    assert payloads.stable_hash({"a": 1}) != payloads.stable_hash({"a": 2})
