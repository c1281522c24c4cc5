"""Benchmark: latency from ``POST /api/v1/orders/`` (storefront checkout) to the lead existing in the sandbox,
p50 over 50 orders, with running clusters (target p50 <= 1 s).

Starts a sandbox (7 req/s) and a ``Stack`` (``tests/fixtures/stack.py``) in ``--mode``: embedded (a file
SQLite database, the ORM broker, one cluster) or scale-out (PostgreSQL, the Redis broker, two clusters); the
console under gunicorn, ``Q_POLL`` 0.05 s. Orders are posted one at a time; the lead counts as existing when
the sync stored its id (it is stored right after amoCRM answered the create). At the end every lead is
checked in the sandbox. :func:`run` returns the figures (``tests/bench/figures.py``).

    .venv/bin/python -m tests.bench.bench_sync_latency [--orders 50] [--customers 0] [--mode embedded]

``--customers N`` draws the orders from N storefront customers (0 = every order a new customer).
Not collected by pytest.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.figures import figure  # noqa: E402
from tests.fixtures.sandbox import SandboxHandle, start_sandbox  # noqa: E402
from tests.fixtures.stack import MODES, Stack  # noqa: E402
from tests.fixtures.waiting import wait_until  # noqa: E402

LEAD = "select lead_id from amocrm_ordersync where order_id = ? and lead_id is not null"


def run(*, mode: str = "embedded", orders: int = 50, customers: int = 0, limit: int = 7, poll: float = 0.05,
        gap: float = 1.0) -> list[dict[str, Any]]:  # fmt: skip
    """Post ``orders`` orders one at a time, each ``gap`` seconds after the previous one is synced; print
    and return the latency figures."""
    proc, url = start_sandbox("--rate-limit", str(limit))
    sandbox = SandboxHandle(url)
    try:
        with Stack(sandbox, mode=mode, rate_limit=limit, products=5, poll=poll) as stack:
            latencies, numbers = [], []
            for n in range(orders):
                who = n % customers if customers else n
                started = time.monotonic()
                order = stack.post_order(phone=f"+7 917 {who:07d}", product=n % 5, quantity=1 + n % 4)
                wait_until(lambda: stack.query(LEAD, order["id"]), 30, what=f"order {order['number']}'s lead")  # noqa: B023
                latencies.append(time.monotonic() - started)
                numbers.append(order["number"])
                if gap:
                    stack.wait_synced(n + 1)
                    time.sleep(gap)  # the idle time between two checkouts the figure is about
            stack.wait_synced(orders)
            leads = stack.entities("leads")
    finally:
        proc.kill()
    held = str(leads)
    missing = [number for number in numbers if f"'{number}'" not in held]
    p50, p95 = statistics.median(latencies), statistics.quantiles(latencies, n=20)[18]
    print(f"{mode}: orders {orders}  Q_POLL {poll}  limit {limit} req/s  customers {customers or 'all new'}  "
          f"gap {gap} s")  # fmt: skip
    print(
        f"POST -> lead latency: p50 {p50:.3f} s (target <= 1 s)  p95 {p95:.3f} s  max {max(latencies):.3f} s"
    )
    print(f"leads missing in the sandbox: {len(missing)}")
    return [
        figure("POST /api/v1/orders/ -> lead: p50", p50, "<= 1 s", p50 <= 1.0, mode=mode, unit=" s"),
        figure("POST /api/v1/orders/ -> lead: p95", p95, "-", None, mode=mode, unit=" s"),
        figure("orders whose lead is missing", len(missing), "0", not missing, mode=mode),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description="POST -> lead latency with running clusters")
    parser.add_argument("--mode", default="embedded", choices=MODES)
    parser.add_argument("--orders", type=int, default=50)
    parser.add_argument("--customers", type=int, default=0)
    parser.add_argument("--limit", type=int, default=7)
    parser.add_argument("--poll", type=float, default=0.05)
    parser.add_argument("--gap", type=float, default=1.0, help="idle seconds after an order is synced")
    run(**vars(parser.parse_args()))


if __name__ == "__main__":
    main()
