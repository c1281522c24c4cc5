"""``manage.py bench_data [--orders 100000]``: a large, realistic data set for the page benchmark
(``tests/bench/bench_console_pages.py``), written in bulk into an empty database of either kind.

What it writes: customers (one for every two orders, a tenth with a company), orders spread over two years in
every status, sync rows in every display state (one in forty deals moved in amoCRM, most of them drifted), a
week of sync log (20,160 attempts: one every 30 s, several times what the business makes) and a few hundred
queued tasks. ``bulk_create`` in batches, one transaction per batch: 1,000,000 orders take a few minutes on
PostgreSQL. Not for a database in use: it refuses one that holds orders already.
"""

from __future__ import annotations

import datetime
import time
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.utils import timezone

from console.amocrm.models import AmoConnection, OrderSync, Pipeline, PipelineStatus, StageMapping, SyncLog
from console.customers.models import Company, Customer
from console.orders.models import Order

PIPELINE = 7000
STAGES = {"new": 11, "reserved": 12, "in_rent": 13, "in_progress": 14, "archived": 142, "cancelled": 143}
STATUSES = list(STAGES)
SYNC_STATES = ["synced"] * 14 + ["queued", "syncing", "failed", "skipped", "unlinked", "not_synced"]
BATCH = 5000
TWO_YEARS = 2 * 365 * 24 * 3600  # seconds the orders' creation times spread over, newest now
# The orders' creation times: ``id`` 1 oldest, the last one now (``%(step)s`` seconds apart).
SPREAD_SQL = {
    "sqlite": "UPDATE orders_order SET created_at = datetime('now', '-' || ((%s - id) * %s) || ' seconds')",
    "postgresql": "UPDATE orders_order SET created_at = now() - (%s - id) * %s * interval '1 second'",
}


class Command(BaseCommand):
    help = "Fill an empty database with a large data set for the page benchmark."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--orders", type=int, default=100_000)

    def handle(self, *args: Any, orders: int, **options: Any) -> None:
        if Order.objects.exists():
            raise CommandError("The database holds orders already: bench_data fills an empty one.")
        started = time.perf_counter()
        build(orders)
        self.stdout.write(f"built {orders} orders in {time.perf_counter() - started:.0f} s")


def build(count: int) -> None:
    """The data set (see the module docstring)."""
    AmoConnection.objects.update_or_create(
        pk=1, defaults={"state": "connected", "base_url": "https://b.amocrm.ru"}
    )
    pipeline = Pipeline.objects.create(amo_id=PIPELINE, name="Аренда", is_main=True)
    for status, stage in STAGES.items():
        PipelineStatus.objects.create(pipeline=pipeline, status_id=stage, name=status.title())
        StageMapping.objects.create(order_status=status, pipeline_id=PIPELINE, status_id=stage)
    companies = Company.objects.bulk_create(
        (Company(name=f"ООО Компания {n}") for n in range(count // 20)), batch_size=BATCH
    )
    customer_ids = []
    for start in range(0, count // 2, BATCH):
        with transaction.atomic():
            made = Customer.objects.bulk_create(
                _customer(n, companies) for n in range(start, min(start + BATCH, count // 2))
            )
        customer_ids += [customer.pk for customer in made]
    now = timezone.now()
    for start in range(0, count, BATCH):
        with transaction.atomic():
            made = Order.objects.bulk_create(
                _order(n, customer_ids[n % len(customer_ids)])
                for n in range(start, min(start + BATCH, count))
            )
            OrderSync.objects.bulk_create(_sync_row(order, now) for order in made if order.pk % 10)
    with connection.cursor() as cursor:
        cursor.execute(SPREAD_SQL[connection.vendor], [count, TWO_YEARS / count])
    _log_and_queue(count, now)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # What autovacuum does in a while: the planner's statistics, and the visibility map that lets a
            # count read an index alone (https://www.postgresql.org/docs/current/routine-vacuuming.html).
            cursor.execute("VACUUM ANALYZE")


def _customer(n: int, companies: list[Company]) -> Customer:
    return Customer(
        first_name=f"Имя{n}",
        last_name=f"Фамилия{n % 5000}",
        phone=f"+7 916 {n:07d}",
        phone_normalized=f"+7916{n:07d}",
        email=f"client{n}@example.com",
        company=companies[n % len(companies)] if n % 10 == 0 and companies else None,
    )


def _order(n: int, customer_id: int) -> Order:
    today = timezone.localdate()
    return Order(
        customer_id=customer_id,
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


def _sync_row(order: Order, now: datetime.datetime) -> OrderSync:
    return OrderSync(
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


def _log_and_queue(count: int, now: datetime.datetime) -> None:
    from django_q.models import OrmQ

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
    OrmQ.objects.bulk_create(
        OrmQ(key="console", payload="x", lock=now - datetime.timedelta(seconds=n)) for n in range(300)
    )
