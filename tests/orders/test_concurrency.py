"""Simultaneous checkouts of one new customer (a double click): one customer, an order for each."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections
from rest_framework.test import APIClient

from console.customers.models import Customer
from console.orders.models import Order

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_simultaneous_checkouts_of_one_new_customer_make_one_customer(order_payload) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: in-memory SQLite serialises the threads on one connection")
    barrier = threading.Barrier(4)
    statuses: list[int] = []

    def checkout() -> None:
        try:
            barrier.wait()
            response = APIClient().post("/api/v1/orders/", order_payload(), format="json")
            statuses.append(response.status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=checkout) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [201] * 4
    assert Customer.objects.count() == 1
    assert Order.objects.count() == 4
