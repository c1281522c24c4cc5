"""Alerts in Chromium, on the live console against the sandbox: amoCRM revokes the console's tokens, the
next task's call opens the circuit, the check runs at once and mails the administrators one e-mail; the
scheduled check that follows sends none, and the dashboard and the connection page show the incident;
connecting again clears it with one more e-mail."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from console.amocrm.models import AmoConnection, Incident
from console.amocrm.tasks import alerts_check_task, reconcile_task
from tests.fixtures.amocrm import connect_to_sandbox

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("console_account"),
]


def test_revoked_tokens_open_one_incident_shown_on_the_dashboard_with_exactly_one_mail(
    sign_in: Any, live_server: Any, sandbox: Any, mailoutbox: list
) -> None:
    page = sign_in("admin", username="olga")
    get_user_model().objects.filter(username="olga").update(email="olga@example.com")
    sign_in("manager", username="mira")
    get_user_model().objects.filter(username="mira").update(email="mira@example.com")
    page.goto(f"{live_server.url}/")
    expect(page.locator("#incidents")).to_have_count(0)

    connection = AmoConnection.objects.get(pk=1)
    for token in (connection.access_token, connection.refresh_token):
        sandbox.control("POST", "/_sandbox/tokens/revoke", {"token": token})
    reconcile_task()  # the next call to amoCRM finds the tokens revoked
    assert AmoConnection.objects.get(pk=1).state == AmoConnection.State.REVOKED
    alerts_check_task()  # the scheduled check: the incident is already open
    alerts_check_task()

    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["olga@example.com"]
    assert mailoutbox[0].subject == "Incident: The amoCRM connection is broken"
    assert connection.access_token not in mailoutbox[0].body
    assert Incident.objects.filter(cleared_at__isnull=True).count() == 1

    page.goto(f"{live_server.url}/")
    shown = page.locator("#incidents li[data-incident=connection]")
    expect(shown).to_contain_text("The amoCRM connection is broken")
    expect(shown).to_contain_text("the connection is “Access revoked”")
    page.goto(f"{live_server.url}/connection/")
    expect(page.locator("#incidents li[data-incident=connection]")).to_have_count(1)

    connect_to_sandbox(sandbox)  # the administrator connects again
    alerts_check_task()
    assert [m.subject for m in mailoutbox][1:] == ["Cleared: The amoCRM connection is broken"]
    page.goto(f"{live_server.url}/")
    expect(page.locator("#connection-health .badge").first).to_have_text("Connected")
    expect(page.locator("#incidents")).to_have_count(0)
