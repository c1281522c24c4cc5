"""Benchmark: latency from ``POST /api/v1/orders/`` (storefront checkout) to the lead existing in the sandbox,
p50 over 50 orders, with a running cluster (ORM broker by default; target p50 <= 1 s).

Starts a sandbox (7 req/s) and the ``Stack`` of ``tests/amocrm/test_cluster_sync.py``: a file SQLite database,
the console under gunicorn and ``manage.py qcluster`` (``Q_POLL`` 0.05 s). Orders are posted one at a time;
the lead counts as existing when the sync stored its id (it is stored right after amoCRM answered the create).
At the end every lead is checked in the sandbox.

    .venv/bin/python tests/bench/bench_sync_latency.py [--orders 50] [--customers 0] [--broker orm|redis]

``--customers N`` draws the orders from N storefront customers (0 = every order a new customer).
Not collected by pytest.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.amocrm.outbound.test_cluster import Stack  # noqa: E402
from tests.fixtures.sandbox import SandboxHandle, start_sandbox  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description="POST -> lead latency with a running cluster")
    parser.add_argument("--orders", type=int, default=50)
    parser.add_argument("--customers", type=int, default=0)
    parser.add_argument("--broker", default="orm", choices=["orm", "redis"])
    parser.add_argument("--limit", type=int, default=7)
    parser.add_argument("--poll", type=float, default=0.05)
    parser.add_argument(
        "--gap",
        type=float,
        default=1.0,
        help="idle seconds after an order is fully synced (0 = back to back)",
    )
    args = parser.parse_args()
    proc, url = start_sandbox("--rate-limit", str(args.limit))
    sandbox = SandboxHandle(url)
    stack = Stack(sandbox, broker=args.broker, rate_limit=args.limit, products=5, poll=args.poll)
    try:
        stack.start()
        latencies, numbers = [], []
        for n in range(args.orders):
            who = n % args.customers if args.customers else n
            started = time.monotonic()
            order = stack.post_order(phone=f"+7 917 {who:07d}", product=n % 5, quantity=1 + n % 4)
            while not stack.query(
                "select lead_id from amocrm_ordersync where order_id = ? and lead_id is not null", order["id"]
            ):
                if time.monotonic() - started > 30:
                    raise SystemExit(f"order {order['number']} has no lead after 30 s\n{stack.log()}")
                time.sleep(0.01)
            latencies.append(time.monotonic() - started)
            numbers.append(order["number"])
            if args.gap:
                stack.wait_synced(n + 1)
                time.sleep(args.gap)
        stack.wait_synced(args.orders)
        time.sleep(1.1)  # the sandbox limits our reads too
        response = sandbox.api("GET", "leads", params={"limit": 250})
        held = str(response.json()["_embedded"]["leads"]) if response.status_code == 200 else ""
        missing = [number for number in numbers if f"'{number}'" not in held]
        quantiles = statistics.quantiles(latencies, n=20)
        who = args.customers or "all new"
        print(f"orders: {args.orders}  broker: {args.broker}  Q_POLL: {args.poll}  limit: {args.limit} req/s")
        print(f"customers: {who}  gap between orders: {args.gap} s")
        p50, p95 = statistics.median(latencies), quantiles[18]
        worst = max(latencies)
        print(f"POST -> lead latency: p50 {p50:.3f} s (target <= 1 s)  p95 {p95:.3f} s  max {worst:.3f} s")
        print(f"leads missing in the sandbox: {len(missing)}")
    finally:
        stack.stop()
        proc.kill()


if __name__ == "__main__":
    main()
