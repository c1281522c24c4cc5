"""The open alert incidents on the dashboard and the connection page (``dashboard/_incidents.html``)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from console.amocrm.models import AmoConnection, Incident
from console.web.views import dashboard

pytestmark = pytest.mark.django_db


def incident(kind: str, detail: dict[str, Any], *, cleared: bool = False) -> Incident:
    now = timezone.now()
    return Incident.objects.create(
        kind=kind, opened_at=now, checked_at=now, detail=detail, cleared_at=now if cleared else None
    )


@pytest.mark.parametrize("page", ["web:dashboard", "web:connection"])
def test_the_page_lists_the_open_incidents_in_words(admin_client: Client, page: str) -> None:
    AmoConnection.objects.update_or_create(pk=1, defaults={"state": "revoked"})
    incident("connection", {"code": "alert_connection", "params": {"connection_state": "revoked"}})
    incident("failed_syncs", {"code": "alert_failed_syncs", "params": {"count": 4, "threshold": 3}})
    incident(
        "webhook_silence",
        {"code": "alert_webhook_silence", "params": {"changes": 1, "minutes": 30}},
        cleared=True,
    )
    dashboard.SUMMARIES.clear()
    body = admin_client.get(reverse(page)).content.decode()
    panel = body.split('id="incidents"')[1].split("</section>")[0]
    assert 'data-incident="connection"' in panel and 'data-incident="failed_syncs"' in panel
    assert "webhook_silence" not in panel
    assert "the connection is “Access revoked”" in panel
    assert "4 orders failed to sync or wait for a retry (the alert threshold is 3)." in panel


def test_no_panel_while_nothing_is_open(admin_client: Client) -> None:
    incident(
        "connection", {"code": "alert_connection", "params": {"connection_state": "blocked"}}, cleared=True
    )
    assert 'id="incidents"' not in admin_client.get(reverse("web:dashboard")).content.decode()
