"""amoCRM webhooks: the intake view (authenticate, store raw, enqueue) and the processing service.

**Intake** (``webhook_intake``, ``POST /amocrm/webhook/<secret>/``) answers in milliseconds and never calls
amoCRM nor changes an order. It compares the URL secret with the connection's (constant time) and the body's
``account[id]``/``account[subdomain]`` with the connected account; a failure answers 404 and only bumps a
counter. An authenticated delivery is stored in ``WebhookInbox`` (raw body and headers, never the URL secret)
and processed by a django-q2 task enqueued after commit. A delivery with the same content as an earlier one
(same fingerprint) is stored as ``duplicate`` and not processed. A body we cannot parse is stored as
``invalid`` and answered 200 so amoCRM does not retry garbage. Nothing in the intake answers 500.

**Processing** (``inbox_process``) reads each item of the body and applies the lead's stage to its order by
the rules of :func:`lead_observe` (see there: echo, stale, verification, apply). The same rules serve the
reconciliation (``console.amocrm.reconcile``), which feeds leads read from the API.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import IntegrityError, OperationalError, connections, router, transaction
from django.db.models import F
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from console.amocrm.crypto import decrypt
from console.amocrm.formparse import FormParseError, as_list, parse_form
from console.amocrm.mapping import LOST_STATUS_ID
from console.amocrm.models import (
    AmoConnection,
    OrderSync,
    StageMapping,
    SyncLog,
    WebhookCounter,
    WebhookInbox,
)
from console.amocrm.queue import task_enqueue
from console.amocrm.redaction import redact
from console.amocrm.schedules import schedule_once
from console.orders.models import Order, OrderStatusChange
from console.orders.services import order_set_status

logger = logging.getLogger(__name__)

Outcome = WebhookInbox.Outcome
PROCESS_TASK = "console.amocrm.tasks.webhook_process_task"
ACTOR = "amocrm"
# Seconds of clock difference tolerated between amoCRM and us when a hook's time is compared with our push.
CLOCK_SKEW = 1
# Outcome of a body with several items: the most telling item outcome wins.
_OUTCOME_RANK = [
    Outcome.FAILED,
    Outcome.APPLIED,
    Outcome.STALE,
    Outcome.ECHO,
    Outcome.IGNORED,
    Outcome.INVALID,
]
_STORED_HEADERS_SKIP = {"HTTP_COOKIE", "HTTP_AUTHORIZATION"}
_STATE_ACTIONS = {"add", "update", "status", "responsible"}


# --- counters -----------------------------------------------------------------------------------------------


def counter_increment(*, key: str, by: int = 1) -> None:
    """Add ``by`` to the counter ``key`` with one atomic UPDATE (the row is created on first use)."""
    if WebhookCounter.objects.filter(key=key).update(value=F("value") + by, updated_at=timezone.now()):
        return
    try:
        with transaction.atomic():
            WebhookCounter.objects.create(key=key, value=by)
    except IntegrityError:  # created by a concurrent request in between
        WebhookCounter.objects.filter(key=key).update(value=F("value") + by, updated_at=timezone.now())


def counter_value(key: str) -> int:
    return WebhookCounter.objects.filter(key=key).values_list("value", flat=True).first() or 0


# --- parsing the body into items ----------------------------------------------------------------------------


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class WebhookItem:
    """One entity event of a webhook body, e.g. ``leads[status][0]`` (all ids already ints or None)."""

    entity: str  # "leads", "contacts", "companies" (a contact with type=company), "task", ...
    action: str  # "add", "update", "status", "delete", "restore", "responsible", "note", ...
    id: int | None
    status_id: int | None = None
    pipeline_id: int | None = None
    last_modified: int | None = None
    fields: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def dedup_part(self) -> list[Any]:
        """What makes two deliveries the same event: entity, kind of action, id, stage and time."""
        kind = "state" if self.action in _STATE_ACTIONS else self.action
        return [self.entity, kind, self.id, self.pipeline_id, self.status_id, self.last_modified]


def _item(entity: str, action: str, raw: dict[str, Any]) -> WebhookItem:
    if entity == "contacts" and raw.get("type") == "company":
        entity = "companies"
    modified = raw.get("last_modified") or raw.get("updated_at")
    return WebhookItem(
        entity=entity,
        action=action,
        id=_int(raw.get("id")),
        status_id=_int(raw.get("status_id")),
        pipeline_id=_int(raw.get("pipeline_id")),
        last_modified=_int(modified),
        fields=raw,
    )


def webhook_items(data: dict[str, Any]) -> list[WebhookItem]:
    """Every item of a parsed body in body order (``{entity}[{action}][{i}]``; ``account`` is no item)."""
    items = []
    for entity, group in data.items():
        if entity == "account" or not isinstance(group, dict):
            continue
        for action, entries in group.items():
            items.extend(_item(entity, action, raw) for raw in as_list(entries) if isinstance(raw, dict))
    return items


def fingerprint(account: dict[str, Any], items: list[WebhookItem]) -> str:
    """A stable hash of (account, entity, action kind, id, stage, last_modified) of every item."""
    parts = sorted(json.dumps(item.dedup_part()) for item in items)
    key = [str(account.get("id") or ""), str(account.get("subdomain") or "").lower(), parts]
    return hashlib.sha256(json.dumps(key).encode()).hexdigest()


# --- intake -------------------------------------------------------------------------------------------------


def _headers(request: HttpRequest, secret: str) -> dict[str, str]:
    """The request's headers as sent (no cookies or credentials; the URL secret blanked if a proxy echoed the
    path into a header such as ``X-Original-Uri`` or ``Referer``)."""
    headers = {}
    for key, value in request.META.items():
        if key.startswith("HTTP_") and key not in _STORED_HEADERS_SKIP:
            headers[key[5:].replace("_", "-").title()] = str(value)[:500].replace(secret, "***")
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if request.META.get(key):
            headers[key.replace("_", "-").title()] = str(request.META[key])
    return headers


@dataclass(frozen=True)
class IntakeAccount:
    """What the intake needs of the connection: its webhook secret (clear text) and the account identity."""

    webhook_secret: str
    account_id: int | None
    subdomain: str


# Encrypted webhook secret -> clear text, keyed by the stored ciphertext: a rotated secret (new ciphertext)
# is decrypted on its first delivery and the old entry is never hit again; bounded below.
_secret_clear: dict[str, str] = {}


def _clear_secret(stored: str) -> str:
    clear = _secret_clear.get(stored)
    if clear is None:
        if len(_secret_clear) > 16:
            _secret_clear.clear()
        clear = _secret_clear[stored] = decrypt(stored) if stored else ""
    return clear


def intake_account() -> IntakeAccount | None:
    """The connection's webhook secret and account, read on every delivery (so a rotation applies at once).

    One indexed SELECT through the cursor: the ORM's query building costs about 0.25 ms here, more than the
    query itself, on the path every delivery takes (see tests/bench/bench_webhooks.py).
    """
    meta = AmoConnection._meta
    columns = ", ".join(meta.get_field(name).column for name in ("webhook_secret", "account_id", "subdomain"))
    database = router.db_for_read(AmoConnection)
    quote = connections[database].ops.quote_name
    sql = f"SELECT {columns} FROM {quote(meta.db_table)} WHERE {quote(meta.pk.column)} = %s"
    with connections[database].cursor() as cursor:
        cursor.execute(sql, [1])
        row = cursor.fetchone()
    if row is None:
        return None
    return IntakeAccount(webhook_secret=_clear_secret(row[0]), account_id=row[1], subdomain=row[2] or "")


def _secret_ok(given: str, connection: IntakeAccount | None) -> bool:
    expected = connection.webhook_secret if connection is not None else ""
    # Compare even without a connection so the answer time does not tell whether one exists.
    return hmac.compare_digest(given.encode(), (expected or "\0" * 43).encode()) and bool(expected)


def account_matches(account: dict[str, Any], connection: AmoConnection | IntakeAccount) -> bool:
    """True when the body's account is the connected one: every identity both sides know agrees, and at
    least one is compared (``account[id]`` with ``account_id``, ``account[subdomain]`` with ``subdomain``)."""
    compared = False
    given_id = _int(account.get("id"))
    if given_id is not None and connection.account_id is not None:
        if given_id != connection.account_id:
            return False
        compared = True
    given_sub = str(account.get("subdomain") or "").strip().lower()
    if given_sub and connection.subdomain:
        if given_sub != connection.subdomain.strip().lower():
            return False
        compared = True
    return compared


def _reject(reason: str) -> HttpResponse:
    counter_increment(key=f"rejected:{reason}")
    return HttpResponseNotFound()


_turns = threading.local()

# A delivery stored less than this long ago means a burst is on; processing waits for it to pass, up to
# PROCESSING_YIELD_MAX per task (see deliveries_quiet_wait).
BURST_GAP = 0.2
PROCESSING_YIELD_MAX = 2.0


def _turn_file() -> Any:
    """This thread's open handle on the turn's lock file (flock locks belong to an open file, so one each)."""
    handle = getattr(_turns, "handle", None)
    if handle is None:
        handle = _turns.handle = open(Path(settings.DATA_DIR) / "webhook-intake.lock", "a+b")  # noqa: SIM115
    return handle


def _on_sqlite() -> bool:
    return connections[router.db_for_write(WebhookInbox)].vendor == "sqlite"


@contextmanager
def sqlite_writer_turn() -> Iterator[None]:
    """On SQLite, queue the webhook writers (intake and processing) on a file lock before the write lock.

    SQLite lets one writer in at a time and makes the others poll with sleeps growing to 100 ms, which is
    what a webhook waits for under load (the benchmark's worst answer went from 3 s to 0.5 s with this).
    A blocking ``flock`` wakes the next writer as soon as the previous one is done, across gunicorn's and
    the cluster's processes and threads (one open file per thread). It only orders waiting: correctness never
    depends on it (a nested turn in the same thread shares the lock). Other databases: no-op.
    """
    if getattr(_turns, "depth", 0) or not _on_sqlite():
        yield
        return
    turn = _turn_file()
    fcntl.flock(turn, fcntl.LOCK_EX)
    _turns.depth = 1
    try:
        yield
    finally:
        _turns.depth = 0
        fcntl.flock(turn, fcntl.LOCK_UN)


def _delivery_mark() -> None:
    """Note (the lock file's modification time) that a delivery was just stored."""
    if _on_sqlite():
        os.utime(_turn_file().fileno())


def deliveries_quiet_wait(*, gap: float | None = None, patience: float | None = None) -> float:
    """On SQLite, wait until no delivery has been stored for ``gap`` seconds, at most ``patience`` seconds;
    returns the time waited.

    The processing task calls this first. On SQLite all writers take turns, a processing write holds the
    turn for milliseconds (it reads and changes an order) and a delivery for a fraction of one, and both
    share two CPUs: processing while a burst comes in doubled the intake's slowest answers (the benchmark's
    p99 went from about 45 ms to 80-110 ms). amoCRM disables a hook that answers slowly, while processing
    may lag a burst by seconds, so the intake goes first: during a burst each processing task waits up to
    ``patience`` (so processing still advances, a task per worker every ``patience`` seconds), and once
    deliveries pause for ``gap`` the backlog is processed at full speed. Outside bursts nothing waits;
    other databases never wait, nor does processing run inline by django-q's sync mode (it would be the
    intake waiting for itself).
    """
    from django_q.conf import Conf

    if not _on_sqlite() or Conf.SYNC:
        return 0.0
    gap = BURST_GAP if gap is None else gap
    patience = PROCESSING_YIELD_MAX if patience is None else patience
    turn = _turn_file()
    started = time.monotonic()
    while True:
        quiet_for = time.time() - os.fstat(turn.fileno()).st_mtime
        waited = time.monotonic() - started
        if quiet_for >= gap or waited >= patience:
            return waited
        time.sleep(min(gap - quiet_for, patience - waited))


@contextmanager
def _intake_atomic() -> Iterator[None]:
    """``transaction.atomic()`` for the intake's write, taken inside :func:`sqlite_writer_turn`.

    On SQLite the django-q broker's own queue writes (dequeue, acknowledge) do not take the turn, so our
    ``BEGIN IMMEDIATE`` can find the write lock held for a fraction of a millisecond. SQLite's busy handler
    then sleeps 1, 2, 5, 10, 15, 20, 25 ms... while every other delivery waits for this turn: the benchmark
    showed 50-90 ms stalls of all workers at once. Here the lock is polled every half millisecond instead, up
    to the connection's usual timeout; once the transaction has begun nothing else can be busy.
    """
    connection = connections[router.db_for_write(WebhookInbox)]
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        with transaction.atomic(using=connection.alias):
            yield
        return
    connection.ensure_connection()
    timeout = float(connection.settings_dict["OPTIONS"].get("timeout", 5))
    deadline = time.monotonic() + timeout
    with ExitStack() as stack:
        connection.connection.execute("PRAGMA busy_timeout = 0")
        try:
            while True:
                try:
                    stack.enter_context(transaction.atomic(using=connection.alias))
                    break
                except OperationalError as exc:
                    if "locked" not in str(exc) or time.monotonic() >= deadline:
                        raise
                    time.sleep(0.0005)
        finally:
            connection.connection.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        yield


def _enqueue(inbox_id: int) -> None:
    # save=False: the outcome lives on the inbox row; no django-q result row per delivery.
    task_enqueue(PROCESS_TASK, inbox_id, task_name=f"webhook-{inbox_id}", group="amocrm-webhooks", save=False)


def _queue_commits_with_row() -> bool:
    """True for the django-q2 ORM broker on the inbox's database (and a real cluster, not sync mode)."""
    from django_q.conf import Conf

    return bool(Conf.ORM) and router.db_for_write(WebhookInbox) == Conf.ORM and not Conf.SYNC


def _enqueue_on_commit(inbox_id: int) -> None:
    """Make the processing task visible to the cluster when the inbox row commits, not before.

    With the ORM broker on the same database the queue row is written inside the row's transaction: it
    becomes visible exactly at commit, can never be lost between commit and enqueue, and the intake pays for
    one write transaction instead of two (SQLite serialises writers, so this halves the lock waits). Any
    other broker is called from ``on_commit`` so a worker never sees a task before its row exists.
    """
    if _queue_commits_with_row():
        _enqueue(inbox_id)
    else:
        transaction.on_commit(lambda: _enqueue(inbox_id))


def inbox_store(
    *,
    body: bytes,
    headers: dict[str, str],
    remote_addr: str | None,
    account: dict[str, Any],
    items: list[WebhookItem],
    invalid_reason: str = "",
) -> WebhookInbox:
    """Store one authenticated delivery and enqueue its processing after commit.

    ``invalid_reason`` stores the row as ``invalid`` (processed, nothing enqueued). A delivery whose
    fingerprint was seen before is stored as ``duplicate`` of the first row and not enqueued.
    """
    now = timezone.now()
    row = WebhookInbox(
        received_at=now,
        body=body,
        headers=headers,
        remote_addr=remote_addr,
        account_id=_int(account.get("id")),
        account_subdomain=str(account.get("subdomain") or "")[:255],
        events=", ".join(dict.fromkeys(f"{i.entity}[{i.action}]" for i in items))[:255],
        entity_ids=",".join(dict.fromkeys(str(i.id) for i in items if i.id is not None))[:255],
        item_count=len(items),
    )
    if invalid_reason:
        row.outcome, row.reason, row.processed_at = Outcome.INVALID, invalid_reason, now
        row.save()
        return row
    row.fingerprint = fingerprint(account, items)
    _delivery_mark()
    with sqlite_writer_turn(), _intake_atomic():
        try:
            with transaction.atomic():
                row.dedup_key = row.fingerprint
                row.save()
        except IntegrityError:
            row.pk, row.dedup_key = None, None
            row.duplicate_of = WebhookInbox.objects.filter(dedup_key=row.fingerprint).first()
            row.outcome, row.processed_at = Outcome.DUPLICATE, now
            row.reason = f"same content as delivery #{row.duplicate_of_id}"
            row.save()
            return row
        _enqueue_on_commit(row.pk)
    return row


def _intake(request: HttpRequest, secret: str) -> HttpResponse:
    connection = intake_account()
    if not _secret_ok(secret, connection):
        return _reject("secret")
    remote_addr = request.META.get("REMOTE_ADDR")
    store: dict[str, Any] = {"headers": _headers(request, secret), "remote_addr": remote_addr}
    try:
        body = store["body"] = request.body
    except RequestDataTooBig:
        inbox_store(body=b"", account={}, items=[], invalid_reason="body too large, not stored", **store)
        return HttpResponse("invalid")
    try:
        data = parse_form(body)
    except FormParseError as exc:
        inbox_store(account={}, items=[], invalid_reason=f"unparseable body: {exc}", **store)
        return HttpResponse("invalid")
    account = data.get("account") if isinstance(data.get("account"), dict) else {}
    items = webhook_items(data)
    if not account:
        inbox_store(account={}, items=items, invalid_reason="no account in the body", **store)
        return HttpResponse("invalid")
    if not account_matches(account, connection):
        return _reject("account")
    if not items:
        inbox_store(account=account, items=[], invalid_reason="no entity items in the body", **store)
        return HttpResponse("invalid")
    inbox_store(account=account, items=items, **store)
    return HttpResponse("ok")


@csrf_exempt
@require_POST
def webhook_intake(request: HttpRequest, secret: str) -> HttpResponse:
    """``POST /amocrm/webhook/<secret>/``: 404 for a wrong secret or account, else 200 (stored, queued).

    An unexpected error (the database is down) is logged and answered 200: a non-2xx answer counts toward
    amoCRM disabling the hook, and a lost delivery is recovered by the reconciliation within one interval.
    """
    try:
        return _intake(request, secret)
    except Exception:
        logger.exception("webhook intake failed; the delivery is left to the reconciliation")
        try:
            counter_increment(key="intake:error")
        except Exception:
            logger.exception("webhook intake cannot count its failure")
        return HttpResponse("accepted")


# --- reverse stage map ---------------------------------------------------------------------------------


@dataclass
class ReverseStageMap:
    """(pipeline id, status id) -> order status, from the stage map read backwards.

    ``statuses`` holds the stages that map to exactly one order status by an active row; ``disabled`` the
    stages mapped only by inactive rows; ``conflicts`` the stages that several active rows claim (ignored
    until an admin fixes the map); ``implicit`` the stages mapped by the default "lost" rule of the forward
    direction (a cancelled order goes to 143 when "cancelled" has no row).
    """

    statuses: dict[tuple[int, int], str] = field(default_factory=dict)
    disabled: dict[tuple[int, int], list[str]] = field(default_factory=dict)
    conflicts: dict[tuple[int, int], list[str]] = field(default_factory=dict)
    implicit: set[tuple[int, int]] = field(default_factory=set)

    def lookup(self, pipeline_id: int, status_id: int) -> tuple[str | None, str]:
        """The order status for the stage, or None and the reason it is not applied."""
        stage = (pipeline_id, status_id)
        if stage in self.conflicts:
            return None, f"stage {pipeline_id}/{status_id} is mapped to several statuses: " + ", ".join(
                self.conflicts[stage]
            )
        if stage in self.statuses:
            return self.statuses[stage], ""
        if stage in self.disabled:
            return None, f"the mapping of stage {pipeline_id}/{status_id} is disabled"
        return None, f"stage {pipeline_id}/{status_id} is not mapped to an order status"


def _default_pipeline_id(rows: list[StageMapping]) -> int | None:
    active = [r for r in rows if r.is_active]
    new = next((r for r in active if r.order_status == Order.Status.NEW), None)
    pipeline = new or (active[0] if active else None)
    if pipeline is not None:
        return pipeline.pipeline_id
    return _int(getattr(settings, "AMO_PIPELINE_ID", ""))


def reverse_stage_map() -> ReverseStageMap:
    """The stage map read backwards, conflicts and disabled stages set apart (see ``ReverseStageMap``)."""
    rows = list(StageMapping.objects.all())
    claims: dict[tuple[int, int], list[str]] = {}
    result = ReverseStageMap()
    for row in rows:
        stage = (row.pipeline_id, row.status_id)
        if row.is_active:
            claims.setdefault(stage, []).append(row.order_status)
        else:
            result.disabled.setdefault(stage, []).append(row.order_status)
    if not any(r.order_status == Order.Status.CANCELLED for r in rows):
        pipeline_id = _default_pipeline_id(rows)
        if pipeline_id is not None and (pipeline_id, LOST_STATUS_ID) not in claims:
            claims[(pipeline_id, LOST_STATUS_ID)] = [Order.Status.CANCELLED]
            result.implicit.add((pipeline_id, LOST_STATUS_ID))
    for stage, statuses in claims.items():
        if len(statuses) == 1:
            result.statuses[stage] = statuses[0]
        else:
            result.conflicts[stage] = sorted(statuses)
    return result


# --- processing: the rules -----------------------------------------------------------------------------


@dataclass
class ItemResult:
    """What processing made of one item (stored in ``WebhookInbox.results``)."""

    outcome: str
    reason: str
    entity: str = "leads"
    action: str = ""
    id: int | None = None
    order_id: int | None = None
    http_calls: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LeadObservation:
    """A lead's stage as amoCRM reported it: by a webhook (as of ``modified``) or read from the API now."""

    lead_id: int
    pipeline_id: int
    status_id: int
    modified: int | None  # the lead's last_modified / updated_at, unix seconds
    source: str  # "webhook" | "api"
    fetched_at: float | None = None  # for "api": when we read it (unix, our clock)


class _VerifyNeeded(Exception):
    """The observation may predate our own push or tie with the last applied change: re-read the lead."""


def _unix(moment: datetime | None) -> float | None:
    return moment.timestamp() if moment is not None else None


def _local_status_changed_at(order: Order) -> float | None:
    """When the order's status last changed by anyone but amoCRM (a manager, the storefront, the system)."""
    change = (
        OrderStatusChange.objects.filter(order=order)
        .exclude(origin="amocrm")
        .order_by("-created_at", "-id")
        .first()
    )
    return _unix(change.created_at) if change else None


def _push_in_flight(sync: OrderSync) -> bool:
    if sync.state != OrderSync.State.SYNCING or sync.claimed_at is None:
        return False
    lease = float(settings.Q_CLUSTER.get("timeout") or 120)
    return (timezone.now() - sync.claimed_at).total_seconds() < lease


def _local_change_wins(sync: OrderSync, obs: LeadObservation) -> bool:
    """A status change made here and not pushed yet, no older than the observation (within the skew)."""
    local_at = _local_status_changed_at(sync.order)
    if local_at is None:
        return False
    pushed_at = _unix(sync.last_synced_at)
    if pushed_at is not None and pushed_at >= local_at:
        return False  # already pushed: an amoCRM stage differing from it is judged by rule 5
    return obs.modified is None or obs.modified <= local_at + CLOCK_SKEW


def _needs_verification(sync: OrderSync, obs: LeadObservation) -> bool:
    if obs.source == "api":
        pushed_at = _unix(sync.last_synced_at)
        return pushed_at is not None and obs.fetched_at is not None and obs.fetched_at < pushed_at
    if obs.modified is None:
        return True
    if sync.last_amo_modified is not None and obs.modified == sync.last_amo_modified:
        return True
    pushed_at = _unix(sync.last_synced_at)
    return pushed_at is not None and obs.modified <= pushed_at + CLOCK_SKEW


def _bump_modified(sync: OrderSync, modified: int | None, **fields: Any) -> None:
    if modified is not None and (sync.last_amo_modified is None or modified > sync.last_amo_modified):
        fields["last_amo_modified"] = modified
    if fields:
        OrderSync.objects.filter(pk=sync.pk).update(**fields)


def _decide_locked(sync: OrderSync, obs: LeadObservation, *, verified: bool) -> ItemResult:
    """The rules, in order, for a lead linked to ``sync`` (row locked by the caller)."""
    order = sync.order
    result = ItemResult(outcome=Outcome.IGNORED, reason="", id=obs.lead_id, order_id=order.pk)
    if not order.is_active:
        result.reason = "the order is deleted"
        return result
    if (
        obs.modified is not None
        and sync.last_amo_modified is not None
        and obs.modified < sync.last_amo_modified
    ):
        result.outcome = Outcome.STALE
        result.reason = f"last_modified {obs.modified} is older than {sync.last_amo_modified} already applied"
        return result
    if (obs.pipeline_id, obs.status_id) == (sync.pushed_pipeline_id, sync.pushed_status_id):
        _bump_modified(sync, obs.modified)
        result.outcome = Outcome.ECHO
        result.reason = f"stage {obs.pipeline_id}/{obs.status_id} is the one we pushed last"
        return result
    if _push_in_flight(sync):
        result.outcome = Outcome.STALE
        result.reason = (
            "a push of this order was in flight and overwrites the stage; reconciliation re-checks"
        )
        return result
    if _local_change_wins(sync, obs):
        result.outcome = Outcome.STALE
        result.reason = "the order's status was changed here after this amoCRM change; our push wins"
        return result
    if not verified and _needs_verification(sync, obs):
        raise _VerifyNeeded
    status, why = reverse_stage_map().lookup(obs.pipeline_id, obs.status_id)
    if status is None:
        result.reason = why
        return result
    stage_fields = {"pushed_pipeline_id": obs.pipeline_id, "pushed_status_id": obs.status_id}
    if order.status == status:
        _bump_modified(sync, obs.modified, **stage_fields)
        result.outcome = Outcome.ECHO
        result.reason = f"the order already has status {status}"
        return result
    order_set_status(order=order, status=status, origin="amocrm", actor=ACTOR)
    # Recorded as pushed: the sync engine then sees nothing to send back for this stage.
    _bump_modified(sync, obs.modified, **stage_fields)
    result.outcome = Outcome.APPLIED
    result.reason = f"status {status} from stage {obs.pipeline_id}/{obs.status_id}"
    return result


def _observe_once(obs: LeadObservation, *, verified: bool) -> ItemResult:
    with sqlite_writer_turn(), transaction.atomic():
        syncs = list(
            OrderSync.objects.select_for_update().select_related("order").filter(lead_id=obs.lead_id)[:2]
        )
        if not syncs:
            return ItemResult(
                outcome=Outcome.IGNORED, reason="no order is linked to this lead", id=obs.lead_id
            )
        if len(syncs) > 1:
            return ItemResult(
                outcome=Outcome.IGNORED, reason="several orders are linked to this lead", id=obs.lead_id
            )
        return _decide_locked(syncs[0], obs, verified=verified)


def _lead_client() -> Any:
    from console.amocrm.client import client_for_connection

    return client_for_connection()


def _fetch_observation(lead_id: int, client_factory: Callable[[], Any]) -> LeadObservation | None:
    fetched_at = time.time()
    lead = client_factory().get_lead(lead_id)
    if not lead:
        return None
    return LeadObservation(
        lead_id=lead_id,
        pipeline_id=int(lead["pipeline_id"]),
        status_id=int(lead["status_id"]),
        modified=_int(lead.get("updated_at")),
        source="api",
        fetched_at=fetched_at,
    )


def lead_observe(obs: LeadObservation, *, client_factory: Callable[[], Any] | None = None) -> ItemResult:
    """Apply what amoCRM says about a lead's stage to its order, by these rules in order:

    1. no order linked to the lead, or the order is deleted -> ``ignored``;
    2. ``modified`` older than ``OrderSync.last_amo_modified`` (newest change applied or seen) -> ``stale``;
    3. the stage is the one recorded as pushed (our push, or a stage applied from amoCRM) -> ``echo``;
       ``last_amo_modified`` moves forward, nothing else changes;
    4. a push of the order is in flight (the sync engine claimed it) -> ``stale``: the push overwrites the
       stage in amoCRM, and a push without a stage bumps the lead so the reconciliation re-checks it;
       likewise when the order's status was changed here (not by amoCRM), not pushed yet, and not older
       than ``modified`` (within the skew): our change is newer and the sync engine pushes it;
    5. the observation may predate our last push (a hook no later than ``last_synced_at`` + skew, one without
       a time, one tying with the last applied time; an API read made before our last push) -> the lead is
       re-read once from amoCRM and the fresh read is judged instead; if it shows the pushed stage, the hook
       was superseded by our push -> ``stale``;
    6. the stage maps to no status, to several, or only by a disabled row -> ``ignored`` with the reason;
    7. the order already has that status -> ``echo`` (the stage is recorded as pushed);
    8. otherwise the status is applied with ``order_set_status(origin="amocrm")`` and the stage recorded as
       pushed with ``last_amo_modified`` -> ``applied``. Nothing is pushed back: the sync receivers skip
       amoCRM-origin status changes, and the recorded stage makes any later push a no-op for the stage.
    """
    try:
        return _observe_once(obs, verified=obs.source == "api" and obs.fetched_at is None)
    except _VerifyNeeded:
        pass
    fresh = _fetch_observation(obs.lead_id, client_factory or _lead_client)
    if fresh is None:
        return ItemResult(
            outcome=Outcome.IGNORED, reason="the lead no longer exists in amoCRM", id=obs.lead_id
        )
    result = _observe_once(fresh, verified=True)
    result.http_calls += 1
    if result.outcome == Outcome.ECHO and obs.source == "webhook":
        result.outcome = Outcome.STALE
        result.reason = "superseded by our later push: amoCRM shows the stage we pushed"
    elif result.outcome == Outcome.APPLIED:
        result.reason += " (confirmed by re-reading the lead)"
    return result


def lead_mark_deleted(*, lead_id: int, deleted: bool = True) -> ItemResult:
    """``delete_lead``: the order's sync state records that the deal was deleted in amoCRM (nothing else)."""
    now = timezone.now() if deleted else None
    sync = OrderSync.objects.filter(lead_id=lead_id).first()
    if sync is None:
        return ItemResult(outcome=Outcome.IGNORED, reason="no order is linked to this lead", id=lead_id)
    OrderSync.objects.filter(pk=sync.pk).update(lead_deleted_at=now)
    reason = "the deal was deleted in amoCRM" if deleted else "the deal was restored in amoCRM"
    return ItemResult(outcome=Outcome.APPLIED, reason=reason, id=lead_id, order_id=sync.order_id)


def item_process(item: WebhookItem, *, client_factory: Callable[[], Any] | None = None) -> ItemResult:
    """Dispatch one webhook item by entity and action; only leads change anything."""
    if item.entity != "leads":
        result = ItemResult(outcome=Outcome.IGNORED, reason=f"{item.entity} events are not synced")
    elif item.id is None:
        result = ItemResult(outcome=Outcome.INVALID, reason="the item has no lead id")
    elif item.action in ("delete", "restore"):
        result = lead_mark_deleted(lead_id=item.id, deleted=item.action == "delete")
        if item.action == "restore" and item.status_id and item.pipeline_id:
            result = _observe_item(item, client_factory)
    elif item.action not in _STATE_ACTIONS:
        result = ItemResult(outcome=Outcome.IGNORED, reason=f"leads[{item.action}] events are not synced")
    elif item.status_id is None or item.pipeline_id is None:
        result = ItemResult(outcome=Outcome.IGNORED, reason="the item carries no pipeline/stage")
    else:
        result = _observe_item(item, client_factory)
    result.entity, result.action, result.id = item.entity, item.action, item.id
    return result


def _observe_item(item: WebhookItem, client_factory: Callable[[], Any] | None) -> ItemResult:
    obs = LeadObservation(
        lead_id=int(item.id or 0),
        pipeline_id=int(item.pipeline_id or 0),
        status_id=int(item.status_id or 0),
        modified=item.last_modified,
        source="webhook",
    )
    return lead_observe(obs, client_factory=client_factory)


def _summarise(results: list[ItemResult]) -> tuple[str, str, int | None]:
    if not results:
        return Outcome.INVALID, "no entity items in the body", None
    best = min(results, key=lambda r: _OUTCOME_RANK.index(r.outcome) if r.outcome in _OUTCOME_RANK else 99)
    touched = next((r.order_id for r in results if r.outcome == Outcome.APPLIED and r.order_id), None)
    order_id = touched or next((r.order_id for r in results if r.order_id), None)
    if len(results) == 1:
        return best.outcome, best.reason, order_id
    counts: dict[str, int] = {}
    for r in results:
        counts[r.outcome] = counts.get(r.outcome, 0) + 1
    return best.outcome, "; ".join(f"{n} {o}" for o, n in counts.items()), order_id


def _log_applied(row: WebhookInbox, results: list[ItemResult], started: float) -> None:
    for r in results:
        if r.outcome == Outcome.APPLIED and r.order_id and r.action != "delete":
            SyncLog.objects.create(
                order_id=r.order_id,
                event="webhook",
                action=f"amocrm_{r.action}"[:40],
                trigger="webhook",
                duration_ms=int((time.monotonic() - started) * 1000),
                outcome=SyncLog.Outcome.OK,
                http_calls=r.http_calls,
                lead_id=r.id,
            )


def inbox_process(
    *, inbox_id: int, replay: bool = False, client_factory: Callable[[], Any] | None = None
) -> WebhookInbox:
    """Process one stored delivery and record its outcome; a task delivered twice processes it once.

    ``replay=True`` processes the row again whatever it holds (a duplicate, invalid or failed row too); the
    rules make a replay of an applied row an ``echo``. An unexpected error ends as ``failed`` with the
    (redacted) reason, never as an exception for the cluster.
    """
    if not replay:
        deliveries_quiet_wait()
    row = WebhookInbox.objects.get(pk=inbox_id)
    if row.outcome != Outcome.PENDING and not replay:
        return row
    started = time.monotonic()
    results: list[ItemResult] = []
    try:
        items = webhook_items(parse_form(bytes(row.body)))
        results = [item_process(item, client_factory=client_factory) for item in items]
        outcome, reason, order_id = _summarise(results)
    except FormParseError as exc:
        outcome, reason, order_id = Outcome.INVALID, f"unparseable body: {exc}", None
    except Exception as exc:
        logger.exception("webhook #%s failed", inbox_id)
        outcome, reason = Outcome.FAILED, redact(f"{type(exc).__name__}: {exc}")[:2000]
        order_id = next((r.order_id for r in results if r.order_id), None)
    with sqlite_writer_turn(), transaction.atomic():
        _log_applied(row, results, started)
        WebhookInbox.objects.filter(pk=inbox_id).update(
            outcome=outcome,
            reason=reason,
            results=[r.as_dict() for r in results],
            order_id=order_id,
            attempts=F("attempts") + 1,
            processed_at=timezone.now(),
        )
    row.refresh_from_db()
    return row


def inbox_requeue_pending(*, older_than: timedelta = timedelta(minutes=5), limit: int = 500) -> int:
    """Enqueue again the rows still ``pending`` after ``older_than`` (a task lost with its broker or worker);
    returns how many. Processing a row twice is harmless (see ``inbox_process``)."""
    cutoff = timezone.now() - older_than
    ids = list(
        WebhookInbox.objects.filter(outcome=Outcome.PENDING, received_at__lt=cutoff)
        .order_by("id")
        .values_list("id", flat=True)[:limit]
    )
    for inbox_id in ids:
        _enqueue(inbox_id)
    return len(ids)


def inbox_replay(*, inbox_id: int) -> WebhookInbox:
    """Process a stored delivery again now (support's "replay" button)."""
    return inbox_process(inbox_id=inbox_id, replay=True)


# --- retention ---------------------------------------------------------------------------------------------

INBOX_RETENTION = timedelta(days=90)
INBOX_PRUNE_BATCH = 500
INBOX_PRUNE_SCHEDULE = "AmoCRM webhook inbox prune"
INBOX_PRUNE_TASK = "console.amocrm.tasks.webhook_inbox_prune_task"


def inbox_prune(*, older_than: timedelta = INBOX_RETENTION, batch: int = INBOX_PRUNE_BATCH) -> int:
    """Delete deliveries received more than ``older_than`` ago, except ``failed`` ones (support has not dealt
    with them) and ``pending`` ones; returns how many. Each batch of ``batch`` rows is its own short write,
    so deliveries arriving meanwhile wait for one batch at most, not for the whole prune."""
    cutoff = timezone.now() - older_than
    old = WebhookInbox.objects.filter(received_at__lt=cutoff).exclude(
        outcome__in=(Outcome.FAILED, Outcome.PENDING)
    )
    deleted = 0
    while ids := list(old.order_by("received_at", "id").values_list("id", flat=True)[:batch]):
        with sqlite_writer_turn(), transaction.atomic():
            count, _ = WebhookInbox.objects.filter(pk__in=ids).delete()
        deleted += count
    return deleted


def inbox_prune_schedule_ensure() -> bool:
    """Create the daily inbox prune schedule once (idempotent); True when it was created now."""
    from django_q.models import Schedule

    return schedule_once(
        name=INBOX_PRUNE_SCHEDULE,
        func=INBOX_PRUNE_TASK,
        first_run_in=timedelta(hours=1),
        schedule_type=Schedule.DAILY,
    )
