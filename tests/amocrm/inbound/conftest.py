"""Fixtures of the webhook tests: the connected account, the stage map, linked orders, a delivering client.

Bodies and constants are in ``hookbodies``; the sandbox and the rest of the shared world in tests/fixtures.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from console.amocrm.models import AmoConnection, OrderSync, StageMapping
from console.orders.models import Order, OrderStatusChange
from tests.amocrm.inbound.hookbodies import ACCOUNT, PIPELINE, SECRET, STAGES


@pytest.fixture
def connection(db) -> AmoConnection:  # noqa: ANN001
    connection = AmoConnection.get_solo()
    connection.account_id = int(ACCOUNT["id"])
    connection.subdomain = ACCOUNT["subdomain"]
    connection.webhook_secret = SECRET
    connection.save()
    return connection


@pytest.fixture
def stage_map(db) -> None:  # noqa: ANN001
    for status, stage in STAGES.items():
        StageMapping.objects.create(order_status=status, pipeline_id=PIPELINE, status_id=stage)
    StageMapping.objects.create(order_status="archived", pipeline_id=PIPELINE, status_id=142)
    StageMapping.objects.create(order_status="cancelled", pipeline_id=PIPELINE, status_id=143)


@pytest.fixture
def link(make_order: Callable[..., Order], stage_map: None) -> Callable[..., Order]:
    """``link(lead_id, status="new")``: an order linked to the lead, synced at its stage an hour ago."""

    def build(lead_id: int, status: str = "new", **sync: Any) -> Order:
        order = make_order()
        if status != order.status:
            Order.objects.filter(pk=order.pk).update(status=status)
            order.refresh_from_db()
        OrderStatusChange.objects.filter(order=order).update(
            created_at=timezone.now() - dt.timedelta(hours=2)
        )
        OrderSync.objects.create(
            order=order,
            lead_id=lead_id,
            state=OrderSync.State.SYNCED,
            pushed_pipeline_id=PIPELINE,
            pushed_status_id=STAGES.get(status),
            last_synced_at=timezone.now() - dt.timedelta(hours=1),
            **sync,
        )
        return order

    return build


@pytest.fixture
def post(
    client: Client, connection: AmoConnection, django_capture_on_commit_callbacks: Any
) -> Callable[..., Any]:
    """``post(body, secret=SECRET, process=True)``: deliver like amoCRM; processing runs inline (sync Q)."""

    def send(body: str | bytes, *, secret: str = SECRET, process: bool = True, **headers: str) -> Any:
        url = reverse("amocrm:webhook", args=[secret])
        meta = {"HTTP_USER_AGENT": "amoCRM-Webhooks/3.0", "HTTP_X_AMOCRM_REQUESTID": "9f1c"} | headers
        with django_capture_on_commit_callbacks(execute=process):
            return client.post(url, data=body, content_type="application/x-www-form-urlencoded", **meta)

    return send
