"""The connection page: support reads it, admins change it; pause/resume with a reason; the banner on every
page while nothing is sent to amoCRM; every change audited without a secret; the request rate; names, not
stage ids."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from console.amocrm.account.access import ConnectionAccess
from console.amocrm.models import (
    AmoConnection,
    ConfigChange,
    PipelineStatus,
    StageMapping,
    SyncLog,
    WebhookHealth,
)
from tests.fixtures.builders import make_user

pytestmark = pytest.mark.django_db

POST_ONLY = [
    "web:connection_save",
    "web:connection_connect",
    "web:connection_long_lived",
    "web:connection_disconnect",
    "web:connection_resume",
    "web:connection_pause",
    "web:connection_unpause",
    "web:connection_setup",
    "web:connection_webhook_check",
]


def as_role(client: Client, role: str) -> Client:
    client.force_login(make_user(role, role=role))
    return client


def state() -> str:
    return AmoConnection.get_solo().state


def pause(client: Client, reason: str = "Inventory count until Monday") -> Any:
    return client.post(reverse("web:connection_pause"), {"reason": reason})


# --- who may do what --------------------------------------------------------------------------------------


def test_support_reads_the_page_without_any_form(client: Client, amo_setup: AmoConnection) -> None:
    page = as_role(client, "support").get(reverse("web:connection"))
    body = page.content.decode()
    assert page.status_code == 200
    assert "Connected" in body and "Pipelines (local cache)" in body
    assert 'method="post" action="/connection/' not in body
    assert "Only administrators change the connection." in body


@pytest.mark.parametrize("role", ["support", "manager"])
def test_only_admins_change_the_connection(client: Client, amo_setup: AmoConnection, role: str) -> None:
    as_role(client, role)
    for name in POST_ONLY:
        assert client.post(reverse(name), {"reason": "x"}).status_code == 403, name
    assert client.get(reverse("web:oauth_callback"), {"code": "x", "state": "y"}).status_code == 403
    assert state() == "connected"


def test_managers_do_not_read_the_page(client: Client, db: Any) -> None:
    assert as_role(client, "manager").get(reverse("web:connection")).status_code == 403


@pytest.mark.parametrize("name", POST_ONLY)
def test_actions_refuse_get(admin_client: Client, name: str) -> None:
    assert admin_client.get(reverse(name)).status_code == 405


def test_the_webhook_check_waits_for_a_connected_account(admin_client: Client, db: Any) -> None:
    page = admin_client.post(reverse("web:connection_webhook_check"), follow=True)
    assert "Connect the account first." in page.content.decode()
    assert not WebhookHealth.objects.exists()


# --- pause and resume -------------------------------------------------------------------------------------


def test_pausing_needs_a_reason(admin_client: Client, amo_setup: AmoConnection) -> None:
    response = pause(admin_client, reason="  ")
    assert response.status_code == 400
    assert (
        'id="pause-form"' in response.content.decode()
        and "This field is required." in response.content.decode()
    )
    assert state() == "connected"


def test_pause_and_resume_are_recorded_with_who_and_why(
    admin_client: Client, amo_setup: AmoConnection
) -> None:
    assert pause(admin_client).status_code == 302
    connection = AmoConnection.get_solo()
    assert (connection.state, connection.paused_reason, connection.paused_by) == (
        "paused",
        "Inventory count until Monday",
        "admin",
    )
    assert connection.paused_at is not None
    body = admin_client.get(reverse("web:connection")).content.decode()
    assert "Resume the sync" in body and "I resolved it, resume" not in body
    assert 'id="pause-form"' not in body

    assert admin_client.post(reverse("web:connection_unpause")).status_code == 302
    connection = AmoConnection.get_solo()
    assert (connection.state, connection.paused_reason, connection.paused_at) == ("connected", "", None)
    paused, unpaused = ConfigChange.objects.filter(area="connection").order_by("id")[
        1:
    ]  # after "Credentials saved"
    assert (paused.summary, paused.actor) == ("Sync paused", "admin")
    assert paused.before == {"state": "connected", "paused_reason": ""}
    assert paused.after == {"state": "paused", "paused_reason": "Inventory count until Monday"}
    assert unpaused.summary == "Sync resumed after a pause" and unpaused.after["state"] == "connected"


def test_the_old_resume_does_not_end_a_pause_and_unpause_does_not_end_a_block(
    admin_client: Client, amo_setup: AmoConnection
) -> None:
    pause(admin_client)
    response = admin_client.post(reverse("web:connection_resume"), follow=True)
    assert "resume it with “Resume the sync”" in response.content.decode()
    assert state() == "paused"
    admin_client.post(reverse("web:connection_unpause"))
    AmoConnection.objects.update(state="blocked", state_detail="blocked")
    response = admin_client.post(reverse("web:connection_unpause"), follow=True)
    assert "The sync is not paused." in response.content.decode() and state() == "blocked"
    admin_client.post(reverse("web:connection_resume"))
    assert state() == "connected"


def test_an_account_that_is_not_connected_cannot_be_paused(admin_client: Client, db: Any) -> None:
    response = pause(admin_client)
    assert response.status_code == 302 and state() == "not_connected"
    assert not ConfigChange.objects.filter(summary="Sync paused").exists()


# --- the banner -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state_", "words"),
    [
        ("blocked", "AmoCRM blocked requests"),
        ("unpaid", "not paid"),
        ("revoked", "revoked the console"),
        ("rejected", "rejected the integration"),
    ],
)
def test_the_banner_says_what_happened_on_every_page(
    client: Client, db: Any, state_: str, words: str
) -> None:
    AmoConnection.objects.update_or_create(pk=1, defaults={"state": state_})
    body = as_role(client, "manager").get(reverse("web:sync_log")).content.decode()
    banner = body.split('id="connection-banner"')[1].split("</ul>")[0]
    assert words in banner and "Nothing is sent to amoCRM" in banner
    assert "Ask an administrator" in banner and reverse("web:connection") not in banner


def test_the_paused_banner_names_who_and_why_and_links_admins(
    admin_client: Client, amo_setup: AmoConnection
) -> None:
    pause(admin_client)
    body = admin_client.get(reverse("web:webhooks")).content.decode()
    banner = body.split('id="connection-banner"')[1].split("</ul>")[0]
    assert "paused" in banner and "Inventory count until Monday" in banner and "admin" in banner
    assert f'href="{reverse("web:connection")}"' in banner


@pytest.mark.parametrize("state_", ["connected", "not_connected", "error"])
def test_no_banner_while_nothing_is_wrong_or_never_connected(
    admin_client: Client, db: Any, state_: str
) -> None:
    AmoConnection.objects.update_or_create(pk=1, defaults={"state": state_})
    assert 'id="connection-banner"' not in admin_client.get(reverse("web:sync_log")).content.decode()


def test_the_banner_costs_one_query(admin_client: Client, db: Any, django_assert_num_queries: Any) -> None:
    from console.web.context_processors import connection_banner

    AmoConnection.objects.update_or_create(pk=1, defaults={"state": "blocked"})
    with django_assert_num_queries(1):
        assert connection_banner()["state"] == "blocked"


def test_the_login_page_shows_no_banner(client: Client, db: Any) -> None:
    AmoConnection.objects.update_or_create(pk=1, defaults={"state": "blocked"})
    assert 'id="connection-banner"' not in client.get(reverse("login")).content.decode()


# --- the audit, the rate, names ---------------------------------------------------------------------------


def test_every_change_is_listed_without_a_secret(
    admin_client: Client, amo_setup: AmoConnection, settings: Any
) -> None:
    data = {
        "base_url": amo_setup.base_url,
        "client_id": amo_setup.client_id,
        "client_secret": "a-brand-new-secret",
        "redirect_uri": amo_setup.redirect_uri,
    }
    admin_client.post(reverse("web:connection_save"), data)
    pause(admin_client)
    admin_client.post(reverse("web:connection_unpause"))
    admin_client.post(reverse("web:connection_setup"))
    body = admin_client.get(reverse("web:connection")).content.decode()
    changes = body.split('id="connection-changes"')[1]
    summaries = (
        "Credentials saved with a new secret key",
        "Sync paused",
        "Sync resumed after a pause",
        "Account setup queued",
    )
    for summary in summaries:
        assert summary in changes
    connection = AmoConnection.get_solo()
    stored = json.dumps(list(ConfigChange.objects.values("summary", "before", "after")))
    for secret in [*ConnectionAccess(connection).secrets(), "a-brand-new-secret"]:
        assert secret not in body and secret not in stored


def test_the_page_lists_at_most_twenty_changes(admin_client: Client, db: Any) -> None:
    for n in range(25):
        ConfigChange.objects.create(area="connection", actor="a", summary=f"change {n:02d}")
    body = admin_client.get(reverse("web:connection")).content.decode()
    assert "change 24" in body and "change 05" in body and "change 04" not in body


def test_the_rate_limit_and_the_last_minutes_calls_are_shown(
    admin_client: Client, db: Any, settings: Any
) -> None:
    settings.AMOCRM_RATE_LIMIT = 7.0
    SyncLog.objects.create(event="updated", action="update", outcome="ok", http_calls=3)
    SyncLog.objects.create(event="reconcile", action="reconcile", outcome="noop", http_calls=2)
    section = admin_client.get(reverse("web:connection")).content.decode().split('id="rate-limit"')[1]
    assert "7.0 requests per second (420 per minute)" in section
    assert "5 requests" in section.split("</section>")[0]


def test_the_stage_map_is_shown_by_names_not_ids(admin_client: Client, amo_setup: AmoConnection) -> None:
    body = admin_client.get(reverse("web:connection")).content.decode()
    mapping = StageMapping.objects.get(order_status="new")
    stage = PipelineStatus.objects.get(pipeline__amo_id=mapping.pipeline_id, status_id=mapping.status_id)
    assert f"New → {stage.pipeline.name} → {stage.name}" in body
    assert f"{mapping.pipeline_id}/{mapping.status_id}" not in body
    assert f"({mapping.status_id})" not in body
