"""Orders that exist before the payment and tracking fields arrive get them on upgrade: each its own
tracking token, nothing paid, no checkout details."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from console.orders.models import Order

BEFORE = [("orders", "0003_status_change_labels"), ("customers", "0001_initial")]


def _migrate(targets: list[tuple[str, str]]) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return MigrationExecutor(connection)


@pytest.mark.django_db(transaction=True)
def test_existing_orders_get_a_token_each_and_nothing_paid() -> None:
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    try:
        apps = _migrate(BEFORE).loader.project_state(BEFORE).apps
        customer = apps.get_model("customers", "Customer").objects.create(
            first_name="Иван", phone="+79991234567", phone_normalized="+79991234567"
        )
        for n in range(3):
            apps.get_model("orders", "Order").objects.create(
                number=f"R-{n:06d}",
                customer=customer,
                installation_date=dt.date(2026, 12, 1),
                dismantle_date=dt.date(2026, 12, 3),
            )
        _migrate(latest)

        rows = list(
            Order.objects.values("tracking_token", "paid_amount", "payment_status", "checkout_contact")
        )
        assert len(rows) == 3
        assert len({row["tracking_token"] for row in rows}) == 3
        assert all(len(row["tracking_token"]) >= 22 for row in rows)
        assert {(row["paid_amount"], row["payment_status"]) for row in rows} == {(Decimal("0"), "not_paid")}
        assert all(row["checkout_contact"] == {} for row in rows)
    finally:
        _migrate(latest)
