"""An installation upgraded from the schema the reshaping started from keeps every row.

The database is taken back to the migrations of that release, filled through the historical models, and
migrated forward; the rows are then read through today's models (so a model moved to another module still
finds its table).
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from console.amocrm import leases
from console.amocrm.models import (
    AmoConnection,
    Lease,
    OrderSync,
    StageMapping,
    SyncLog,
    UnconfirmedCreate,
    WebhookInbox,
)
from console.orders.models import Order

# The leaf migrations of the release before console/amocrm was split by the direction data flows.
RELEASE = [
    ("amocrm", "0003_webhook_inbox_lean_indexes"),
    ("orders", "0003_status_change_labels"),
    ("customers", "0001_initial"),
]


def _migrate(targets: list[tuple[str, str]]) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return MigrationExecutor(connection)


def _latest() -> list[tuple[str, str]]:
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def _fill(apps) -> dict[str, int]:  # noqa: ANN001
    now = timezone.now()
    customer = apps.get_model("customers", "Customer").objects.create(
        first_name="Иван", last_name="Петров", phone="+79991234567", phone_normalized="+79991234567"
    )
    order = apps.get_model("orders", "Order").objects.create(
        number="R-000001",
        customer=customer,
        installation_date=dt.date(2026, 12, 1),
        dismantle_date=dt.date(2026, 12, 3),
        delivery_method="pickup",
    )
    apps.get_model("amocrm", "AmoConnection").objects.create(
        pk=1, base_url="https://acme.amocrm.ru", client_id="cid", state="connected", account_id=7
    )
    apps.get_model("amocrm", "StageMapping").objects.create(order_status="new", pipeline_id=1, status_id=11)
    apps.get_model("amocrm", "OrderSync").objects.create(
        order=order, lead_id=555, state="synced", change_seq=3
    )
    apps.get_model("amocrm", "SyncLog").objects.create(
        order=order, action="create", outcome="ok", started_at=now
    )
    apps.get_model("amocrm", "WebhookInbox").objects.create(
        body=b"leads[status][0][id]=555", events="leads[status]", outcome="applied", order=order
    )
    return {"order": order.pk}


@pytest.mark.django_db(transaction=True)
def test_the_rows_of_the_previous_release_survive_the_upgrade() -> None:
    latest = _latest()
    try:
        old = _migrate(RELEASE)
        ids = _fill(old.loader.project_state(RELEASE).apps)
        _migrate(latest)

        order = Order.objects.get(pk=ids["order"])
        assert order.number == "R-000001" and order.customer.phone == "+79991234567"
        connection_row = AmoConnection.objects.get(pk=1)
        assert (connection_row.base_url, connection_row.state, connection_row.account_id) == (
            "https://acme.amocrm.ru",
            "connected",
            7,
        )
        assert connection_row.webhook_secret  # the encrypted default made by the old schema still decrypts
        assert StageMapping.objects.get(order_status="new").status_id == 11
        sync = OrderSync.objects.get(order=order)
        assert (sync.lead_id, sync.state, sync.change_seq) == (555, "synced", 3)
        assert SyncLog.objects.get(order=order).action == "create"
        assert WebhookInbox.objects.get(order=order).body_text == "leads[status][0][id]=555"
    finally:
        _migrate(latest)


@pytest.mark.django_db(transaction=True)
def test_a_claim_and_the_contact_and_company_leases_before_the_lease_table_become_leases() -> None:
    """A syncing order's heartbeat and the links' ``locked_until`` keep their meaning as lease rows."""
    latest = _latest()
    before = [("amocrm", "0007_unconfirmed_creates_and_leases")]
    try:
        apps = _migrate(before).loader.project_state(before).apps
        ids = _fill(apps)
        beat = timezone.now() - dt.timedelta(seconds=10)
        apps.get_model("amocrm", "OrderSync").objects.filter(order_id=ids["order"]).update(
            state="syncing", claimed_at=beat
        )
        order = apps.get_model("orders", "Order").objects.get(pk=ids["order"])
        locked = timezone.now() + dt.timedelta(seconds=30)
        apps.get_model("amocrm", "CustomerAmoLink").objects.create(
            customer_id=order.customer_id, locked_until=locked
        )
        _migrate(latest)

        assert leases.lease_live(kind=leases.ORDER, key=ids["order"])
        order_lease = Lease.objects.get(kind=leases.ORDER, key=ids["order"])
        assert order_lease.until == beat + dt.timedelta(seconds=leases.lease_seconds())
        assert Lease.objects.get(kind=leases.CONTACT, key=order.customer_id).until == locked
    finally:
        _migrate(latest)


@pytest.mark.django_db(transaction=True)
def test_the_creates_marked_unconfirmed_on_their_rows_become_unconfirmed_create_rows() -> None:
    """A deal create sent without an answer, a pending note and a contact create keep their meaning."""
    latest = _latest()
    before = [("amocrm", "0010_one_lease_table")]
    try:
        apps = _migrate(before).loader.project_state(before).apps
        ids = _fill(apps)
        sent = timezone.now() - dt.timedelta(seconds=5)
        note = {"kind": "create", "hash": "abc", "summary": {"total": "1"}}
        apps.get_model("amocrm", "OrderSync").objects.filter(order_id=ids["order"]).update(
            create_pending=True, create_sent_at=sent, pending_note=note
        )
        order = apps.get_model("orders", "Order").objects.get(pk=ids["order"])
        apps.get_model("amocrm", "CustomerAmoLink").objects.create(
            customer_id=order.customer_id, contact_sent_at=sent
        )
        _migrate(latest)

        rows = {(row.kind, row.key): row for row in UnconfirmedCreate.objects.all()}
        assert set(rows) == {("lead", order.pk), ("note", order.pk), ("contact", order.customer_id)}
        assert rows[("lead", order.pk)].sent_at == rows[("contact", order.customer_id)].sent_at == sent
        assert rows[("note", order.pk)].data == note
        assert rows[("note", order.pk)].sent_at <= timezone.now()  # looked for at once, as before
    finally:
        _migrate(latest)
