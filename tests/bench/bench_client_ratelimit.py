"""Benchmark: 4 worker processes issue 300 calls through AmoCRMClient as fast as they can.

Starts its own sandbox (rate limit 7 req/s, its 429 and block enabled), a throwaway SQLite database and
data folder (so the database limiter is shared by the workers, as in the embedded mode), connects
through the normal OAuth code exchange, then prints the sandbox's observed peak requests per second (must
not exceed the limit), the achieved rate (target: at least 90 % of the limit) and the number of 429 answers.

    .venv/bin/python tests/bench/bench_client_ratelimit.py [--workers 4] [--calls 300] [--limit 7]
        [--redis URL]

:func:`run` returns the figures (``tests/bench/figures.py``): the database limiter is the embedded mode's,
the Redis one (``--redis``) the scale-out mode's. Not collected by pytest (the file name does not start with
``test_``).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def start_sandbox(limit: int) -> tuple[subprocess.Popen[str], str]:
    cmd = [
        sys.executable,
        "-m",
        "console.sandbox",
        "--port",
        "0",
        "--db",
        ":memory:",
        "--rate-limit",
        str(limit),
    ]
    proc = subprocess.Popen(
        cmd, cwd=REPO, stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1")
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("AmoCRM sandbox listening on "):
            return proc, line.split(" on ", 1)[1].strip()
    proc.kill()
    raise SystemExit("the sandbox did not start")


def setup_django(limit: int, redis_url: str) -> None:
    data = tempfile.mkdtemp(prefix="bench-client-")
    os.environ.update(
        DATA_DIR=data,
        DATABASE_URL=f"sqlite:///{data}/bench.sqlite3",
        AMOCRM_RATE_LIMIT=str(limit),
        REDIS_URL=redis_url,
        Q_BROKER="orm",
        LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="settings.base",
    )
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def worker(calls: int, barrier, results) -> None:
    from django.db import connections

    from console.amocrm.account.access import account_client
    from console.amocrm.api.errors import AmoCRMError

    connections.close_all()
    client = account_client()
    errors = 0
    barrier.wait()
    for i in range(calls):
        try:
            client.get_account() if i % 2 else client.list_pipelines()
        except AmoCRMError:
            errors += 1
    results.put((client.calls, errors))
    connections.close_all()


def run(*, workers: int = 4, calls: int = 300, limit: int = 7, redis: str = "") -> list[dict[str, Any]]:
    """``workers`` processes make ``calls`` calls through the client; print and return the figures.
    Configures Django for its own throwaway database: once per process."""
    proc, url = start_sandbox(limit)
    try:
        setup_django(limit, redis)
        import requests
        from django.db import connections

        from console.amocrm.account.connection import connection_save_credentials
        from console.amocrm.account.oauth import code_exchange
        from console.amocrm.models import AmoConnection
        from tests.bench.figures import figure

        connection = connection_save_credentials(
            connection=AmoConnection.get_solo(),
            base_url=url,
            client_id="sandbox-client-id",
            client_secret="sandbox-client-secret",
            redirect_uri="http://127.0.0.1:8000/amocrm/oauth/callback/",
        )
        code = requests.post(
            f"{url}/_sandbox/oauth/code", json={"client_id": "sandbox-client-id"}, timeout=10
        )
        code_exchange(connection=connection, code=code.json()["code"], state=None)
        time.sleep(1.2)  # let the exchange leave the one-second window
        requests.post(f"{url}/_sandbox/requests/clear", timeout=10)
        connections.close_all()

        ctx = multiprocessing.get_context("fork")
        barrier, results = ctx.Barrier(workers), ctx.Queue()
        share = [calls // workers + (1 if i < calls % workers else 0) for i in range(workers)]
        pool = [ctx.Process(target=worker, args=(n, barrier, results)) for n in share]
        started = time.monotonic()
        for w in pool:
            w.start()
        done = [results.get(timeout=600) for _ in pool]
        wall = time.monotonic() - started
        for w in pool:
            w.join(timeout=10)

        report = requests.get(f"{url}/_sandbox/requests", params={"limit": 0}, timeout=10).json()
        full = requests.get(f"{url}/_sandbox/requests", params={"limit": 100000}, timeout=30).json()
        times = sorted(entry["t"] for entry in full["requests"])
        span = times[-1] - times[0] if len(times) > 1 else 0.0
        achieved = (len(times) - 1) / span if span else 0.0
        too_many = report["statuses"].get("429", 0)
        backend = "redis" if redis else "database"
        made, errors = sum(c for c, _ in done), sum(e for _, e in done)
        blocked = requests.get(f"{url}/_sandbox/state", timeout=10).json().get("blocked")
        share_of_limit = achieved / limit
        print(f"workers: {workers}, calls: {made} HTTP ({errors} errors)")
        print(f"limiter backend: {backend}, limit: {limit} req/s")
        print(f"sandbox observed peak: {report['peak_rps']} req in any 1 s window (limit {limit})")
        print(f"achieved rate: {achieved:.2f} req/s = {share_of_limit:.1%} of the limit (wall {wall:.1f} s)")
        print(f"429 answers: {too_many}; sandbox blocked: {blocked}")
    finally:
        proc.kill()
    mode = "scale-out" if redis else "embedded"
    return [
        figure("client limiter: peak requests in 1 s", report["peak_rps"], f"<= {limit}",
               report["peak_rps"] <= limit, mode=mode),
        figure("client limiter: share of the limit reached", f"{share_of_limit:.0%}", ">= 90%",
               share_of_limit >= 0.9, mode=mode),
        figure("client limiter: 429 answers", too_many, "0", not too_many, mode=mode),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--limit", type=int, default=7)
    parser.add_argument("--redis", default="", help="use the Redis limiter backend at this URL")
    figures = run(**vars(parser.parse_args()))
    ok = all(f["passed"] for f in figures)
    print("RESULT:", "PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
