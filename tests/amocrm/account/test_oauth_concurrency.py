"""Concurrent refresh: parallel worker PROCESSES holding an expired token spend the refresh token once.

Needs PostgreSQL (row locks across processes on committed rows): run with
``DATABASE_URL=postgres://postgres@127.0.0.1:5432/console_test_cli .venv/bin/pytest tests/amocrm -q``.
"""

from __future__ import annotations

import multiprocessing
from datetime import timedelta

import pytest
from django.db import connection as db_connection
from django.db import connections
from django.utils import timezone

from console.amocrm.models import AmoConnection
from tests.fixtures.amocrm import connect_to_sandbox

WORKERS = 6


def _worker(barrier, results) -> None:
    from console.amocrm.account.access import account_client

    connections.close_all()
    try:
        client = account_client(AmoConnection.objects.get(pk=1))
        barrier.wait()
        account = client.get_account()
        results.put(("ok", account["id"], client.access.connection.access_token[-12:]))
    except Exception as exc:  # noqa: BLE001 -- reported to the parent, which fails the test
        results.put(("error", repr(exc), ""))
    finally:
        connections.close_all()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_processes_with_an_expired_token_refresh_exactly_once(sandbox):
    if db_connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgres://...")
    sandbox.configure(rate_limit=100)
    connection = connect_to_sandbox(sandbox)
    spent = connection.refresh_token
    AmoConnection.objects.filter(pk=connection.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    sandbox.control("POST", "/_sandbox/requests/clear")
    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(WORKERS), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(barrier, results)) for _ in range(WORKERS)]
    for proc in procs:
        proc.start()
    outcomes = [results.get(timeout=60) for _ in procs]
    for proc in procs:
        proc.join(timeout=10)
    assert [o[0] for o in outcomes] == ["ok"] * WORKERS, outcomes
    assert len({o[2] for o in outcomes}) == 1, "every worker ends on the same rotated token"
    counts = sandbox.requests()["counts"]
    assert counts.get("POST /oauth2/access_token") == 1
    assert counts.get("GET /api/v4/account") == WORKERS
    connection.refresh_from_db()
    assert connection.state == "connected" and connection.refresh_token != spent


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_threads_with_an_expired_token_refresh_exactly_once(sandbox):
    if db_connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgres://...")
    import queue
    import threading

    sandbox.configure(rate_limit=100)
    connection = connect_to_sandbox(sandbox)
    AmoConnection.objects.filter(pk=connection.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    sandbox.control("POST", "/_sandbox/requests/clear")
    barrier, results = threading.Barrier(WORKERS), queue.Queue()
    threads = [threading.Thread(target=_worker, args=(barrier, results)) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    outcomes = [results.get_nowait() for _ in threads]
    assert [o[0] for o in outcomes] == ["ok"] * WORKERS, outcomes
    assert sandbox.requests()["counts"].get("POST /oauth2/access_token") == 1


_SQLITE_SCRIPT = """
import json, multiprocessing
from datetime import timedelta
import django
django.setup()
from django.db import connections
from django.utils import timezone
from console.amocrm.account.access import account_client
from console.amocrm.models import AmoConnection

def work(barrier, results):
    connections.close_all()
    client = account_client(AmoConnection.objects.get(pk=1))
    barrier.wait()
    try:
        client.get_account()
        results.put(["ok", client.access.connection.access_token[-12:]])
    except Exception as exc:
        results.put(["error", repr(exc)])

AmoConnection.objects.filter(pk=1).update(expires_at=timezone.now() - timedelta(minutes=1))
connections.close_all()
ctx = multiprocessing.get_context("fork")
barrier, results = ctx.Barrier(%(n)d), ctx.Queue()
procs = [ctx.Process(target=work, args=(barrier, results)) for _ in range(%(n)d)]
for p in procs:
    p.start()
print(json.dumps([results.get(timeout=60) for _ in procs]))
"""


def test_parallel_processes_on_a_sqlite_file_refresh_exactly_once(sandbox, tmp_path):
    import json
    import os
    import subprocess
    import sys

    sandbox.configure(rate_limit=100)
    env = dict(
        os.environ,
        DATA_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path}/console.sqlite3",
        DJANGO_SETTINGS_MODULE="settings.base",
        AMOCRM_RATE_LIMIT="50",
        REDIS_URL="",
        LOG_LEVEL="WARNING",
    )

    def run(*args: str) -> str:
        done = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    run("manage.py", "migrate", "-v0")
    run("manage.py", "amocrm_connect_sandbox", "--url", sandbox.url, "--no-setup")
    sandbox.control("POST", "/_sandbox/requests/clear")
    outcomes = json.loads(run("-c", _SQLITE_SCRIPT % {"n": WORKERS}).strip().splitlines()[-1])
    assert [o[0] for o in outcomes] == ["ok"] * WORKERS, outcomes
    assert len({o[1] for o in outcomes}) == 1
    assert sandbox.requests()["counts"].get("POST /oauth2/access_token") == 1
