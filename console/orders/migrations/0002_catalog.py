"""Data migration: the built-in furniture-rental catalog (console/orders/catalog.json) in every database."""

import json
from decimal import Decimal
from pathlib import Path

from django.db import migrations

CATALOG = Path(__file__).resolve().parent.parent / "catalog.json"


def load_catalog(apps, schema_editor):
    Product = apps.get_model("orders", "Product")
    for row in json.loads(CATALOG.read_text(encoding="utf-8")):
        Product.objects.update_or_create(
            sku=row["sku"],
            defaults={
                "name": row["name"],
                "category": row["category"],
                "unit_price": Decimal(row["unit_price"]),
                "is_active": True,
            },
        )


def unload_catalog(apps, schema_editor):
    Product = apps.get_model("orders", "Product")
    OrderItem = apps.get_model("orders", "OrderItem")
    skus = [row["sku"] for row in json.loads(CATALOG.read_text(encoding="utf-8"))]
    used = set(OrderItem.objects.values_list("product__sku", flat=True))
    Product.objects.filter(sku__in=[s for s in skus if s not in used]).delete()


class Migration(migrations.Migration):
    dependencies = [("orders", "0001_initial")]

    operations = [migrations.RunPython(load_catalog, unload_catalog)]
