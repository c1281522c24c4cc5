"""The deal's tasks: a storefront order's call task on its responsible, installation and pickup tasks that
follow the dates, closed on cancel; a task webhook and reconciliation mark them done (over the sandbox)."""

from __future__ import annotations

import datetime
import zoneinfo
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings

from console.amocrm.account.users import users_refresh
from console.amocrm.inbound.events import item_process
from console.amocrm.inbound.items import webhook_items
from console.amocrm.inbound.reconcile import leads_reconcile
from console.amocrm.models import OrderTask
from console.amocrm.outbound.order_tasks import desired_tasks, working_due
from console.orders.models import Order
from console.orders.services import order_set_responsible
from tests.amocrm.outbound.test_notes import settle
from tests.fixtures.builders import make_user
from tests.fixtures.sync import calls, clear, committed, patch_order, post_order, sent_at, state

MSK = zoneinfo.ZoneInfo("Europe/Moscow")


def sandbox_tasks(amo: Any, lead_id: int) -> dict[str, dict[str, Any]]:
    resp = amo.api("GET", "tasks", params={"filter[entity_type]": "leads", "filter[entity_id]": lead_id})
    assert resp.status_code in (200, 204), resp.text
    items = resp.json()["_embedded"]["tasks"] if resp.status_code == 200 else []
    kinds = {row.amo_id: row.kind for row in OrderTask.objects.all()}
    return {kinds[t["id"]]: t for t in items}


def test_working_minutes_skip_the_evening_and_the_weekend() -> None:
    friday_evening = datetime.datetime(2026, 12, 4, 17, 50, tzinfo=MSK)
    due = working_due(friday_evening, 30, (9, 18), MSK)
    assert due == datetime.datetime(2026, 12, 7, 9, 20, tzinfo=MSK)
    assert working_due(datetime.datetime(2026, 12, 7, 7, 0, tzinfo=MSK), 30, (9, 18), MSK).hour == 9


@pytest.mark.django_db
def test_desired_tasks_follow_source_delivery_and_cancel(make_order: Callable[..., Order]) -> None:
    order = make_order(delivery_method="pickup")
    args = {"responsible_amo_id": 7, "call_minutes": 30, "hours": (9, 18), "tz": MSK}
    assert desired_tasks(order, **args) == []
    order.source, order.delivery_method = Order.Source.STOREFRONT, Order.DeliveryMethod.DELIVERY
    kinds = [t.kind for t in desired_tasks(order, **args)]
    assert kinds == ["call", "install", "pickup"]
    install = desired_tasks(order, **args)[1]
    assert install.due == datetime.datetime.combine(order.installation_date, datetime.time(9), MSK)
    order.status = Order.Status.CANCELLED
    assert desired_tasks(order, **args) == []


@pytest.mark.django_db
def test_a_storefront_order_gets_a_call_task_on_its_responsible_in_one_tasks_call(
    amo: Any, api_client: Any, order_payload: Callable[..., dict], settings: Any
) -> None:
    make_user("anna", email="anna@example.com")
    users_refresh()
    settings.STOREFRONT_RESPONSIBLE = "anna"
    clear(amo)
    order = post_order(api_client, order_payload())

    tasks = sandbox_tasks(amo, state(order).lead_id)
    assert set(tasks) == {"call", "install", "pickup"}
    assert tasks["call"]["responsible_user_id"] == 100002
    assert tasks["call"]["is_completed"] is False
    due = working_due(order.created_at, settings.AMOCRM_CALL_TASK_MINUTES, (9, 18), MSK)
    assert tasks["call"]["complete_till"] == int(due.timestamp())
    assert calls(amo).get("POST /api/v4/tasks") == 1
    assert "PATCH /api/v4/tasks" not in calls(amo)


