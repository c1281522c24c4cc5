"""Background behaviour with real ``qcluster`` processes: the console runs under gunicorn, the clusters sync,
and the test only talks HTTP to both servers (and reads the database). ``Stack`` (``tests/fixtures/stack.py``)
is the embedded stack (SQLite, one cluster) in the suite's embedded pass and the scale-out one (PostgreSQL,
Redis broker, two clusters) in its scale-out pass.
"""

from __future__ import annotations

import os
import time
from typing import Any

import pytest

from tests.fixtures.stack import Stack
from tests.fixtures.waiting import wait_until


@pytest.fixture
def stack_factory(sandbox: Any) -> Any:
    """``stack_factory(**options)``: a started ``Stack`` on the test's sandbox, stopped after the test."""
    stacks: list[Stack] = []
    sandbox.configure(rate_limit=60)

    def build(**kwargs: Any) -> Stack:
        stack = Stack(sandbox, **kwargs)
        stacks.append(stack)
        return stack.start()

    yield build
    for stack in stacks:
        stack.stop()


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
    assert sorted(lead["id"] for lead in stack.entities("leads")) == lead_ids
    assert len(stack.entities("contacts")) == 3
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
    # Make the retry due now, the lost create settled; the every-minute schedule runs sync_due_retries.
    stack.query("update amocrm_ordersync set next_retry_at = ?", stack.moment(-60))
    stack.query("update amocrm_unconfirmedcreate set sent_at = ?", stack.moment(-3600))
    stack.query("update django_q_schedule set next_run = ? where name like '%retries'", stack.moment(-1))

    stack.wait_synced(1, timeout=90)

    assert len(stack.entities("leads")) == 1
    assert stack.lead_for(order["number"])["id"] == stack.query("select lead_id from amocrm_ordersync")[0][0]


@pytest.mark.cluster
def test_a_cluster_killed_while_it_syncs_leaves_every_order_with_exactly_one_deal(stack_factory: Any) -> None:
    """SIGKILL a cluster in the middle of its pushes, start it again: the dead claims (no heartbeat for
    ``AMOCRM_LEASE_SECONDS``, 60 s) and the tasks that died with it are taken over by the every-minute
    schedule, and every order ends synced, with one deal each (a create the dead worker may have sent is
    adopted, not repeated)."""
    stack = stack_factory()
    sandbox = stack.sandbox
    # Every API call takes a second: the pushes are still under way when the cluster dies.
    sandbox.fault(kind="slow", seconds=1, path="/api/v4/", probability=1.0)
    orders = [stack.post_order(phone=f"+7 902 000-01-{n:02d}", product=n % 3) for n in range(12)]

    def in_flight() -> bool:
        states = [state for _, state, _ in stack.sync_rows()]
        return "syncing" in states and "synced" in states

    wait_until(in_flight, 90, what="some orders synced and some being pushed")
    stack.kill_cluster(0)
    syncing = stack.query("select count(*) from amocrm_ordersync where state = 'syncing'")[0][0]
    sandbox.clear_faults()
    restarted = time.monotonic()
    stack.restart_cluster(0)

    stack.wait_synced(len(orders), timeout=150)
    recovered = time.monotonic() - restarted

    leads = stack.entities("leads")
    assert len(leads) == len(orders), [lead["name"] for lead in leads]
    held = dict(stack.query("select order_id, lead_id from amocrm_ordersync"))
    assert sorted(held.values()) == sorted(lead["id"] for lead in leads)
    for order in orders:
        assert stack.lead_for(order["number"])["id"] == held[order["id"]]
    assert len(stack.entities("contacts")) == len(orders)
    print(
        f"killed with {syncing} claims in flight; all {len(orders)} synced {recovered:.0f} s after restarting"
    )
