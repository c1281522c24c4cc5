"""Benchmark of the console's heaviest pages on 100,000 orders: the orders list (plain, a deep page, and its
filters: a display state, "has error", "drifted", search by number, name and phone) and the dashboard (server
time p50/p95 through ``django.test.Client`` with the whole middleware stack, signed in as an admin).

Run: ``python -m tests.bench.bench_console_pages [--orders 100000] [--requests 50]``. It builds a fresh SQLite
database in a temporary folder and fills it with ``bulk_create``: customers (one for every two orders, a
tenth with a company), orders spread over two years in every status, sync rows in every display state (some
drifted), a week of sync log (20,160 attempts: one every 30 s, several times what the business makes) and
a few hundred queued tasks. Target: p95 under 150 ms for each page on SQLite. Not collected by pytest (the
file name does not start with ``test_``).

The dashboard keeps its figures for a few seconds (``console.web.views.dashboard.SUMMARIES``): its ``GET /``
line is what people get; the ``recounted GET /`` line, with the figures dropped before every request, is what
the request that counts them afresh costs (once per ``SUMMARY_SECONDS`` per process).
Each line: ``GET <url>  p50 … ms  p95 … ms`` of wall-clock time (read by ``tests/bench/suite.py``), then the
CPU time of the same requests, which says what a request costs when other processes share the machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from importlib import import_module

from tests.bench.bench_orders_api import configure, percentile

PIPELINE = 7000
STAGES = {"new": 11, "reserved": 12, "in_rent": 13, "in_progress": 14, "archived": 142, "cancelled": 143}
STATUSES = list(STAGES)
SYNC_STATES = ["synced"] * 14 + ["queued", "syncing", "failed", "skipped", "unlinked", "not_synced"]
BATCH = 5000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args(argv)
    data_dir = configure()
    try:
        return run(args, data_dir)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def build(count: int) -> None:
    """The data set (see the module docstring), written in bulk."""
    import datetime
    from decimal import Decimal

    from django.db import connection
    from django.utils import timezone

    from console.amocrm.models import (
        AmoConnection,
        OrderSync,
        Pipeline,
        PipelineStatus,
        StageMapping,
        SyncLog,
    )
    from console.customers.models import Company, Customer
    from console.orders.models import Order

    AmoConnection.objects.update_or_create(
        pk=1, defaults={"state": "connected", "base_url": "https://b.amocrm.ru"}
    )
    pipeline = Pipeline.objects.create(amo_id=PIPELINE, name="Аренда", is_main=True)
    for status, stage in STAGES.items():
        PipelineStatus.objects.create(pipeline=pipeline, status_id=stage, name=status.title())
        StageMapping.objects.create(order_status=status, pipeline_id=PIPELINE, status_id=stage)
    companies = Company.objects.bulk_create(Company(name=f"ООО Компания {n}") for n in range(count // 20))
    customers = Customer.objects.bulk_create(
        (
            Customer(
                first_name=f"Имя{n}",
                last_name=f"Фамилия{n % 5000}",
                phone=f"+7 916 {n:07d}",
                phone_normalized=f"+7916{n:07d}",
                email=f"client{n}@example.com",
                company=companies[n % len(companies)] if n % 10 == 0 and companies else None,
            )
            for n in range(count // 2)
        ),
        batch_size=BATCH,
    )
    today, now = timezone.localdate(), timezone.now()
    for start in range(0, count, BATCH):
        orders = Order.objects.bulk_create(
            Order(
                customer=customers[n % len(customers)],
                number=f"R-{n + 1:06d}",
                status=STATUSES[n % len(STATUSES)],
                installation_date=today + datetime.timedelta(days=n % 90),
                dismantle_date=today + datetime.timedelta(days=n % 90 + 2),
                total_amount=Decimal(1000 + n % 50_000),
                delivery_method="delivery",
                delivery_address=f"Москва, ул. Тверская, д. {n % 200}",
                comment="Свадьба на 80 гостей" if n % 3 else "",
                is_active=n % 50 != 0,
            )
            for n in range(start, min(start + BATCH, count))
        )
        OrderSync.objects.bulk_create(
            OrderSync(
                order=order,
                state=SYNC_STATES[order.pk % len(SYNC_STATES)],
                lead_id=20_000_000 + order.pk,
                amo_pipeline_id=PIPELINE,
                # one in forty deals was moved in amoCRM to the "reserved" stage: drift for most of them
                amo_status_id=12 if order.pk % 40 == 1 else STAGES[order.status],
                # what a real row carries besides: hashes and the JSON of the last push
                payload_hash=f"{order.pk:064x}",
                pushed_lead_hash=f"{order.pk * 7:064x}",
                pushed_products={str(9_000_000 + k): k + 1 for k in range(3)},
                pushed_summary={"total": str(order.total_amount), "lines": ["Стул Кьявари × 40"] * 3},
                last_synced_at=now,
                last_error_title="AmoCRM is temporarily unavailable" if order.pk % 7 == 0 else "",
                last_error_kind="server" if order.pk % 7 == 0 else "",
                attempts=order.pk % 8,
            )
            for order in orders
            if order.pk % 10
        )
    with connection.cursor() as cursor:  # two years of orders, newest last
        cursor.execute(
            "UPDATE orders_order SET created_at = datetime('now', '-' || ((%s - id) * 10) || ' minutes')",
            [count],
        )
    outcomes = ["ok"] * 8 + ["noop", "retry", "failed"]
    kinds = ["server", "network", "rate_limited", "validation"]
    SyncLog.objects.bulk_create(
        (
            SyncLog(
                order_id=1 + n % count,
                event="updated",
                action="update",
                trigger="schedule",
                started_at=now - datetime.timedelta(seconds=n * 30),
                outcome=outcomes[n % len(outcomes)],
                error_kind=kinds[n % len(kinds)]
                if outcomes[n % len(outcomes)] in ("retry", "failed")
                else "",
            )
            for n in range(7 * 24 * 120)
        ),
        batch_size=BATCH,
    )
    from django_q.models import OrmQ

    OrmQ.objects.bulk_create(
        OrmQ(key="console", payload="x", lock=now - datetime.timedelta(seconds=n)) for n in range(300)
    )


PAGES = [
    "/orders/",
    "/",
    "/orders/?page=900",
    "/orders/?sync_state=failed",
    "/orders/?has_error=on",
    "/orders/?drifted=on",
    "/orders/?q=R-054321",
    "/orders/?q=Фамилия4217",
    "/orders/?q=916+0004217",
]


def measure(client, url: str, requests: int, before=None) -> tuple[list[float], list[float]]:  # noqa: ANN001
    """Wall-clock and CPU milliseconds of ``requests`` GETs of ``url`` (CPU time says what a request costs
    when other processes share the machine); ``before()``, when given, runs before each request, untimed."""
    wall, cpu = [], []
    for _ in range(requests):
        if before is not None:
            before()
        started, started_cpu = time.perf_counter(), time.process_time()
        response = client.get(url)
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{url}: HTTP {response.status_code}")
    return wall, cpu


def run(args: argparse.Namespace, data_dir: str) -> int:
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    build(args.orders)
    print(f"built {args.orders} orders in {time.perf_counter() - started:.0f} s ({data_dir})")
    client = Client(HTTP_HOST="localhost")
    client.force_login(get_user_model().objects.create_superuser("bench", password="pw"))
    for url in PAGES:
        measure(client, url, 3)  # warm-up: templates, caches
        report(f"GET {url}", *measure(client, url, args.requests))
    figures = getattr(import_module("console.web.views.dashboard"), "SUMMARIES", None)
    if figures is not None:
        report("recounted GET /", *measure(client, "/", args.requests, before=figures.clear))
    print(f"load average during the run: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


def report(label: str, wall: list[float], cpu: list[float]) -> None:
    print(
        f"{label:<36} p50 {statistics.median(wall):6.1f} ms  p95 {percentile(wall, 95):6.1f} ms  "
        f"(cpu p50 {statistics.median(cpu):6.1f} ms, p95 {percentile(cpu, 95):6.1f} ms; {len(wall)} requests)"
    )


if __name__ == "__main__":
    sys.exit(main())
