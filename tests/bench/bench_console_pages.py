"""Benchmark of the console's heaviest pages on a large data set: the orders list (plain, a deep page, and
its filters: a display state, "has error", "drifted", search by number, name and phone) and the dashboard
(server time p50/p95 through ``django.test.Client`` with the whole middleware stack, signed in as an admin).

Run: ``python -m tests.bench.bench_console_pages [--orders 100000] [--requests 50]`` on a fresh SQLite
database in a temporary folder, or ``--database postgres://postgres@127.0.0.1:5432/console_bench`` on a
PostgreSQL database made afresh under that name (dropped after the run; ``--keep`` keeps it and reuses it
next time if it holds as many orders). The data set is ``manage.py bench_data``'s
(``console/web/management/commands/bench_data.py``). Target: p95 under 150 ms for each page, 100,000 orders
on SQLite and 1,000,000 on PostgreSQL. Not collected by pytest (the file name does not start with ``test_``).

The dashboard keeps its figures while nothing they count moved (``console.web.views.dashboard.SUMMARIES``):
its ``GET /`` line is what a reload costs then; the ``recounted GET /`` line, with the figures dropped before
every request, is what a request that counts them afresh costs (after every logged sync or webhook).
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
from urllib.parse import urlsplit, urlunsplit

from tests.bench.bench_orders_api import configure, percentile


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--database", default="", help="a PostgreSQL URL (default: a throw-away SQLite file)")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database for the next run")
    args = parser.parse_args(argv)
    data_dir = configure()
    if args.database:
        os.environ["DATABASE_URL"] = args.database
    try:
        return run(args, data_dir)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
        if args.database and not args.keep:
            _postgres_admin(args.database, "DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _postgres_admin(url: str, statement: str) -> None:
    """Run ``statement`` (``{name}``: the database named in ``url``) from the server's ``postgres``
    database, as creating and dropping a database must."""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as admin:
        admin.execute(statement.format(name=f'"{name}"'))


def _prepare(args: argparse.Namespace) -> str:
    """Migrate and fill the database unless ``--keep`` left one with as many orders; says which."""
    from django.core.management import call_command

    from console.orders.models import Order

    if args.database:
        if args.keep:
            try:
                call_command("migrate", verbosity=0)
                if Order.objects.count() == args.orders:
                    return "reused"
            except Exception:  # noqa: BLE001 - no such database yet, or an unusable one: made afresh below
                pass
        from django.db import connection

        connection.close()
        _postgres_admin(args.database, "DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        _postgres_admin(args.database, "CREATE DATABASE {name}")
    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    call_command("bench_data", orders=args.orders, verbosity=0)
    return f"built in {time.perf_counter() - started:.0f} s"


PAGES = [
    "/orders/",
    "/",
    "/orders/?page={deep}",
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
    from django.db import connection
    from django.test import Client

    done = _prepare(args)
    print(f"{args.orders} orders on {connection.vendor}: {done}")
    user = get_user_model().objects.filter(username="bench").first()
    client = Client(HTTP_HOST="localhost")
    client.force_login(user or get_user_model().objects.create_superuser("bench", password="pw"))
    for address in PAGES:
        url = address.format(deep=max(1, args.orders // 111))  # page 900 of 100,000 orders
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
