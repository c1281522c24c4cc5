"""Alerts to administrators: one mail when an incident opens, none while it lasts, one when it clears; the
same as JSON to the alert URL (received here by a tiny HTTP server on 127.0.0.1); never a secret."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from django.db import IntegrityError
from django.utils import timezone

from console.amocrm.account.connection import connection_set_state
from console.amocrm.alerts import Signals, alerts_check, alerts_evaluate
from console.amocrm.models import AmoConnection, Incident, OrderSync, SyncLog, WebhookInbox
from tests.fixtures.builders import make_user

pytestmark = pytest.mark.django_db

SECRET_TOKEN = "access-token-never-in-a-mail"
CLIENT_SECRET = "client-secret-never-in-a-mail"


@pytest.fixture
def admins(db: Any) -> list[str]:
    """Two administrators with addresses (one by the group, one a superuser), one without an address, and a
    manager who gets no alert."""
    make_user("ada", role="admin", email="ada@example.com")
    make_user("root", is_superuser=True, email="root@example.com")
    make_user("nomail", role="admin")
    make_user("manny", role="manager", email="manny@example.com")
    make_user("gone", role="admin", email="gone@example.com", is_active=False)
    return ["ada@example.com", "root@example.com"]


def set_state(state: str) -> None:
    AmoConnection.objects.update_or_create(
        pk=1,
        defaults={
            "state": state,
            "access_token": SECRET_TOKEN,
            "client_secret": CLIENT_SECRET,
            "state_detail": f"refused with {SECRET_TOKEN}",
        },
    )


def test_a_broken_connection_mails_the_admins_once_while_it_lasts_and_once_when_it_clears(
    admins: list[str], mailoutbox: list
) -> None:
    set_state("blocked")
    assert alerts_check().opened == ["connection"]
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert sorted(mail.to) == admins
    assert mail.subject == "Incident: The amoCRM connection is broken"
    assert "the connection is “Blocked by AmoCRM”" in mail.body
    for _ in range(3):
        alerts_check()
    assert len(mailoutbox) == 1
    set_state("connected")
    assert alerts_check().cleared == ["connection"]
    assert len(mailoutbox) == 2
    assert mailoutbox[1].subject == "Cleared: The amoCRM connection is broken"
    alerts_check()
    assert len(mailoutbox) == 2
    incident = Incident.objects.get()
    assert incident.cleared_at is not None and incident.detail["code"] == "alert_connection"
    for sent in mailoutbox:
        assert SECRET_TOKEN not in sent.body + sent.subject and CLIENT_SECRET not in sent.body


def test_a_break_that_comes_back_is_a_second_incident(admins: list[str], mailoutbox: list) -> None:
    for state in ("revoked", "connected", "unpaid", "paused"):
        set_state(state)
        alerts_check()
    assert [m.subject.split(":")[0] for m in mailoutbox] == ["Incident", "Cleared", "Incident", "Cleared"]
    assert Incident.objects.count() == 2 and not Incident.objects.filter(cleared_at__isnull=True).exists()


@pytest.mark.parametrize("state", ["not_connected", "paused", "connected"])
def test_an_account_never_connected_or_paused_by_an_admin_is_no_incident(
    admins: list[str], mailoutbox: list, state: str
) -> None:
    set_state(state)
    alerts_check()
    assert mailoutbox == [] and not Incident.objects.exists()


def test_recording_a_break_runs_the_check_at_once(
    admins: list[str], mailoutbox: list, django_capture_on_commit_callbacks: Any
) -> None:
    set_state("connected")
    with django_capture_on_commit_callbacks(execute=True):
        connection_set_state(connection_id=1, state="revoked", detail="Token has been revoked")
    assert len(mailoutbox) == 1 and Incident.objects.get().kind == "connection"
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        connection_set_state(connection_id=1, state="connected")
    assert callbacks == [] and len(mailoutbox) == 1


def fail_syncs(make_order: Any, n: int) -> list[Any]:
    orders = [make_order() for _ in range(n)]
    for order in orders:
        OrderSync.objects.update_or_create(order=order, defaults={"state": "failed", "error_kind": "server"})
    return orders


def test_failed_syncs_open_an_incident_at_the_threshold_and_clear_below_it(
    admins: list[str], mailoutbox: list, make_order: Any, settings: Any
) -> None:
    settings.ALERT_FAILED_THRESHOLD = 3
    set_state("connected")
    orders = fail_syncs(make_order, 2)
    alerts_check()
    assert mailoutbox == []
    orders += fail_syncs(make_order, 2)
    alerts_check()
    assert len(mailoutbox) == 1
    assert "4 orders failed to sync or wait for a retry (the alert threshold is 3)" in mailoutbox[0].body
    orders += fail_syncs(make_order, 1)
    alerts_check()
    assert len(mailoutbox) == 1
    assert Incident.objects.get().detail["params"] == {"count": 5, "threshold": 3}
    OrderSync.objects.filter(order__in=orders[:3]).update(state="synced", error_kind="")
    alerts_check()
    assert len(mailoutbox) == 2 and mailoutbox[1].subject == "Cleared: Many order syncs failed"


def test_a_threshold_of_zero_turns_the_failed_syncs_alert_off(
    admins: list[str], mailoutbox: list, make_order: Any, settings: Any
) -> None:
    settings.ALERT_FAILED_THRESHOLD = 0
    set_state("connected")
    fail_syncs(make_order, 3)
    alerts_check()
    assert mailoutbox == []


def reconciled_change(minutes_ago: float) -> None:
    """A deal change the reconciliation applied: amoCRM had it, no webhook had brought it."""
    SyncLog.objects.create(
        started_at=timezone.now() - timedelta(minutes=minutes_ago),
        event="reconcile",
        action="amocrm_status",
        trigger="reconcile",
        outcome=SyncLog.Outcome.OK,
    )


def delivery(minutes_ago: float) -> None:
    WebhookInbox.objects.create(body=b"", received_at=timezone.now() - timedelta(minutes=minutes_ago))


def test_webhooks_count_as_stopped_when_none_came_while_the_reconciliation_found_changes(
    admins: list[str], mailoutbox: list, settings: Any
) -> None:
    settings.ALERT_WEBHOOK_SILENCE_MINUTES = 30
    set_state("connected")
    delivery(45)
    reconciled_change(40)  # before the window
    alerts_check()
    assert mailoutbox == []
    reconciled_change(10)
    reconciled_change(5)
    alerts_check()
    assert len(mailoutbox) == 1 and mailoutbox[0].subject == "Incident: Webhooks stopped arriving"
    assert "for 30 minutes, yet the reconciliation found 2 deal changes" in mailoutbox[0].body
    SyncLog.objects.filter(event="reconcile").delete()
    alerts_check()  # no changes and no deliveries: nothing to judge, the incident stays
    assert len(mailoutbox) == 1 and Incident.objects.get().is_open
    delivery(0)
    alerts_check()
    assert len(mailoutbox) == 2 and mailoutbox[1].subject == "Cleared: Webhooks stopped arriving"


def test_a_lost_webhook_among_arriving_ones_is_no_incident(admins: list[str], mailoutbox: list) -> None:
    set_state("connected")
    reconciled_change(3)
    delivery(2)
    alerts_check()
    assert mailoutbox == []


def test_the_evaluation_is_pure_and_judges_each_kind() -> None:
    quiet = Signals(connection_state="error", failed_syncs=9, missed_changes=0, webhook_arrived=False)
    findings = {f.kind: f.firing for f in alerts_evaluate(quiet, threshold=10, silence_minutes=30)}
    assert findings == {"connection": True, "failed_syncs": False, "webhook_silence": None}
    loud = Signals(connection_state="connected", failed_syncs=10, missed_changes=1, webhook_arrived=False)
    findings = {f.kind: f.firing for f in alerts_evaluate(loud, threshold=10, silence_minutes=30)}
    assert findings == {"connection": False, "failed_syncs": True, "webhook_silence": True}
    gone = Signals(connection_state="not_connected", failed_syncs=0, missed_changes=0, webhook_arrived=False)
    findings = {f.kind: f.firing for f in alerts_evaluate(gone, threshold=10, silence_minutes=30)}
    assert findings == {"connection": False, "failed_syncs": False, "webhook_silence": False}


def test_only_one_incident_of_a_kind_is_open_at_a_time(db: Any) -> None:
    now = timezone.now()
    Incident.objects.create(kind="connection", opened_at=now, checked_at=now)
    with pytest.raises(IntegrityError):
        Incident.objects.create(kind="connection", opened_at=now, checked_at=now)


# --- the alert URL ----------------------------------------------------------------------------------------


class Received(BaseHTTPRequestHandler):
    bodies: list[dict[str, Any]] = []
    paths: list[str] = []

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers["Content-Length"])
        type(self).bodies.append(json.loads(self.rfile.read(length)))
        type(self).paths.append(self.path)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hook_server() -> Iterator[str]:
    """A local HTTP server recording the JSON bodies POSTed to it; yields its base URL."""
    Received.bodies, Received.paths = [], []
    server = HTTPServer(("127.0.0.1", 0), Received)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_alert_url_receives_each_opening_and_clearing_as_json(
    admins: list[str], mailoutbox: list, settings: Any, hook_server: str
) -> None:
    settings.ALERT_WEBHOOK_URL = f"{hook_server}/hooks/T0/B0?token=chat-secret"
    set_state("rejected")
    alerts_check()
    alerts_check()
    set_state("connected")
    alerts_check()
    assert [b["event"] for b in Received.bodies] == ["opened", "cleared"]
    assert Received.paths == ["/hooks/T0/B0?token=chat-secret"] * 2
    opened = Received.bodies[0]
    assert opened["kind"] == "connection" and opened["cleared_at"] is None
    assert opened["detail"] == {"code": "alert_connection", "params": {"connection_state": "rejected"}}
    assert opened["subject"] == mailoutbox[0].subject and opened["text"] == mailoutbox[0].body
    assert Received.bodies[1]["cleared_at"] is not None
    assert SECRET_TOKEN not in json.dumps(Received.bodies)


def test_a_mail_server_that_does_not_answer_is_logged_and_the_check_goes_on(
    admins: list[str], settings: Any, caplog: Any, make_order: Any
) -> None:
    server = HTTPServer(("127.0.0.1", 0), Received)
    port = server.server_address[1]
    server.server_close()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 2
    settings.ALERT_FAILED_THRESHOLD = 1
    set_state("blocked")
    fail_syncs(make_order, 1)
    with caplog.at_level(logging.WARNING, logger="console.amocrm.alerts"):
        assert alerts_check().opened == ["connection", "failed_syncs"]
    assert "alert mail for the connection incident not sent: ConnectionRefusedError" in caplog.text
    assert Incident.objects.filter(cleared_at__isnull=True).count() == 2


def test_an_alert_url_that_does_not_answer_is_logged_without_the_url_and_the_mail_still_goes(
    admins: list[str], mailoutbox: list, settings: Any, caplog: Any
) -> None:
    server = HTTPServer(("127.0.0.1", 0), Received)
    port = server.server_address[1]
    server.server_close()  # nothing listens there any more
    settings.ALERT_WEBHOOK_URL = f"http://127.0.0.1:{port}/hook?token=chat-secret"
    set_state("blocked")
    with caplog.at_level(logging.WARNING, logger="console.amocrm.alerts"):
        assert alerts_check().opened == ["connection"]
    assert len(mailoutbox) == 1
    assert "alert URL for the connection incident: no answer (ConnectionError)" in caplog.text
    assert "chat-secret" not in caplog.text and str(port) not in caplog.text
