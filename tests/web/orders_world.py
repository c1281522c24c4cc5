"""A small world for the console's orders pages tests: the connection, a cached pipeline with its stage map,
orders with sync rows in every display state, and many orders written in bulk."""

from __future__ import annotations

import datetime

from django.utils import timezone

from console.amocrm.models import AmoConnection, OrderSync, Pipeline, PipelineStatus, StageMapping
from console.customers.models import Customer
from console.orders.models import Order, Product
from console.orders.services import order_create

TODAY = datetime.date.today()


def create_order(
    *, phone: str = "+79991234567", first_name: str = "Ivan", status: str = "new", **extra
) -> Order:
    product = Product.objects.filter(is_active=True).order_by("sku").first()
    data = {
        "customer_data": {"first_name": first_name, "last_name": "Petrov", "phone": phone},
        "installation_date": TODAY + datetime.timedelta(days=3),
        "dismantle_date": TODAY + datetime.timedelta(days=5),
        "delivery_method": "pickup",
        "items": [{"product": product, "quantity": 2}],
        "status": status,
        **extra,
    }
    return order_create(data=data, origin="manager", actor="test")


PIPELINE = 7000
# Order status -> stage in PIPELINE ("in_progress" is left unmapped on purpose; no status maps to 99).
STAGES = {"new": 11, "reserved": 12, "in_rent": 13, "archived": 142, "cancelled": 143}
UNMAPPED_STAGE = 99


def connect(state: str = "connected", base_url: str = "https://rent.amocrm.ru") -> None:
    AmoConnection.objects.update_or_create(pk=1, defaults={"state": state, "base_url": base_url})


def map_stages() -> None:
    """A cached pipeline "Аренда" with named stages, and the stage map of ``STAGES``."""
    pipeline = Pipeline.objects.create(amo_id=PIPELINE, name="Аренда", is_main=True)
    names = {11: "Новая заявка", 12: "Бронь", 13: "В аренде", 142: "Успешно", 143: "Отказ", 99: "Переговоры"}
    for status_id, name in names.items():
        PipelineStatus.objects.create(pipeline=pipeline, status_id=status_id, name=name)
    for status, status_id in STAGES.items():
        StageMapping.objects.create(order_status=status, pipeline_id=PIPELINE, status_id=status_id)


def sync_row(order: Order, **fields) -> OrderSync:  # noqa: ANN003
    row, _created = OrderSync.objects.update_or_create(order=order, defaults=fields)
    return row


def deal_at(order: Order, status_id: int | None = None, **fields) -> OrderSync:  # noqa: ANN003
    """The order synced to a deal that amoCRM last showed at ``status_id`` (by default its own status's)."""
    stage = status_id if status_id is not None else STAGES.get(order.status, UNMAPPED_STAGE)
    defaults = {"state": "synced", "lead_id": 50_000 + order.pk, "amo_pipeline_id": PIPELINE}
    return sync_row(order, **(defaults | {"amo_status_id": stage, "amo_seen_at": timezone.now()} | fields))


RETRY_AT = dict(last_error_title="AmoCRM is temporarily unavailable", last_error_kind="server", attempts=3)

