"""Benchmark: HTTP requests the sync makes for one order — a create (new customer, then a repeat customer),
a status-only change, a comment change (the lead's comment field and a change note) and a save that changes
nothing (targets: create <= 5 for a repeat customer, status 1, comment 2, no-op 0).

    .venv/bin/python tests/bench/bench_sync_single.py [--limit 7]   (BENCH_SHOW_QUERIES=1 lists each query)

Not collected by pytest. Uses ``boot`` from ``bench_sync_bulk`` (own sandbox and SQLite file); the cluster
runs in sync mode, so each order change is synced inline when its transaction commits. :func:`run` returns
the figures (``tests/bench/figures.py``).
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.bench_sync_bulk import boot  # noqa: E402
from tests.bench.figures import figure  # noqa: E402

TARGETS = {"create, repeat customer, known products": 5, "status-only change": 1,
           "comment change (lead field and change note)": 2, "save that changes nothing": 0}  # fmt: skip


def run(*, limit: int = 7) -> list[dict[str, Any]]:
    """Measure the requests of each single-order sync (see the module doc); print and return the figures.
    Configures Django for its own throwaway database: once per process."""
    measured: dict[str, int] = {}
    proc, sandbox = boot(limit)
    try:
        from decimal import Decimal

        from django.db import connection
        from django.test.utils import CaptureQueriesContext
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
            with CaptureQueriesContext(connection) as queries:  # the change and its inline sync
                action()  # type: ignore[operator]
            elapsed = (time.monotonic() - started) * 1000
            if os.environ.get("BENCH_SHOW_QUERIES"):
                for query in queries.captured_queries:
                    print("   ", query["sql"][:160])
            counts = {k: v for k, v in sandbox.requests()["counts"].items() if "/api/v4/" in k}
            log = SyncLog.objects.first()
            measured[label] = sum(counts.values())
            detail = ", ".join(f"{k} x{v}" for k, v in counts.items())
            print(f"{label:<42} {sum(counts.values()):>2} requests (target {target:>4}) {elapsed:6.0f} ms  "
                  f"{len(queries):>3} queries  [{log.action}/{log.outcome}]  {detail}")  # fmt: skip

        holder: dict[str, object] = {}
        measure("create, new customer and new products", lambda: holder.update(first=new_order(3)), "-")
        measure("create, repeat customer, known products", lambda: holder.update(order=new_order(5)), "<= 5")
        order = holder["order"]

        def status_change() -> None:
            order_set_status(order=order, status="reserved", origin="manager", actor="bench")

        def comment_change() -> None:
            order_update(order=order, data={"comment": "позвонить заранее"}, origin="manager", actor="bench")

        measure("status-only change", status_change, "1")
        measure("comment change (lead field and change note)", comment_change, "2")
        measure("save that changes nothing", comment_change, "0")
    finally:
        proc.kill()
    return [
        figure(f"single sync, {label}: requests", measured[label], f"<= {target}", measured[label] <= target)
        for label, target in TARGETS.items()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description="requests per single-order sync")
    parser.add_argument("--limit", type=int, default=7)
    run(limit=parser.parse_args().limit)


if __name__ == "__main__":
    main()
