"""OAuth against the sandbox over real HTTP: code exchange, rotation, revocation, 401, long-lived tokens."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.db import connection as db_connection
from django.utils import timezone

from console.amocrm.account import oauth
from console.amocrm.account.access import account_client
from console.amocrm.api.errors import CircuitOpen
from console.amocrm.models import AmoConnection
from tests.fixtures.amocrm import connect_to_sandbox, sandbox_code


def _grants(sandbox, kind: str = "refresh_token") -> int:
    """How many token-endpoint calls the sandbox saw (all grants; tests start from a clean log)."""
    return sandbox.requests()["counts"].get("POST /oauth2/access_token", 0)


def _expire(connection: AmoConnection) -> None:
    AmoConnection.objects.filter(pk=connection.pk).update(expires_at=timezone.now() - timedelta(seconds=1))


def test_code_exchange_stores_encrypted_tokens_and_connects(amo_connection):
    amo_connection.refresh_from_db()
    assert amo_connection.state == AmoConnection.State.CONNECTED
    assert amo_connection.access_token.count(".") == 2
    assert amo_connection.refresh_token.startswith("def502")
    assert amo_connection.expires_at > timezone.now() + timedelta(hours=23)
    with db_connection.cursor() as cursor:
        cursor.execute("SELECT access_token, refresh_token, client_secret FROM amocrm_amoconnection")
        raw = cursor.fetchone()
    assert all(value.startswith("fernet:") for value in raw)
    assert amo_connection.access_token not in "".join(raw)


def test_code_exchange_rejects_a_state_that_does_not_match(db, sandbox):
    connection = connect_to_sandbox(sandbox)
    oauth.authorize_url_build(connection=connection)
    with pytest.raises(oauth.OAuthStateMismatch):
        oauth.code_exchange(connection=connection, code=sandbox_code(sandbox), state="forged")


def test_authorize_url_points_to_the_sandbox_page_with_a_stored_state(amo_connection):
    url = oauth.authorize_url_build(connection=amo_connection, mode="popup")
    amo_connection.refresh_from_db()
    assert url.startswith(f"{amo_connection.base_url}/oauth?")
    assert f"state={amo_connection.oauth_state}" in url
    assert "mode=popup" in url


def test_authorize_url_uses_the_amocrm_page_for_a_real_account(db, settings):
    connection = AmoConnection.get_solo()
    connection.base_url, connection.client_id = "https://shop.amocrm.ru", "abc"
    connection.save()
    assert oauth.authorize_url_build(connection=connection).startswith(settings.AMOCRM_AUTHORIZE_URL + "?")


def test_a_reused_code_is_refused_without_changing_the_connection(amo_connection, sandbox):
    code = sandbox_code(sandbox)
    oauth.code_exchange(connection=amo_connection, code=code, state=None)
    with pytest.raises(Exception) as excinfo:
        oauth.code_exchange(connection=amo_connection, code=code, state=None)
    assert "revoked" in excinfo.value.title.lower() or excinfo.value.status == 400
    assert code not in excinfo.value.excerpt


def test_refresh_rotates_the_pair_and_the_new_token_works(amo_client, amo_connection, sandbox):
    old_access, old_refresh = amo_connection.access_token, amo_connection.refresh_token
    fresh = oauth.token_refresh(connection_id=amo_connection.pk, force=True)
    assert fresh.access_token != old_access
    assert fresh.refresh_token != old_refresh
    assert amo_client.get_account()["id"]


def test_an_expired_token_is_refreshed_before_the_call(amo_client, amo_connection, sandbox):
    _expire(amo_connection)
    sandbox.control("POST", "/_sandbox/requests/clear")
    assert amo_client.get_account()["id"]
    assert _grants(sandbox) == 1
    assert amo_client.calls == 1


def test_a_401_causes_one_refresh_and_the_call_succeeds(amo_client, amo_connection, sandbox):
    sandbox.fault(kind="401", path="/api/v4/account", times=1)
    sandbox.control("POST", "/_sandbox/requests/clear")
    assert amo_client.get_account()["id"]
    assert _grants(sandbox) == 1
    assert amo_client.calls == 2


def test_reusing_a_spent_refresh_token_marks_the_connection_revoked(amo_client, amo_connection, sandbox):
    spent = amo_connection.refresh_token
    oauth.token_refresh(connection_id=amo_connection.pk, force=True)
    amo_client.get_account()  # using the new pair retires the old refresh token
    AmoConnection.objects.filter(pk=amo_connection.pk).update(refresh_token=spent)
    with pytest.raises(CircuitOpen) as excinfo:
        oauth.token_refresh(connection_id=amo_connection.pk, force=True)
    assert excinfo.value.state == "revoked"
    amo_connection.refresh_from_db()
    assert amo_connection.state == AmoConnection.State.REVOKED
    sandbox.control("POST", "/_sandbox/requests/clear")
    with pytest.raises(CircuitOpen):
        amo_client.get_account()
    assert sandbox.requests()["total"] == 0


def test_a_revoked_refresh_during_a_call_opens_the_circuit(amo_client, amo_connection, sandbox):
    sandbox.fault(kind="revoked_refresh", times=1)
    _expire(amo_connection)
    with pytest.raises(CircuitOpen):
        amo_client.get_account()
    amo_connection.refresh_from_db()
    assert amo_connection.state == "revoked"
    assert "connect" in amo_connection.state_detail.lower()


def test_the_refresh_happens_once_when_another_worker_already_rotated(amo_connection, sandbox):
    holder = AmoConnection.objects.get(pk=amo_connection.pk)
    stale_token = holder.access_token
    oauth.token_refresh(connection_id=amo_connection.pk, force=True)
    sandbox.control("POST", "/_sandbox/requests/clear")
    fresh = oauth.token_refresh(connection_id=amo_connection.pk, expected_access_token=stale_token)
    assert fresh.access_token != stale_token
    assert _grants(sandbox) == 0


def test_scheduled_refresh_runs_only_when_due(amo_connection, sandbox):
    assert oauth.token_refresh_if_due(connection_id=amo_connection.pk) is False
    AmoConnection.objects.filter(pk=amo_connection.pk).update(
        token_refreshed_at=timezone.now() - timedelta(days=31)
    )
    assert oauth.token_refresh_if_due(connection_id=amo_connection.pk) is True
    AmoConnection.objects.filter(pk=amo_connection.pk).update(expires_at=timezone.now() + timedelta(hours=1))
    assert oauth.token_refresh_if_due(connection_id=amo_connection.pk) is True


def test_connecting_creates_the_daily_refresh_schedule(amo_connection):
    from django_q.models import Schedule

    schedule = Schedule.objects.get(func="console.amocrm.tasks.refresh_token_task")
    assert schedule.schedule_type == Schedule.DAILY


def test_long_lived_token_mode_reads_expiry_from_the_jwt_and_never_refreshes(db, sandbox):
    connection = connect_to_sandbox(sandbox)
    issued = sandbox.control(
        "POST", "/_sandbox/long_lived_token", json={"client_id": sandbox.client_id, "lifetime": 3600}
    )
    connection = oauth.long_lived_connect(
        connection=connection, token=issued["access_token"], base_url=sandbox.url
    )
    assert connection.long_lived and not connection.refresh_token
    assert abs(connection.expires_at.timestamp() - issued["expires_at"]) < 2
    sandbox.control("POST", "/_sandbox/requests/clear")
    client = account_client(connection)
    assert client.get_account()["id"]
    assert _grants(sandbox) == 0


def test_a_401_on_a_long_lived_token_marks_it_revoked(db, sandbox):
    connection = connect_to_sandbox(sandbox)
    issued = sandbox.control(
        "POST", "/_sandbox/long_lived_token", json={"client_id": sandbox.client_id, "lifetime": 3600}
    )
    connection = oauth.long_lived_connect(connection=connection, token=issued["access_token"])
    sandbox.fault(kind="401", times=1)
    with pytest.raises(CircuitOpen):
        account_client(connection).get_account()
    connection.refresh_from_db()
    assert connection.state == "revoked"


def test_disconnect_stops_calls_at_once_then_unsubscribes_our_webhook_and_forgets_the_tokens(
    amo_client, amo_connection, sandbox, django_capture_on_commit_callbacks
):
    from console.amocrm.account.setup import account_setup

    account_setup(connection_id=amo_connection.pk, webhook_base_url="https://console.example")
    other = "https://other.example/hook"
    amo_client.subscribe_webhook(other, ["add_lead"])
    with django_capture_on_commit_callbacks() as callbacks:
        oauth.disconnect(connection_id=amo_connection.pk)
    amo_connection.refresh_from_db()
    assert amo_connection.state == "not_connected"
    sandbox.control("POST", "/_sandbox/requests/clear")
    with pytest.raises(CircuitOpen):
        amo_client.get_account()
    assert sandbox.requests()["total"] == 0

    for callback in callbacks:  # the cluster's task
        callback()
    amo_connection.refresh_from_db()
    assert not amo_connection.access_token and not amo_connection.refresh_token
    hooks = sandbox.api("GET", "webhooks").json()["_embedded"]["webhooks"]
    assert [h["destination"] for h in hooks] == [other]  # ours removed, someone else's kept


def test_no_token_or_secret_reaches_the_logs(amo_connection, sandbox, caplog):
    caplog.set_level(logging.DEBUG)
    client = account_client(amo_connection, backoff_base=0.01, backoff_cap=0.02)
    sandbox.fault(kind="500", path="/api/v4/account", times=1)
    client.get_account()
    oauth.token_refresh(connection_id=amo_connection.pk, force=True)
    amo_connection.refresh_from_db()
    text = caplog.text + "".join(str(r.args) for r in caplog.records)
    for secret in (amo_connection.access_token, amo_connection.refresh_token, amo_connection.client_secret):
        assert secret not in text


def test_only_amocrm_hosts_are_taken_from_the_referer():
    assert oauth._account_host_from_referer("shop.amocrm.ru") == "https://shop.amocrm.ru"
    assert oauth._account_host_from_referer("shop.kommo.com") == "https://shop.kommo.com"
    assert oauth._account_host_from_referer("evil.example/amocrm.ru") is None
    assert oauth._account_host_from_referer("amocrm.ru.evil.example") is None


def test_a_refresh_inside_a_callers_transaction_is_refused(amo_connection):
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic():
        oauth.token_refresh(connection_id=amo_connection.pk, force=True)


def test_a_wrong_client_secret_gives_the_credentials_rejected_state(amo_connection, sandbox):
    AmoConnection.objects.filter(pk=amo_connection.pk).update(client_secret="not-the-secret")
    with pytest.raises(CircuitOpen) as caught:
        oauth.token_refresh(connection_id=amo_connection.pk, force=True)
    assert caught.value.state == "rejected"
    connection = AmoConnection.get_solo()
    assert connection.state == "rejected"
    assert "secret key" in connection.state_detail and "not-the-secret" not in connection.state_detail
    with pytest.raises(ValueError, match="rejected"):
        from console.amocrm.account.connection import connection_resume

        connection_resume(connection_id=connection.pk)


def test_a_wrong_client_id_on_the_code_exchange_is_rejected_too(db, sandbox):
    from console.amocrm.account.connection import connection_save_credentials

    connection = connection_save_credentials(
        connection=AmoConnection.get_solo(),
        base_url=sandbox.url,
        client_id="no-such-integration",
        client_secret=sandbox.client_secret,
        redirect_uri=sandbox.redirect_uri,
    )
    with pytest.raises(CircuitOpen) as caught:
        oauth.code_exchange(connection=connection, code=sandbox.mint_code(), state=None)
    assert caught.value.state == "rejected"


def test_an_account_that_moved_domains_is_followed_without_reconnecting(amo_connection, sandbox):
    new_host = sandbox.url.replace("127.0.0.1", "localhost")
    sandbox.configure(domain=new_host.split("://", 1)[1])  # the old host now answers like a moved account
    client = account_client(amo_connection, backoff_base=0.01, backoff_cap=0.02)
    assert client.get_account()["id"]  # 401 -> refresh -> 404 -> account lookup -> refresh on the new host
    connection = AmoConnection.get_solo()
    assert connection.base_url == new_host and connection.state == "connected"
    assert account_client(connection).get_account()["id"]