# name -> (order fields, sync row fields or None, display state when connected, when not connected)
SCENARIOS = {
    "never sent": ({}, None, "not_linked", "not_linked"),
    "draft": ({"sync_disabled": True}, None, "skipped", "skipped"),
    "skipped row": ({}, {"state": "skipped"}, "skipped", "skipped"),
    "not synced row": ({}, {"state": "not_synced"}, "not_linked", "not_linked"),
    "unlinked": ({}, {"state": "unlinked", "previous_lead_id": 7}, "not_linked", "not_linked"),
    "running": ({}, {"state": "syncing"}, "running", "running"),
    "queued": ({}, {"state": "queued", "task_pending": True}, "queued", "paused"),
    "retrying": ({}, {"state": "queued", "next_retry_at": "soon", **RETRY_AT}, "failed", "paused"),
    "circuit pause": (
        {},
        {
            "state": "queued",
            "next_retry_at": "soon",
            "last_error_title": "Paused",
            "last_error_kind": "paused",
        },
        "queued",
        "paused",
    ),
    "gave up": (
        {},
        {"state": "failed", "attempts": 8, "last_error_title": "AmoCRM rejected the data"},
        "failed",
        "failed",
    ),
    "synced": ({}, {"deal": None}, "synced", "synced"),
    "moved in amoCRM": ({}, {"deal": 12}, "drifted", "drifted"),
    "unmapped stage": ({}, {"deal": UNMAPPED_STAGE}, "drifted", "drifted"),
    "push pending": ({}, {"deal": 12, "task_pending": True}, "synced", "synced"),
    "stage never seen": ({}, {"state": "synced", "lead_id": 1}, "synced", "synced"),
    "unmapped both ways": ({"status": "in_progress"}, {"deal": UNMAPPED_STAGE}, "synced", "synced"),
    "unmapped status, mapped stage": ({"status": "in_progress"}, {"deal": 12}, "drifted", "drifted"),
    "cancelled at lost": ({"status": "cancelled"}, {"deal": 143}, "synced", "synced"),
    "skipped but linked": ({"sync_disabled": True}, {"deal": 12}, "skipped", "skipped"),
}


def build_scenarios(make_order) -> dict[str, Order]:  # noqa: ANN001
    orders = {}
    for name, (order_fields, sync_fields, _on, _off) in SCENARIOS.items():
        order = make_order(**order_fields)
        if sync_fields is not None:
            fields = dict(sync_fields)
            if fields.get("next_retry_at") == "soon":
                fields["next_retry_at"] = timezone.now() + datetime.timedelta(minutes=10)
            if "deal" in fields:
                deal_at(order, fields.pop("deal"), **fields)
            else:
                sync_row(order, **fields)
        orders[name] = order
    return orders


def many_orders(count: int, start: int = 0) -> None:
    """``count`` orders with their customers and sync rows in every state, written in bulk."""
    customers = Customer.objects.bulk_create(
        Customer(
            first_name=f"Клиент{n}",
            last_name="Тестов",
            phone=f"+7999{n:07d}",
            phone_normalized=f"+7999{n:07d}",
        )
        for n in range(start, start + count)
    )
    day = timezone.localdate()
    orders = Order.objects.bulk_create(
        Order(customer=c, installation_date=day, dismantle_date=day, number=f"R-{900000 + i + start}")
        for i, c in enumerate(customers)
    )
    states = ["synced", "queued", "syncing", "failed", "skipped", "unlinked", "not_synced"]
    OrderSync.objects.bulk_create(
        OrderSync(
            order=o,
            state=states[i % len(states)],
            lead_id=10_000_000 + o.pk,
            amo_pipeline_id=PIPELINE,
            amo_status_id=12 if i % 5 == 0 else 11,
            last_error_title="Boom" if i % 3 == 0 else "",
        )
        for i, o in enumerate(orders[: count - count // 10])
    )


def form_data(*, lines: list = (), initial: int = 0, days: tuple[int, int] = (1, 3), **fields) -> dict:  # noqa: ANN003
    """The order form's POST: ``lines`` as ``(product, quantity)`` (or ``(product, quantity, "DELETE")``),
    ``initial`` of them already on the order, dates ``days`` from today, then ``fields``."""
    data = {
        "status": "new",
        "installation_date": str(TODAY + datetime.timedelta(days=days[0])),
        "dismantle_date": str(TODAY + datetime.timedelta(days=days[1])),
        "delivery_method": "pickup",
        "lines-TOTAL_FORMS": str(max(len(lines), 1)),
        "lines-INITIAL_FORMS": str(initial),
    }
    for index, (product, quantity, *delete) in enumerate(lines):
        data |= {f"lines-{index}-product": str(product.pk), f"lines-{index}-quantity": str(quantity)}
        if delete:
            data[f"lines-{index}-DELETE"] = "on"
    return data | fields
