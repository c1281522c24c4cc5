"""Benchmark of the storefront checkout: ``POST /api/v1/orders/`` latency (p50/p95/max) on embedded SQLite.

Run: ``python -m tests.bench.bench_orders_api [--requests 500] [--warmup 20]``. It builds a fresh SQLite
database in a temporary folder (migrate, which loads the catalog), then posts anonymous checkouts through
``django.test.Client`` with the whole middleware stack, each with an inline customer (a third of them
returning customers found by phone). The cluster is not synchronous (``Q_SYNC=false``), so signal receivers
only enqueue. Target: p95 under 60 ms. :func:`measure` returns the figures (``tests/bench/figures.py``). Not
collected by pytest (the file name does not start with ``test_``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from typing import Any


def configure() -> str:
    """Point Django at a throw-away embedded database before settings are imported; returns the folder."""
    data_dir = tempfile.mkdtemp(prefix="console-bench-")
    os.environ["DATA_DIR"] = data_dir
    os.environ["DATABASE_URL"] = f"sqlite:///{data_dir}/bench.sqlite3"
    os.environ["Q_SYNC"] = "false"
    os.environ["LOG_LEVEL"] = "ERROR"
    os.environ["DJANGO_SETTINGS_MODULE"] = "settings.test"
    return data_dir


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def payload(i: int, skus: list[str]) -> dict:
    start = datetime.date.today() + datetime.timedelta(days=7 + i % 30)
    returning = i % 3 == 0 and i > 0
    phone_no = (i // 3) if returning else i
    return {
        "customer": {
            "name": f"Покупатель {i} 🙂",
            "phone": f"+7 999 {phone_no:07d}",
            "email": f"buyer{i}@example.com",
        },
        "installation_date": start.isoformat(),
        "dismantle_date": (start + datetime.timedelta(days=1 + i % 4)).isoformat(),
        "delivery_method": "delivery_installation",
        "delivery_address": "Москва, ул. Тверская, д. 7",
        "comment": "Свадьба на 80 гостей",
        "items": [{"sku": skus[(i + k) % len(skus)], "quantity": 1 + (i * 7 + k) % 50} for k in range(3)],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args(argv)
    measure(requests=args.requests, warmup=args.warmup)
    return 0


def measure(*, requests: int = 500, warmup: int = 20) -> list[dict[str, Any]]:
    """Post ``requests`` checkouts on a throwaway database; print and return the figures. Configures Django:
    once per process."""
    from tests.bench.figures import figure

    data_dir = configure()
    try:
        samples = run(argparse.Namespace(requests=requests, warmup=warmup), data_dir)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    p95 = percentile(samples, 95)
    return [
        figure("POST /api/v1/orders/ (SQLite): p50", statistics.median(samples), "-", None, unit=" ms"),
        figure("POST /api/v1/orders/ (SQLite): p95", p95, "< 60 ms", p95 < 60, unit=" ms"),
    ]


def run(args: argparse.Namespace, data_dir: str) -> list[float]:
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from console.orders.models import Order, Product

    call_command("migrate", verbosity=0)
    skus = list(Product.objects.filter(is_active=True).values_list("sku", flat=True))
    client = Client(HTTP_HOST="localhost")

    def post(i: int) -> float:
        body = json.dumps(payload(i, skus))
        started = time.perf_counter()
        response = client.post("/api/v1/orders/", body, content_type="application/json")
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 201:
            raise SystemExit(f"request {i}: HTTP {response.status_code}: {response.content[:500]!r}")
        return elapsed

    for i in range(args.warmup):
        post(1_000_000 + i)
    samples = [post(i) for i in range(args.requests)]
    print(
        f"POST /api/v1/orders/ on SQLite ({data_dir}): {len(samples)} requests, "
        f"{Order.objects.count()} orders in the database"
    )
    print(
        f"p50 {statistics.median(samples):.1f} ms  p95 {percentile(samples, 95):.1f} ms  "
        f"max {max(samples):.1f} ms  mean {statistics.fmean(samples):.1f} ms"
    )
    return samples


if __name__ == "__main__":
    sys.exit(main())
