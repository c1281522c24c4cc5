"""``/healthz`` (JSON: is this installation working?) and ``/metrics`` (Prometheus text format).

``/healthz`` checks the database, the shared cache, the task broker, the django-q2 cluster's heartbeat
(``Stat.get_all()``: each running cluster saves one every half second, kept for 3 s, in Redis or in the shared
cache) and the amoCRM connection; 200 when every check passes, else 503. A failed check names the error's
class only, never its message (which may carry a host or a user name), so the answer holds no secret.

``/metrics`` needs ``Authorization: Bearer <METRICS_TOKEN>`` (compared in constant time) when
``METRICS_TOKEN`` is set; without it, it is open in the embedded mode and refused with a 403 when
``PRODUCTION=true``. Its figures come from the rows the console keeps (sync log, webhook inbox and
counters, task queue), so every web process reports the same numbers and nothing is lost on a restart.
Counts of logged rows are gauges: the sync log and the inbox keep 90 days, so they may go down.
https://prometheus.io/docs/instrumenting/writing_exporters/
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Q, Sum
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.crypto import get_random_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from django_q.brokers import get_broker
from django_q.conf import Conf
from django_q.signing import SignedPackage
from django_q.status import Stat
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from console.amocrm.account.connection import BROKEN_STATES
from console.amocrm.models import AmoConnection, SyncLog, WebhookCounter, WebhookInbox
from console.amocrm.outbound.selectors import sync_queue_health

logger = logging.getLogger(__name__)

REDIS_PING_TIMEOUT = 2.0  # seconds; a REDIS_URL query string (socket_timeout=...) takes precedence


# --- /healthz ------------------------------------------------------------------------------------------


def _check_database() -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {"ok": True, "vendor": connection.vendor}


def _check_cache() -> dict[str, Any]:
    key, nonce = "healthz:cache", get_random_string(12)
    cache.set(key, nonce, timeout=30)
    return {"ok": cache.get(key) == nonce}


def _check_broker() -> dict[str, Any]:
    if settings.Q_BROKER == "redis":
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=REDIS_PING_TIMEOUT, socket_timeout=REDIS_PING_TIMEOUT
        )
        with client:
            return {"ok": bool(client.ping()), "broker": "redis"}
    return {"ok": True, "broker": "orm", "queued": sync_queue_health().depth}  # a query of the task table


def _live_clusters() -> list[Stat]:
    """The django-q2 clusters whose heartbeat is fresh (a stopped cluster's last one says so)."""
    return [stat for stat in Stat.get_all() if stat.status != Conf.STOPPED]


def _check_cluster() -> dict[str, Any]:
    if settings.Q_CLUSTER.get("sync"):
        return {"ok": True, "detail": "tasks run inline (Q_SYNC=true)"}
    alive = _live_clusters()
    return {
        "ok": bool(alive),
        "clusters": len(alive),
        "workers": sum(len(stat.workers) for stat in alive),
        **({} if alive else {"detail": "no cluster heartbeat: is `manage.py qcluster` running?"}),
    }


def _connection_state() -> str:
    state = AmoConnection.objects.filter(pk=1).values_list("state", flat=True).first()
    return str(state or AmoConnection.State.NOT_CONNECTED)


def _check_amocrm() -> dict[str, Any]:
    state = _connection_state()
    return {"ok": state not in BROKEN_STATES, "state": state}


CHECKS: dict[str, Callable[[], dict[str, Any]]] = {
    "database": _check_database,
    "cache": _check_cache,
    "broker": _check_broker,
    "cluster": _check_cluster,
    "amocrm": _check_amocrm,
}


def _run(name: str, check: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return check()
    except Exception as exc:  # noqa: BLE001 (a check that cannot run has failed; the answer says so)
        logger.warning("health check %s failed: %s", name, type(exc).__name__)
        return {"ok": False, "error": type(exc).__name__}


def health_report() -> dict[str, Any]:
    """Every check's result; ``ok`` when all passed. The cluster is not asked when the broker is down."""
    checks: dict[str, dict[str, Any]] = {}
    for name, check in CHECKS.items():
        if name == "cluster" and not checks["broker"]["ok"]:
            checks[name] = {"ok": False, "error": "broker unreachable"}
            continue
        checks[name] = _run(name, check)
    return {"ok": all(result["ok"] for result in checks.values()), "checks": checks}


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """``GET /healthz``: 200 ``{"ok": true, "checks": {...}}`` when healthy, else 503 (same body)."""
    report = health_report()
    return JsonResponse(report, status=200 if report["ok"] else 503)


# --- /metrics ------------------------------------------------------------------------------------------


def _queue_metrics() -> Iterator[Metric]:
    health = sync_queue_health()
    oldest = health.oldest_age
    if oldest is None and health.broker == "redis":
        oldest = _redis_oldest_age()
    yield GaugeMetricFamily(
        "console_queue_depth", "Tasks waiting in the django-q2 queue.", value=health.depth
    )
    if health.running is not None:
        yield GaugeMetricFamily(
            "console_queue_running", "Tasks taken by a worker (ORM broker).", value=health.running
        )
    yield GaugeMetricFamily(
        "console_queue_oldest_age_seconds",
        "Age of the oldest waiting task (0 when none waits).",
        value=oldest.total_seconds() if oldest else 0.0,
    )
    yield GaugeMetricFamily(
        "console_cluster_heartbeats", "django-q2 clusters alive.", value=len(_live_clusters())
    )


def _redis_oldest_age() -> timedelta | None:
    """The age of the task at the head of the Redis list (django-q2 stamps ``started`` when it enqueues)."""
    broker = get_broker()
    head = broker.connection.lindex(broker.list_key, 0)
    if not head:
        return None
    started = SignedPackage.loads(head).get("started")
    return timezone.now() - started if started else None


def _sync_metrics() -> Iterator[Metric]:
    syncs = GaugeMetricFamily(
        "console_amocrm_syncs", "Sync attempts in the sync log (90 days), by outcome.", labels=["outcome"]
    )
    calls = GaugeMetricFamily(
        "console_amocrm_http_calls",
        "amoCRM HTTP requests made by the sync attempts in the sync log (90 days), by the attempt's outcome.",
        labels=["outcome"],
    )
    rows = SyncLog.objects.order_by().values("outcome").annotate(n=Count("id"), calls=Sum("http_calls"))
    seen = {row["outcome"]: row for row in rows}
    for outcome in SyncLog.Outcome.values:
        row = seen.get(outcome, {})
        syncs.add_metric([outcome], row.get("n", 0))
        calls.add_metric([outcome], row.get("calls") or 0)
    yield syncs
    yield calls
    statuses = GaugeMetricFamily(
        "console_amocrm_failed_syncs_by_status",
        "Failed or retried sync attempts in the sync log by amoCRM's HTTP status (none: no answer).",
        labels=["status"],
    )
    failed = SyncLog.objects.filter(outcome__in=[SyncLog.Outcome.FAILED, SyncLog.Outcome.RETRY])
    for row in failed.order_by().values("error_status").annotate(n=Count("id")):
        statuses.add_metric([str(row["error_status"] or "none")], row["n"])
    yield statuses


def _webhook_metrics() -> Iterator[Metric]:
    deliveries = GaugeMetricFamily(
        "console_webhook_deliveries",
        "Webhook deliveries in the inbox (90 days), by outcome.",
        labels=["outcome"],
    )
    seen = dict(
        WebhookInbox.objects.order_by().values("outcome").annotate(n=Count("id")).values_list("outcome", "n")
    )
    for outcome in WebhookInbox.Outcome.values:
        deliveries.add_metric([outcome], seen.get(outcome, 0))
    yield deliveries
    rejected = CounterMetricFamily(
        "console_webhook_rejected",
        "Webhook deliveries answered 404 (wrong secret or account).",
        labels=["reason"],
    )
    errors = 0
    counters = WebhookCounter.objects.filter(Q(key__startswith="rejected:") | Q(key="intake:error"))
    for key, value in counters.values_list("key", "value"):
        if key == "intake:error":
            errors = value
        else:
            rejected.add_metric([key.partition(":")[2]], value)
    yield rejected
    yield CounterMetricFamily(
        "console_webhook_intake_errors",
        "Webhook deliveries the intake failed on (answered 200).",
        value=errors,
    )


def _amocrm_metrics() -> Iterator[Metric]:
    state = _connection_state()
    states = GaugeMetricFamily(
        "console_amocrm_connection_state", "1 for the amoCRM connection's current state.", labels=["state"]
    )
    for value in AmoConnection.State.values:
        states.add_metric([value], 1 if value == state else 0)
    yield states
    yield GaugeMetricFamily(
        "console_amocrm_rate_limit_per_second",
        "Requests per second the installation's rate limiter lets through to amoCRM (AMOCRM_RATE_LIMIT).",
        value=settings.AMOCRM_RATE_LIMIT,
    )


class ConsoleCollector:
    """Collects every figure at scrape time (one registry per request: no state in the web process)."""

    def collect(self) -> Iterator[Metric]:
        yield from _queue_metrics()
        yield from _sync_metrics()
        yield from _webhook_metrics()
        yield from _amocrm_metrics()


def _authorized(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if not token:
        return True
    given = request.META.get("HTTP_AUTHORIZATION", "")
    return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    """``GET /metrics``: the console's figures in Prometheus text format; 401 without the bearer token when
    ``METRICS_TOKEN`` is set; 403 in production when it is not."""
    if settings.PRODUCTION and not settings.METRICS_TOKEN:
        message = "Forbidden: set METRICS_TOKEN to serve /metrics in production\n"
        return HttpResponse(message, status=403, content_type="text/plain")
    if not _authorized(request):
        response = HttpResponse("Unauthorized\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ConsoleCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
