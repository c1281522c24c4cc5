"""Benchmark: HTTP requests the sync makes for one order — a create (new customer, then a repeat customer),
a status-only change and a save that changes nothing mapped (targets: create <= 5 for a repeat customer,
status 1, no-op 0).

    .venv/bin/python tests/bench/bench_sync_single.py [--limit 7]

Not collected by pytest. Uses ``boot`` from ``bench_sync_bulk`` (own sandbox and SQLite file); the cluster
runs in sync mode, so each order change is synced inline when its transaction commits.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.bench_sync_bulk import boot  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description="requests per single-order sync")
    parser.add_argument("--limit", type=int, default=7)
    args = parser.parse_args()
    proc, sandbox = boot(args.limit)
    try:
        from decimal import Decimal

        from django.utils import timezone

        from console.amocrm.models import SyncLog
        from console.customers.services import customer_create
        from console.orders.models import Product
        from console.orders.services import order_create, order_set_status, order_update

        chair = Product.objects.create(sku="ONE-1", name="Стул", category="chairs", unit_price=Decimal("150"))
        table = Product.objects.create(sku="ONE-2", name="Стол", category="tables", unit_price=Decimal("900"))
        customer = customer_create(
            data={"first_name": "Анна", "last_name": "Бенч", "phone": "+7 916 555-00-11"}
        )
        start = timezone.localdate() + datetime.timedelta(days=20)

        def new_order(quantity: int) -> object:
            lines = [{"product": chair, "quantity": quantity}, {"product": table, "quantity": 1}]
            end = start + datetime.timedelta(days=2)
            data = {"customer": customer, "installation_date": start, "dismantle_date": end, "items": lines}
            return order_create(data=data, origin="manager", actor="bench")

        def measure(label: str, action: object, target: str) -> None:
            sandbox.control("POST", "requests/clear")
            started = time.monotonic()
            action()  # type: ignore[operator]
            elapsed = (time.monotonic() - started) * 1000
            counts = {k: v for k, v in sandbox.requests()["counts"].items() if "/api/v4/" in k}
            log = SyncLog.objects.first()
            detail = ", ".join(f"{k} x{v}" for k, v in counts.items())
            print(f"{label:<42} {sum(counts.values()):>2} requests (target {target:>4}) {elapsed:6.0f} ms  "
                  f"[{log.action}/{log.outcome}]  {detail}")  # fmt: skip

        holder: dict[str, object] = {}
        measure("create, new customer and new products", lambda: holder.update(first=new_order(3)), "-")
        measure("create, repeat customer, known products", lambda: holder.update(order=new_order(5)), "<= 5")
        order = holder["order"]

        def status_change() -> None:
            order_set_status(order=order, status="reserved", origin="manager", actor="bench")

        def comment_change() -> None:
            order_update(order=order, data={"comment": "позвонить заранее"}, origin="manager", actor="bench")

        measure("status-only change", status_change, "1")
        measure("comment change (nothing mapped on the lead)", comment_change, "0")
    finally:
        proc.kill()


if __name__ == "__main__":
    main()
