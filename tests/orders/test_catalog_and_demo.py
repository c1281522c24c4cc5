from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command

import console.orders
from console.customers.models import Company, Customer
from console.customers.normalize import is_valid_inn, normalize_phone
from console.orders.models import Order, OrderStatusChange, Product

pytestmark = pytest.mark.django_db

CATALOG = json.loads((Path(console.orders.__file__).parent / "catalog.json").read_text(encoding="utf-8"))


def test_every_database_gets_the_furniture_catalog_from_the_migration() -> None:
    skus = set(Product.objects.values_list("sku", flat=True))
    assert {row["sku"] for row in CATALOG} <= skus
    assert len(CATALOG) >= 30


def test_the_catalog_covers_every_category_with_positive_rub_prices() -> None:
    assert {row["category"] for row in CATALOG} == set(Product.Category.values)
    assert all(Decimal(row["unit_price"]) > 0 for row in CATALOG)
    assert len({row["sku"] for row in CATALOG}) == len(CATALOG)


def test_demo_data_loads_customers_and_orders_in_every_status(capsys) -> None:
    call_command("demo_data", "--orders", "120", "--seed", "3")
    assert Order.objects.count() == 120
    assert set(Order.objects.values_list("status", flat=True)) == set(Order.Status.values)
    assert Customer.objects.filter(customer_type="business", company__isnull=False).exists()
    assert Customer.objects.filter(customer_type="individual").exists()
    assert all(is_valid_inn(inn) for inn in Company.objects.values_list("inn", flat=True))
    for phone, normalized in Customer.objects.values_list("phone", "phone_normalized"):
        assert normalize_phone(phone) == normalized
    assert OrderStatusChange.objects.filter(origin="system", actor="demo_data").count() == 120
    for order in Order.objects.prefetch_related("items")[:20]:
        assert order.total_amount == sum(i.line_total for i in order.items.all())


def test_demo_data_skips_when_already_loaded_unless_forced(capsys) -> None:
    call_command("demo_data", "--orders", "10")
    call_command("demo_data", "--orders", "10")
    assert "already loaded" in capsys.readouterr().out
    assert Order.objects.count() == 10
    call_command("demo_data", "--orders", "10", "--seed", "2", "--force")
    assert Order.objects.count() == 20


@pytest.mark.parametrize(
    "url",
    [
        "/admin/orders/order/",
        "/admin/orders/orderitem/",
        "/admin/orders/product/",
        "/admin/orders/orderstatuschange/",
        "/admin/customers/customer/",
        "/admin/customers/company/",
    ],
)
def test_the_admin_lists_every_model(admin_client, make_order, url: str) -> None:
    make_order()
    assert admin_client.get(url).status_code == 200
    assert admin_client.get(url, {"q": "R-0"}).status_code == 200


def test_the_admin_shows_an_order_with_its_lines(admin_client, make_order) -> None:
    order = make_order()
    response = admin_client.get(f"/admin/orders/order/{order.pk}/change/")
    assert response.status_code == 200
    assert "T-CHAIR" in response.content.decode()
