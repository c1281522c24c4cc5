"""Benchmark: bulk push of 1,000 new orders from 200 new customers over 30 products to the sandbox at 7 req/s.

Starts its own sandbox (rate limit 7 req/s), a throwaway SQLite database and data folder, connects through the
normal OAuth code exchange and account setup, builds the orders with the domain services (receivers off, so
nothing is synced yet), then runs ``orders_push_bulk`` (the cluster in sync mode runs the bulk task inline)
and prints HTTP requests per order (target <= 0.35), wall time (target <= 90 s), the sandbox's peak requests
per second and what it holds afterwards. Then one customer with several synced orders changes their e-mail
(the customers service, as the console or the API does it) and it prints the requests that took (target 1).
:func:`run` returns those figures (``tests/bench/figures.py``).

    .venv/bin/python tests/bench/bench_sync_bulk.py [--orders 1000] [--customers 200] [--products 30]
        [--business 20] [--limit 7]

Not collected by pytest (the file name does not start with ``test_``). Other ``bench_sync_*`` scripts reuse
``boot`` and ``build_world`` from here.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))


def boot(limit: int, *, sync_mode: bool = True) -> tuple[Any, Any]:
    """Start a sandbox at ``limit`` req/s and a Django on a fresh SQLite file, connected and set up.

    Returns ``(sandbox_process, sandbox_handle)``.
    """
    from tests.fixtures.sandbox import SandboxHandle, start_sandbox

    proc, url = start_sandbox("--rate-limit", str(limit))
    data = tempfile.mkdtemp(prefix="bench-sync-")
    os.environ.update(
        DJANGO_SETTINGS_MODULE="settings.base",
        DATA_DIR=data,
        DATABASE_URL=f"sqlite:///{data}/bench.sqlite3",
        AMOCRM_RATE_LIMIT=str(limit),
        Q_BROKER="orm",
        Q_SYNC="true" if sync_mode else "false",
        LOG_LEVEL="WARNING",
    )
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    handle = SandboxHandle(url)
    from console.amocrm.account.connection import connection_save_credentials
    from console.amocrm.account.oauth import code_exchange
    from console.amocrm.account.setup import account_setup
    from console.amocrm.models import AmoConnection

    connection = connection_save_credentials(
        connection=AmoConnection.get_solo(),
        base_url=url,
        client_id=handle.client_id,
        client_secret=handle.client_secret,
        redirect_uri=handle.redirect_uri,
    )
    code_exchange(connection=connection, code=handle.mint_code(), state=None)
    account_setup(connection_id=1, webhook_base_url="")
    return proc, handle


def receivers_off() -> None:
    from console.orders.signals import order_changed

    order_changed.disconnect(dispatch_uid="amocrm.order_changed")


def receivers_on() -> None:
    from console.amocrm.outbound.receivers import order_changed_enqueue_sync
    from console.orders.signals import order_changed

    order_changed.connect(order_changed_enqueue_sync, dispatch_uid="amocrm.order_changed")


def build_world(*, orders: int, customers: int, products: int, business: int) -> list[int]:
    """Products, customers (``business`` of them with a company) and orders (1-3 lines each); their ids."""
    from decimal import Decimal

    from django.utils import timezone

    from console.customers.services import company_create, customer_create
    from console.orders.models import Product
    from console.orders.services import order_create

    catalog = [
        Product.objects.create(
            sku=f"BN-{n:03d}", name=f"Позиция {n}", category="chairs", unit_price=Decimal(100 + 7 * n)
        )
        for n in range(products)
    ]
    people = []
    for n in range(customers):
        data: dict[str, Any] = {"first_name": "Клиент", "last_name": f"Номер{n}", "phone": f"+7 915 {n:07d}",
                                "email": f"bench{n}@example.com"}  # fmt: skip
        if n < business:
            data["customer_type"] = "business"
            data["company"] = company_create(data={"name": f"ООО Бенч {n}"})
        people.append(customer_create(data=data))
    start = timezone.localdate() + datetime.timedelta(days=30)
    ids = []
    for n in range(orders):
        lines = [
            {"product": catalog[(n + k * 7) % products], "quantity": 1 + (n + k) % 9}
            for k in range(1 + n % 3)
        ]
        order = order_create(
            data={"customer": people[n % customers], "installation_date": start,
                  "dismantle_date": start + datetime.timedelta(days=2), "items": lines},
            origin="manager", actor="bench",
        )  # fmt: skip
        ids.append(order.pk)
    return ids


def email_change(sandbox: Any) -> int:
    """One customer with synced orders changes their e-mail: the requests it costs (target 1)."""
    from django.db import transaction

    from console.amocrm.models import OrderSync
    from console.customers.models import Customer
    from console.customers.services import customer_update

    synced = OrderSync.objects.filter(state="synced", order__customer__customer_type="individual")
    customer = Customer.objects.get(pk=synced.values_list("order__customer_id", flat=True).first())
    orders = synced.filter(order__customer=customer).count()
    sandbox.control("POST", "requests/clear")
    with transaction.atomic():  # the console's edit: the push is queued when it commits (inline here)
        customer_update(customer=customer, data={"email": "changed@example.com"}, origin="manager", actor="b")
    api = {k: v for k, v in sandbox.requests()["counts"].items() if "/api/v4/" in k}
    print(
        f"e-mail change of a customer with {orders} orders: {sum(api.values())} request(s) {api}  (target 1)"
    )
    return sum(api.values())


def run(*, orders: int = 1000, customers: int = 200, products: int = 30, business: int = 20,
        limit: int = 7) -> list[dict[str, Any]]:  # fmt: skip
    """Push ``orders`` new orders in bulk (see the module doc), print and return the figures. Configures
    Django for its own throwaway database: once per process."""
    from tests.bench.figures import figure

    proc, sandbox = boot(limit)
    try:
        receivers_off()
        t = time.monotonic()
        ids = build_world(orders=orders, customers=customers, products=products, business=business)
        lines = sum(1 + n % 3 for n in range(orders))
        print(f"built {len(ids)} orders ({lines} lines) in {time.monotonic() - t:.1f} s")
        from console.amocrm.models import OrderSync
        from console.amocrm.outbound.controls import orders_push_bulk

        sandbox.control("POST", "requests/clear")
        started = time.monotonic()
        orders_push_bulk(order_ids=ids, trigger="bulk:bench")
        wall = time.monotonic() - started
        report = sandbox.requests()
        api = {k: v for k, v in report["counts"].items() if "/api/v4/" in k}
        total = sum(api.values())
        states: dict[str, int] = {}
        for state in OrderSync.objects.values_list("state", flat=True):
            states[state] = states.get(state, 0) + 1
        held = sandbox.stats()
        print(f"orders: {len(ids)}  customers: {customers}  products: {products}")
        print(f"HTTP requests: {total}  per order: {total / len(ids):.3f}  (target <= 0.35)")
        peak = report.get("peak_rps")
        print(f"wall time: {wall:.1f} s  (target <= 90 s)  at {limit} req/s; sandbox peak {peak}/s")
        print(f"sync states: {states}")
        kept = ", ".join(f"{key} {held[key]}" for key in ("leads", "contacts", "companies", "notes"))
        print(f"sandbox holds: {kept}")
        for key, count in sorted(api.items(), key=lambda kv: -kv[1]):
            print(f"  {count:5d}  {key}")
        change = email_change(sandbox)
    finally:
        proc.kill()
    per_order = total / len(ids)
    return [
        figure(f"bulk push of {orders} orders: requests per order", per_order, "<= 0.35", per_order <= 0.35),
        figure(f"bulk push of {orders} orders: wall time", wall, "<= 90 s", wall <= 90, unit=" s"),
        figure("bulk: requests for a customer's e-mail change", change, "1", change == 1),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--products", type=int, default=30)
    parser.add_argument("--business", type=int, default=20)
    parser.add_argument("--limit", type=int, default=7)
    run(**vars(parser.parse_args()))


if __name__ == "__main__":
    main()