@pytest.mark.django_db
def test_a_date_change_moves_the_install_task_and_cancel_closes_the_open_ones(
    amo: Any, api_client: Any, staff_client: Any, order_payload: Callable[..., dict]
) -> None:
    order = post_order(api_client, order_payload())
    lead_id = state(order).lead_id
    start = order.installation_date + datetime.timedelta(days=1)
    clear(amo)

    patch_order(staff_client, order, {"installation_date": start.isoformat()})

    tasks = sandbox_tasks(amo, lead_id)
    expected = datetime.datetime.combine(start, datetime.time(settings.AMOCRM_WORKING_HOURS[0]), MSK)
    assert tasks["install"]["complete_till"] == int(expected.timestamp())
    assert calls(amo).get("PATCH /api/v4/tasks") == 1 and "POST /api/v4/tasks" not in calls(amo)

    patch_order(staff_client, order, {"status": "cancelled"})

    tasks = sandbox_tasks(amo, lead_id)
    assert all(t["is_completed"] for t in tasks.values())
    assert tasks["pickup"]["result"] == {"text": "Заказ отменён"}
    assert set(OrderTask.objects.values_list("completed", flat=True)) == {True}


@pytest.mark.django_db
def test_a_task_webhook_marks_the_task_done_and_the_order_page_says_so(
    amo: Any, api_client: Any, staff_client: Any, order_payload: Callable[..., dict]
) -> None:

    order = post_order(api_client, order_payload())
    call = OrderTask.objects.get(order=order, kind="call")
    body = {"task": {"update": {"0": {"id": str(call.amo_id), "status": "1", "action_close": "1"}}}}
    (item,) = webhook_items(body)
    result = item_process(item)
    assert (result.outcome, result.order_id) == ("applied", order.pk)
    assert OrderTask.objects.get(pk=call.pk).completed is True
    assert item_process(item).outcome == "ignored"
    page = staff_client.get(f"/orders/{order.pk}/").content.decode()
    row = next(part for part in page.split("<tr") if f'data-task-id="{call.amo_id}"' in part)
    assert "Call the customer" in row and "Done" in row


@pytest.mark.django_db
def test_reconciliation_reads_a_task_closed_in_amocrm(
    amo: Any, api_client: Any, order_payload: Callable[..., dict]
) -> None:
    order = post_order(api_client, order_payload())
    call = OrderTask.objects.get(order=order, kind="call")
    amo.control("POST", f"tasks/{call.amo_id}/complete", {"result": "Дозвонились"})
    with committed():
        leads_reconcile(trigger="test")
    assert OrderTask.objects.get(pk=call.pk).completed is True
    assert OrderTask.objects.get(order=order, kind="install").completed is False


@pytest.mark.django_db
def test_a_lost_tasks_answer_is_looked_up_and_never_doubles_a_task(
    amo: Any, make_order: Callable[..., Order]
) -> None:

    # amoCRM stores the tasks but the answer is lost, once.
    amo.fault(kind="drop_after", method="POST", path="/api/v4/tasks", times=1)
    with committed():
        order = make_order(delivery_method="delivery", delivery_address="Тула, Ленина 2")
    assert sent_at("task", order.pk) is not None
    settle()

    tasks = sandbox_tasks(amo, state(order).lead_id)
    assert set(tasks) == {"install", "pickup"}
    assert (
        len(
            amo.api(
                "GET",
                "tasks",
                params={"filter[entity_type]": "leads", "filter[entity_id]": state(order).lead_id},
            ).json()["_embedded"]["tasks"]
        )
        == 2
    )
    assert sent_at("task", order.pk) is None
    assert state(order).state == "synced"


@pytest.mark.django_db
def test_a_new_responsible_takes_over_the_open_tasks(amo: Any, make_order: Callable[..., Order]) -> None:
    anna = make_user("anna", email="anna@example.com")
    boris = make_user("boris", email="boris@example.com")
    users_refresh()
    with committed():
        order = make_order(delivery_method="delivery", delivery_address="Тула, Ленина 2")
        order_set_responsible(order=order, responsible=anna, origin="manager", actor="m")
    tasks = sandbox_tasks(amo, state(order).lead_id)
    assert {t["responsible_user_id"] for t in tasks.values()} == {100002}
    clear(amo)

    with committed():
        order_set_responsible(order=order, responsible=boris, origin="manager", actor="m")

    tasks = sandbox_tasks(amo, state(order).lead_id)
    assert {t["responsible_user_id"] for t in tasks.values()} == {100003}
    assert calls(amo).get("PATCH /api/v4/tasks") == 1
