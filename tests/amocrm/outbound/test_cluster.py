"""Background behaviour with a real ``qcluster`` process: the console runs under gunicorn on a file SQLite
database, the cluster (ORM broker, or Redis) syncs, and the test only talks HTTP to both servers.

``Stack`` is also used by ``tests/bench/bench_sync_latency.py``.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

REPO = Path(__file__).resolve().parents[3]
PYTHON = sys.executable

SETUP = """
import requests
from console.amocrm.account.connection import connection_save_credentials
from console.amocrm.models import AmoConnection
from console.amocrm.account.oauth import code_exchange
from console.amocrm.account.setup import account_setup
from console.amocrm.schedules import schedules_ensure
from console.orders.models import Product

url, cid, secret, redirect = {url!r}, {cid!r}, {secret!r}, {redirect!r}
code = requests.post(url + "/_sandbox/oauth/code", json={{"client_id": cid}}, timeout=10).json()["code"]
connection = connection_save_credentials(connection=AmoConnection.get_solo(), base_url=url, client_id=cid,
                                        client_secret=secret, redirect_uri=redirect)
code_exchange(connection=connection, code=code, state=None)
account_setup(connection_id=1, webhook_base_url="")
schedules_ensure()
for n in range({products}):
    Product.objects.get_or_create(
        sku=f"CL-{{n:03d}}", defaults={{"name": f"Стул {{n}}", "category": "chairs", "unit_price": 100 + n}}
    )
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stack:
    """A console (gunicorn) and a cluster (``manage.py qcluster``) on one SQLite file, against a sandbox."""

    def __init__(self, sandbox: Any, *, broker: str = "orm", rate_limit: int = 50, products: int = 3,
                 workers: int = 2, poll: float = 0.05) -> None:  # fmt: skip
        self.sandbox = sandbox
        self.dir = Path(tempfile.mkdtemp(prefix="console-cluster-"))
        self.db = self.dir / "console.sqlite3"
        self.env = dict(
            os.environ,
            DJANGO_SETTINGS_MODULE="settings.base",
            DATA_DIR=str(self.dir),
            DATABASE_URL=f"sqlite:///{self.db}",
            Q_BROKER=broker,
            Q_CLUSTER_NAME=f"cl{uuid.uuid4().hex[:8]}",
            Q_WORKERS=str(workers),
            Q_POLL=str(poll),
            Q_SYNC="false",
            AMOCRM_RATE_LIMIT=str(rate_limit),
            STOREFRONT_THROTTLE="1000000/min",
            LOG_LEVEL="WARNING",
            PYTHONUNBUFFERED="1",
        )
        if broker == "redis":
            self.env["REDIS_URL"] = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
        else:
            self.env.pop("REDIS_URL", None)
        self.products = products
        self.procs: list[subprocess.Popen] = []
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.http = requests.Session()

    def manage(self, *args: str) -> str:
        result = subprocess.run([PYTHON, "manage.py", *args], cwd=REPO, env=self.env, capture_output=True,
                                text=True, timeout=120)  # fmt: skip
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout

    def start(self) -> Stack:
        self.manage("migrate", "--noinput")
        sb = self.sandbox
        script = SETUP.format(url=sb.url, cid=sb.client_id, secret=sb.client_secret, redirect=sb.redirect_uri,
                              products=self.products)  # fmt: skip
        self.manage("shell", "-c", script)
        log = open(self.dir / "server.log", "w")  # noqa: SIM115 -- closed with the process
        self.procs.append(
            subprocess.Popen(
                [
                    PYTHON,
                    "-m",
                    "gunicorn",
                    "settings.wsgi:application",
                    "-b",
                    f"127.0.0.1:{self.port}",
                    "-w",
                    "2",
                ],
                cwd=REPO,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        )
        cluster_log = open(self.dir / "cluster.log", "w")  # noqa: SIM115 -- closed with the process
        self.procs.append(
            subprocess.Popen(
                [PYTHON, "manage.py", "qcluster"],
                cwd=REPO,
                env=self.env,
                stdout=cluster_log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if self.http.get(self.url + "/api/v1/", timeout=5).status_code < 500:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        time.sleep(1.0)  # let the cluster's workers come up
        return self

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()

    def log(self, name: str = "cluster") -> str:
        return (self.dir / f"{name}.log").read_text()[-4000:]

    def post_order(self, *, phone: str, quantity: int = 2, product: int = 0) -> dict:
        payload = {
            "customer": {"name": "Пётр Иванов", "phone": phone},
            "installation_date": "2031-05-10",
            "dismantle_date": "2031-05-12",
            "items": [{"sku": f"CL-{product:03d}", "quantity": quantity}],
        }
        response = self.http.post(self.url + "/api/v1/orders/", json=payload, timeout=10)
        assert response.status_code == 201, response.text
        return response.json()

    def query(self, sql: str, *args: Any) -> list[tuple]:
        with sqlite3.connect(self.db, timeout=30) as conn:
            return conn.execute(sql, args).fetchall()

    def lead_for(self, number: str) -> dict | None:
        """The sandbox's lead for an order number (searched as amoCRM would, by the custom field value)."""
        response = self.sandbox.api("GET", "leads", params={"query": number})
        if response.status_code != 200:
            return None
        found = response.json()["_embedded"]["leads"]
        leads = [lead for lead in found if number in str(lead["custom_fields_values"])]
        return leads[0] if leads else None

    def wait_synced(self, count: int, timeout: float = 60) -> list[tuple]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = self.query("select order_id, state, lead_id from amocrm_ordersync")
            if len(rows) >= count and all(state == "synced" for _, state, _ in rows):
                return rows
            time.sleep(0.2)
        raise AssertionError(f"not synced in {timeout}s: {rows}\n{self.log()}")


@pytest.fixture
def stack_factory(sandbox: Any) -> Any:
    stacks: list[Stack] = []
    sandbox.configure(rate_limit=60)

    def build(**kwargs: Any) -> Stack:
        stack = Stack(sandbox, **kwargs)
        stacks.append(stack)
        return stack.start()

    yield build
    for stack in stacks:
        stack.stop()


def entities(sandbox: Any, entity: str) -> list[dict]:
    response = sandbox.api("GET", entity, params={"limit": 250})
    return [] if response.status_code == 204 else response.json()["_embedded"][entity]


def run_orders_through(stack: Stack) -> None:
    """Storefront orders (two from the same new customer) end as exactly one lead each, one contact each."""
    created = [
        stack.post_order(phone="+7 901 000-00-01"),
        stack.post_order(phone="+7 901 000-00-01", quantity=5),
        stack.post_order(phone="+7 901 000-00-02", product=1),
        stack.post_order(phone="+7 901 000-00-03", product=2),
    ]
    rows = stack.wait_synced(len(created))
    lead_ids = sorted(lead for _, _, lead in rows)
    assert sorted(lead["id"] for lead in entities(stack.sandbox, "leads")) == lead_ids
    assert len(entities(stack.sandbox, "contacts")) == 3
    for order in created:
        assert stack.lead_for(order["number"]) is not None
    outcomes = stack.query("select outcome, count(*) from amocrm_synclog group by outcome")
    assert dict(outcomes).get("ok", 0) >= 4 and "failed" not in dict(outcomes)


@pytest.mark.cluster
def test_a_real_cluster_with_the_orm_broker_turns_storefront_orders_into_leads(stack_factory: Any) -> None:
    run_orders_through(stack_factory(broker="orm"))


@pytest.mark.cluster
def test_a_real_cluster_with_the_redis_broker_turns_storefront_orders_into_leads(stack_factory: Any) -> None:
    import redis

    try:
        redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")).ping()
    except redis.ConnectionError:
        pytest.skip("no Redis server at REDIS_URL (redis://127.0.0.1:6379/0)")
    run_orders_through(stack_factory(broker="redis"))


@pytest.mark.cluster
def test_the_cluster_retries_a_lead_create_whose_answer_was_lost_without_duplicating_it(
    stack_factory: Any,
) -> None:
    stack = stack_factory(broker="orm")
    stack.sandbox.fault(kind="drop_after", method="POST", path="/api/v4/leads", times=1)
    order = stack.post_order(phone="+7 901 000-00-09")
    deadline = time.monotonic() + 20
    while not stack.query("select 1 from amocrm_ordersync where state='queued' and attempts=1"):
        assert time.monotonic() < deadline, stack.log()
        time.sleep(0.2)
    # Make the retry due now; the every-minute schedule runs sync_due_retries in the cluster.
    stack.query("update amocrm_ordersync set next_retry_at = datetime('now', '-1 minute')")
    stack.query(
        "update django_q_schedule set next_run = datetime('now', '-1 second') where name like '%retries'"
    )

    stack.wait_synced(1, timeout=90)

    assert len(entities(stack.sandbox, "leads")) == 1
    assert stack.lead_for(order["number"])["id"] == stack.query("select lead_id from amocrm_ordersync")[0][0]
