"""The webhook health check against the sandbox: ok, missing, missing events, disabled (re-posted, or deleted
and created when a re-post does not re-enable it), amoCRM errors, and what the pages say."""

from __future__ import annotations

import pytest
from django.utils import translation

from console.amocrm.account.setup import WEBHOOK_EVENTS, account_setup, webhook_destination
from console.amocrm.account.webhook_health import webhook_health_check
from console.amocrm.models import AmoConnection, WebhookHealth
from console.amocrm.reasons import codes
from console.web.webhook_health import webhook_health_shown

BASE = "https://console.example"


@pytest.fixture
def ours(amo_connection):
    account_setup(connection_id=amo_connection.pk, webhook_base_url=BASE)
    amo_connection.refresh_from_db()
    return webhook_destination(connection=amo_connection, base_url=BASE)


def _hook(sandbox, destination):
    resp = sandbox.api("GET", "webhooks", params={"filter[destination]": destination})
    return None if resp.status_code == 204 else resp.json()["_embedded"]["webhooks"][0]


def _check(connection):
    return webhook_health_check(connection_id=connection.pk, base_url=BASE)


def _writes(sandbox):
    return {
        k: n for k, n in sandbox.requests()["counts"].items() if "/api/v4/webhooks" in k and "GET" not in k
    }


def test_a_registered_enabled_webhook_is_ok_and_only_read(amo_connection, ours, sandbox):
    sandbox.control("POST", "requests/clear")
    health = _check(amo_connection)
    assert health.state == WebhookHealth.State.OK and codes(health.reasons) == ["webhook_ok"]
    assert health.checked_at and health.repaired_at is None and _writes(sandbox) == {}


def test_a_missing_webhook_is_registered_again(amo_connection, ours, sandbox):
    sandbox.api("DELETE", "webhooks", json={"destination": ours})
    health = _check(amo_connection)
    assert health.state == WebhookHealth.State.REPAIRED and codes(health.reasons) == ["webhook_missing"]
    hook = _hook(sandbox, ours)
    assert set(WEBHOOK_EVENTS) <= set(hook["settings"]) and hook["disabled"] is False
    assert health.repaired_at is not None


def test_missing_events_are_subscribed_again_keeping_other_events(amo_connection, ours, sandbox):
    sandbox.api("POST", "webhooks", json={"destination": ours, "settings": ["add_lead", "add_task"]})
    health = _check(amo_connection)
    assert codes(health.reasons) == ["webhook_events_missing"]
    assert "status_lead" in health.reasons[0]["params"]["events"]
    assert set(_hook(sandbox, ours)["settings"]) == {*WEBHOOK_EVENTS, "add_task"}


def test_a_disabled_webhook_that_a_repost_does_not_enable_is_deleted_and_created(
    amo_connection, ours, sandbox
):
    sandbox.control("POST", "webhooks/disable", {"destination": ours})
    old_id = _hook(sandbox, ours)["id"]
    health = _check(amo_connection)
    assert health.state == WebhookHealth.State.REPAIRED
    assert codes(health.reasons) == ["webhook_disabled", "webhook_recreated"]
    hook = _hook(sandbox, ours)
    assert hook["disabled"] is False and hook["id"] != old_id
    assert _writes(sandbox)["DELETE /api/v4/webhooks"] == 1


def test_a_disabled_webhook_that_a_repost_enables_is_only_reposted(amo_connection, ours, sandbox):
    sandbox.configure(webhook_repost_enables=True)
    sandbox.control("POST", "webhooks/disable", {"destination": ours})
    old_id = _hook(sandbox, ours)["id"]
    sandbox.control("POST", "requests/clear")
    health = _check(amo_connection)
    assert codes(health.reasons) == ["webhook_disabled"] and health.state == WebhookHealth.State.REPAIRED
    assert (
        _hook(sandbox, ours) | {"disabled": False} == _hook(sandbox, ours)
        and _hook(sandbox, ours)["id"] == old_id
    )
    assert _writes(sandbox) == {"POST /api/v4/webhooks": 1}


def test_an_amocrm_error_is_stored_as_cannot_repair_and_clears_on_the_next_good_check(
    amo_connection, ours, sandbox
):
    sandbox.control("POST", "faults", {"kind": "500", "path": "/api/v4/webhooks", "times": 10})
    health = _check(amo_connection)
    assert health.state == WebhookHealth.State.BROKEN and codes(health.reasons) == ["webhook_check_error"]
    assert health.reasons[0]["params"]["http_status"] == 500 and health.broken_since is not None
    sandbox.control("DELETE", "faults")
    health = _check(amo_connection)
    assert health.state == WebhookHealth.State.OK and health.broken_since is None


def test_without_a_public_url_the_check_cannot_repair(amo_connection, ours):
    health = webhook_health_check(connection_id=amo_connection.pk, base_url="")
    assert health.state == WebhookHealth.State.BROKEN and codes(health.reasons) == ["webhook_no_base_url"]


def test_nothing_is_checked_while_not_connected(amo_connection, ours, sandbox):
    AmoConnection.objects.filter(pk=amo_connection.pk).update(state=AmoConnection.State.PAUSED)
    sandbox.control("POST", "requests/clear")
    health = _check(amo_connection)
    assert health.state == WebhookHealth.State.UNCHECKED and sandbox.requests()["total"] == 0


def test_the_shown_health_says_what_was_done_in_russian(amo_connection, ours, sandbox):
    sandbox.control("POST", "webhooks/disable", {"destination": ours})
    _check(amo_connection)
    with translation.override("ru"):
        shown = webhook_health_shown(WebhookHealth.objects.get(connection=amo_connection))
        assert shown["label"] == "Восстановлен" and "отключил" in shown["reasons"].text
    assert shown["reasons"].known and ours not in str(shown)
