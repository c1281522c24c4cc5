"""/healthz and /metrics (console/web/views/health.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import OperationalError
from django.test import Client
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.conf import Conf
from django_q.models import OrmQ
from django_q.signing import SignedPackage
from django_q.status import Stat, Status
from prometheus_client.parser import text_string_to_metric_families

from console.amocrm.models import AmoConnection, SyncLog, WebhookCounter, WebhookInbox
from console.web.views import health

pytestmark = pytest.mark.django_db


@pytest.fixture
def cluster_expected(settings: Any) -> None:
    """Tasks go to a cluster (not inline), as in production."""
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": False}


def heartbeat(status: str = Conf.IDLE) -> None:
    """What a running cluster's sentinel saves every half second, through the same broker and cache."""
    stat = Status(pid=4242, cluster_id="health-test")
    stat.status, stat.workers = status, [1, 2]
    get_broker().set_stat(Stat.get_key("health-test"), SignedPackage.dumps(stat, True), 3)


# --- /healthz ------------------------------------------------------------------------------------------


def test_healthz_answers_200_with_every_check_when_healthy(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200, response.json()
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["ok"] is True
    assert set(body["checks"]) == {"database", "cache", "broker", "cluster", "amocrm"}
    assert body["checks"]["amocrm"] == {"ok": True, "state": "not_connected"}


def test_healthz_is_503_without_a_cluster_heartbeat(
    client: Client, cluster_expected: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Stat, "get_all", staticmethod(lambda broker=None: []))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["cluster"]["ok"] is False


def test_healthz_sees_the_heartbeat_a_cluster_saves_in_the_shared_cache(
    client: Client, cluster_expected: None
) -> None:
    heartbeat()
    response = client.get("/healthz")
    assert response.status_code == 200, response.json()
    assert response.json()["checks"]["cluster"] == {"ok": True, "clusters": 1, "workers": 2}


def test_healthz_is_503_when_the_broker_is_unreachable(client: Client, settings: Any) -> None:
    settings.Q_BROKER, settings.REDIS_URL = "redis", "redis://127.0.0.1:9/0"
    body = client.get("/healthz").json()
    assert body["ok"] is False
    assert body["checks"]["broker"] == {"ok": False, "error": "ConnectionError"}
    assert body["checks"]["cluster"] == {"ok": False, "error": "broker unreachable"}


def test_a_failing_check_names_the_error_class_but_never_its_message(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> dict:
        raise OperationalError('connection to "db" failed: password=hunter2 rejected for user "console"')

    monkeypatch.setitem(health.CHECKS, "database", broken)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == {"ok": False, "error": "OperationalError"}
    assert b"hunter2" not in response.content and b"console" not in response.content


def test_healthz_is_503_when_amocrm_refused_the_connection(client: Client) -> None:
    AmoConnection.objects.create(pk=1, state=AmoConnection.State.REVOKED)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["amocrm"] == {"ok": False, "state": "revoked"}


def test_healthz_and_metrics_are_not_redirected_to_https(client: Client, settings: Any) -> None:
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz").status_code == 200
    assert client.get("/metrics").status_code == 200
    assert client.get("/login/").status_code == 301


# --- /metrics ------------------------------------------------------------------------------------------


def scrape(client: Client, **headers: str) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def test_metrics_count_syncs_http_calls_webhooks_and_rejections(client: Client) -> None:
    SyncLog.objects.create(outcome="ok", http_calls=3)
    SyncLog.objects.create(outcome="ok", http_calls=2)
    SyncLog.objects.create(outcome="failed", http_calls=1, error_status=429)
    SyncLog.objects.create(outcome="retry", http_calls=1)
    for outcome in ("applied", "applied", "invalid"):
        WebhookInbox.objects.create(body=b"", outcome=outcome)
    WebhookCounter.objects.create(key="rejected:secret", value=7)
    WebhookCounter.objects.create(key="intake:error", value=1)

    metrics = scrape(client)

    assert metrics[("console_amocrm_syncs", (("outcome", "ok"),))] == 2
    assert metrics[("console_amocrm_syncs", (("outcome", "skipped"),))] == 0
    assert metrics[("console_amocrm_http_calls", (("outcome", "ok"),))] == 5
    assert metrics[("console_amocrm_failed_syncs_by_status", (("status", "429"),))] == 1
    assert metrics[("console_amocrm_failed_syncs_by_status", (("status", "none"),))] == 1
    assert metrics[("console_webhook_deliveries", (("outcome", "applied"),))] == 2
    assert metrics[("console_webhook_deliveries", (("outcome", "invalid"),))] == 1
    assert metrics[("console_webhook_rejected_total", (("reason", "secret"),))] == 7
    assert metrics[("console_webhook_intake_errors_total", ())] == 1
    assert metrics[("console_amocrm_connection_state", (("state", "not_connected"),))] == 1
    assert metrics[("console_amocrm_rate_limit_per_second", ())] > 0
    assert ("console_queue_depth", ()) in metrics and ("console_cluster_heartbeats", ()) in metrics


@pytest.mark.skipif(not Conf.ORM, reason="the ORM broker's queue table")
def test_metrics_tell_the_queue_depth_and_the_oldest_waiting_task_age(client: Client) -> None:
    now = timezone.now()
    OrmQ.objects.create(key=Conf.CLUSTER_NAME, payload="-", lock=now - timedelta(seconds=90))
    OrmQ.objects.create(key=Conf.CLUSTER_NAME, payload="-", lock=now - timedelta(seconds=5))
    OrmQ.objects.create(key=Conf.CLUSTER_NAME, payload="-", lock=now + timedelta(seconds=60))  # taken

    metrics = scrape(client)

    assert metrics[("console_queue_depth", ())] == 2
    assert metrics[("console_queue_running", ())] == 1
    assert 90 <= metrics[("console_queue_oldest_age_seconds", ())] < 120


def test_metrics_need_the_bearer_token_when_one_is_set(client: Client, settings: Any) -> None:
    settings.METRICS_TOKEN = "metrics-token-123"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="metrics-token-123").status_code == 401
    assert scrape(client, HTTP_AUTHORIZATION="Bearer metrics-token-123")


def test_the_metrics_token_is_compared_in_constant_time(
    client: Client, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.METRICS_TOKEN = "metrics-token-123"
    compared: list[tuple[bytes, bytes]] = []
    real = health.hmac.compare_digest
    monkeypatch.setattr(health.hmac, "compare_digest", lambda a, b: compared.append((a, b)) or real(a, b))
    client.get("/metrics", HTTP_AUTHORIZATION="Bearer guess")
    assert compared == [(b"Bearer guess", b"Bearer metrics-token-123")]
