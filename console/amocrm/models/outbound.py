"""Orders -> deals: where each order stands in amoCRM, the contact and company of each customer, the catalog
element of each product, and the sync log."""

from __future__ import annotations

import json
from typing import Any

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from console.orders.models import Order

# The parts of ``OrderSync.pushed``: attribute -> (key in the JSON, value while absent).
PUSHED: dict[str, tuple[str, Any]] = {
    "contact_id": ("contact_id", None),  # the deal's contact and company as we linked them
    "company_id": ("company_id", None),
    "pushed_pipeline_id": ("pipeline_id", None),  # the stage we pushed (or applied from amoCRM)
    "pushed_status_id": ("status_id", None),
    "payload_hash": ("hash", ""),  # hash of everything pushed (nothing changed: nothing to send)
    "pushed_lead_hash": ("lead_hash", ""),  # hash of the lead fields pushed
    "pushed_products": ("products", {}),  # catalog element id -> quantity
    "pushed_payment": ("payment", {}),  # the payment the lead's fields last got from us or we took from them
    "pushed_summary": ("summary", {}),  # the order as the lead's notes last described it
    "note_added": ("note_added", False),  # the creation note is on the lead
}


class PushedMerge(models.Func):
    """``pushed`` with some of its keys replaced, in one UPDATE (other writers' keys stay as they are)."""

    output_field = models.JSONField()

    def __init__(self, parts: dict[str, Any]) -> None:
        self.parts = parts
        super().__init__(models.F("pushed"))

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        column, params = compiler.compile(self.source_expressions[0])
        sets = ", ".join("%s, json(%s)" for _ in self.parts)
        values = [v for key, value in self.parts.items() for v in (f"$.{key}", json.dumps(value))]
        return f"json_set(COALESCE({column}, '{{}}'), {sets})", [*params, *values]

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        column, params = compiler.compile(self.source_expressions[0])
        return f"(COALESCE({column}, '{{}}'::jsonb) || %s::jsonb)", [*params, json.dumps(self.parts)]


class OrderSyncQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> int:
        """As Django's, and the parts of ``pushed`` (``PUSHED``) by their attribute names, merged."""
        parts = {PUSHED[name][0]: kwargs.pop(name) for name in list(kwargs) if name in PUSHED}
        if parts:
            kwargs["pushed"] = PushedMerge(parts)
        return super().update(**kwargs)


def _json_part(column: str, key: str, default: Any) -> property:
    """A property reading and writing ``key`` of the JSON object in ``column`` (``default`` while absent)."""

    def get(sync: OrderSync) -> Any:
        value = (getattr(sync, column) or {}).get(key)
        return default if value is None else value

    def put(sync: OrderSync, value: Any) -> None:
        setattr(sync, column, {**(getattr(sync, column) or {}), key: value})

    return property(get, put)


def _pushed_part(name: str) -> property:
    return _json_part("pushed", *PUSHED[name])


def _error_title() -> property:
    """``error["title"]``; setting one on a row with no kind gives it "other" (an error always has a kind,
    as the migration gave old rows)."""
    title = _json_part("error", "title", "")

    def put(sync: OrderSync, value: str) -> None:
        title.fset(sync, value)
        if value and not sync.error_kind:
            sync.error_kind = "other"

    return property(title.fget, put)


class OrderSync(models.Model):
    """Where one order stands in amoCRM: the linked lead/contact/company, the state and the last error.

    Concurrency: a worker *claims* the order by taking its lease (``console.amocrm.leases``, kind ``order``)
    and setting the row to ``syncing`` (see ``console.amocrm.outbound.engine``);
    ``task_pending`` says a sync task is already enqueued (bursts collapse into it) and ``change_seq`` counts
    changes so a change that arrives during a sync queues one more sync of the latest state.
    """

    class State(models.TextChoices):
        NOT_SYNCED = "not_synced", _("Not synced")
        QUEUED = "queued", _("Queued")
        SYNCING = "syncing", _("Syncing")
        SYNCED = "synced", _("Synced")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Skipped")
        UNLINKED = "unlinked", _("Unlinked")

    order = models.OneToOneField(
        Order, on_delete=models.CASCADE, related_name="amo_sync", verbose_name=_("order")
    )
    lead_id = models.BigIntegerField(_("lead id"), null=True, blank=True, db_index=True)
    state = models.CharField(
        _("sync state"), max_length=20, choices=State.choices, default=State.NOT_SYNCED, db_index=True
    )
    last_synced_at = models.DateTimeField(_("last synced"), null=True, blank=True)
    # What the deal last got from us (or we took from it), one JSON object: see ``PUSHED`` for its parts,
    # each also readable and settable as an attribute of its own (``sync.pushed_status_id``), and written
    # part by part (``OrderSync.objects.filter(...).update(pushed_status_id=...)`` merges that part only).
    pushed = models.JSONField(_("last pushed"), default=dict, blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_retry_at = models.DateTimeField(_("next retry at"), null=True, blank=True, db_index=True)
    # The last failure: its kind (``api.errors.ERROR_KINDS``; "" while none) and amoCRM's own answer
    # (``{"title", "detail", "status", "request_id"}``, redacted), which support reads as the details.
    error_kind = models.CharField(_("kind of error"), max_length=20, blank=True, db_index=True)
    error = models.JSONField(_("last error"), default=dict, blank=True)
    amo_pipeline_id = models.BigIntegerField(_("pipeline in amoCRM"), null=True, blank=True)
    amo_status_id = models.BigIntegerField(_("stage in amoCRM"), null=True, blank=True)
    amo_seen_at = models.DateTimeField(_("stage seen in amoCRM"), null=True, blank=True)
    lead_deleted_at = models.DateTimeField(_("lead deleted in AmoCRM"), null=True, blank=True)
    last_amo_modified = models.BigIntegerField(_("last AmoCRM change applied (unix)"), null=True, blank=True)
    task_pending = models.BooleanField(default=False, help_text=_("a sync task is enqueued"))
    change_seq = models.PositiveIntegerField(default=0, help_text=_("changes seen since the row was created"))
    pending_trigger = models.CharField(
        max_length=160, blank=True, help_text=_("who asked for the queued sync")
    )
    pending_event = models.CharField(max_length=40, blank=True, help_text=_("what happened to the order"))
    previous_lead_id = models.BigIntegerField(
        _("deal before unlinking"),
        null=True,
        blank=True,
        help_text=_("the deal this order was unlinked from"),
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = OrderSyncQuerySet.as_manager()

    class Meta:
        verbose_name = _("order sync")
        verbose_name_plural = _("order syncs")
        ordering = ["-updated_at"]
        indexes = [
            # Every column the console's display state reads (``console.web.sync_state``), so the dashboard's
            # counts and the orders list's state filters read this index instead of the wide rows. The order
            # first: a count over all rows then reads the orders in their own order, one pass.
            models.Index(
                fields=[
                    "order",
                    "state",
                    "task_pending",
                    "lead_id",
                    "amo_pipeline_id",
                    "amo_status_id",
                    "next_retry_at",
                    "error_kind",
                ],
                name="ordersync_display_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.state}"

    @property
    def is_retry_scheduled(self) -> bool:
        return self.state == self.State.QUEUED and self.next_retry_at is not None

    contact_id = _pushed_part("contact_id")
    company_id = _pushed_part("company_id")
    pushed_pipeline_id = _pushed_part("pushed_pipeline_id")
    pushed_status_id = _pushed_part("pushed_status_id")
    payload_hash = _pushed_part("payload_hash")
    pushed_lead_hash = _pushed_part("pushed_lead_hash")
    pushed_products = _pushed_part("pushed_products")
    pushed_payment = _pushed_part("pushed_payment")
    pushed_summary = _pushed_part("pushed_summary")
    note_added = _pushed_part("note_added")

    def error_clear(self) -> None:
        self.error_kind, self.error = "", {}

    # The parts of ``error`` by name (read by the pages; set by ``outbound.job.sync_record_error``).
    last_error_title = _error_title()
    last_error_detail = _json_part("error", "detail", "")
    last_error_status = _json_part("error", "status", None)
    last_error_request_id = _json_part("error", "request_id", "")

    @property
    def last_error_kind(self) -> str:
        return self.error_kind

    @last_error_kind.setter
    def last_error_kind(self, value: str) -> None:
        self.error_kind = value


class CustomerAmoLink(models.Model):
    """The amoCRM contact (and company) of a customer, remembered so repeat customers need no search.

    A short lease (``console.amocrm.leases``, kind ``contact``) is taken while one worker finds or creates the
    contact, so two orders of a new customer synced at once never create two contacts; the run holding it
    keeps it alive with its heartbeat; a contact create whose answer was lost is an ``UnconfirmedCreate``
    (kind ``contact``). ``update_pending`` says an edit of the customer or its company
    waits to be pushed (``update_seq`` counts the edits, so one made during a push is not lost).
    """

    customer = models.OneToOneField(
        "customers.Customer", on_delete=models.CASCADE, related_name="amo_link", verbose_name=_("customer")
    )
    contact_id = models.BigIntegerField(_("contact id"), null=True, blank=True, db_index=True)
    company_id = models.BigIntegerField(_("company id"), null=True, blank=True)
    contact_hash = models.CharField(max_length=64, blank=True)
    company_hash = models.CharField(max_length=64, blank=True)
    update_pending = models.BooleanField(default=False, db_index=True)
    update_seq = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("customer link")
        verbose_name_plural = _("customer links")

    def __str__(self) -> str:
        return f"{self.customer_id} -> {self.contact_id}"


class CompanyAmoLink(models.Model):
    """The amoCRM company of one of our companies, found or created once for all its customers.

    The worker finding or creating it holds its lease (``console.amocrm.leases``, kind ``company``, kept
    alive by the run's heartbeat), so two orders of one new company synced at once never create two
    companies; a company create whose answer was lost is an ``UnconfirmedCreate`` (kind ``company``).
    """

    company = models.OneToOneField(
        "customers.Company", on_delete=models.CASCADE, related_name="amo_link", verbose_name=_("company")
    )
    amo_id = models.BigIntegerField(_("amoCRM company id"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("company link")
        verbose_name_plural = _("company links")

    def __str__(self) -> str:
        return f"{self.company_id} -> {self.amo_id}"


class UnconfirmedCreate(models.Model):
    """A create sent to amoCRM whose answer has not confirmed it yet (``amocrm.outbound.unconfirmed``).

    Written before the call and deleted when the new id is stored or amoCRM answered an error; a row left by
    a lost answer (a timeout, a dropped connection, a crash) means the entity may exist: nobody creates it
    again before looking it up, and nobody looks it up before it has settled
    (``AMOCRM_UNCONFIRMED_SETTLE_SECONDS`` after ``sent_at``). ``key`` is the order id (a deal, its note),
    the customer id (a contact), the company id (a company) or the product id (a catalog element); ``data``
    holds what the look-up needs (a note's hash).
    """

    class Kind(models.TextChoices):
        LEAD = "lead", _("Deal")
        CONTACT = "contact", _("Contact")
        COMPANY = "company", _("Company")
        NOTE = "note", _("Note")
        ELEMENT = "element", _("Catalog element")
        TASK = "task", _("Task")

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    key = models.BigIntegerField(_("key"))
    sent_at = models.DateTimeField(_("sent"))
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("unconfirmed create")
        verbose_name_plural = _("unconfirmed creates")
        constraints = [models.UniqueConstraint(fields=["kind", "key"], name="unconfirmed_kind_key_unique")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.key} sent {self.sent_at:%H:%M:%S}"


class CatalogElementLink(models.Model):
    """A product's element in the amoCRM products catalog, by SKU, with the hash of what was pushed."""

    sku = models.CharField(_("SKU"), max_length=64, unique=True)
    catalog_id = models.BigIntegerField(_("catalog id"))
    element_id = models.BigIntegerField(_("element id"))
    payload_hash = models.CharField(max_length=64, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("catalog element")
        verbose_name_plural = _("catalog elements")

    def __str__(self) -> str:
        return f"{self.sku} -> {self.element_id}"


class SyncLog(models.Model):
    """One sync attempt (or one scheduled run): what started it, how long, how many calls, what came out."""

    class Outcome(models.TextChoices):
        OK = "ok", _("OK")
        FAILED = "failed", _("Failed")
        RETRY = "retry", _("Will retry")
        SKIPPED = "skipped", _("Skipped")
        NOOP = "noop", _("Nothing to do")

    order = models.ForeignKey(
        Order,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="amo_sync_log",
        verbose_name=_("order"),
    )
    event = models.CharField(_("event"), max_length=40, blank=True)
    action = models.CharField(_("action"), max_length=40, blank=True)
    trigger = models.CharField(_("trigger"), max_length=160, blank=True)
    started_at = models.DateTimeField(_("started"), default=timezone.now, db_index=True)
    duration_ms = models.PositiveIntegerField(_("duration, ms"), default=0)
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices, db_index=True)
    http_calls = models.PositiveIntegerField(_("HTTP calls"), default=0)
    lead_id = models.BigIntegerField(_("lead id"), null=True, blank=True)
    contact_id = models.BigIntegerField(_("contact id"), null=True, blank=True)
    company_id = models.BigIntegerField(_("company id"), null=True, blank=True)
    error_title = models.CharField(_("error"), max_length=500, blank=True)
    error_detail = models.TextField(_("error detail"), blank=True)
    error_status = models.IntegerField(_("HTTP status"), null=True, blank=True)
    request_id = models.CharField(_("AmoCRM request id"), max_length=100, blank=True)
    error_kind = models.CharField(_("kind of error"), max_length=20, blank=True)
    resolved = models.BooleanField(_("resolved"), default=False)
    # The run the attempt was part of (its lease holder name): its requests are the ``SyncExchange`` rows of
    # this run, stored once for all the orders one batch request carried.
    run = models.CharField(_("run"), max_length=32, blank=True)

    class Meta:
        verbose_name = _("sync log entry")
        verbose_name_plural = _("sync log")
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["outcome", "resolved"]),
            # The dashboard's week of attempts per hour reads this index alone, not the rows with their texts.
            models.Index(
                fields=["started_at", "outcome", "event", "error_kind"], name="synclog_outcomes_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.started_at:%Y-%m-%d %H:%M:%S} {self.action} {self.outcome}"


class SyncExchange(models.Model):
    """One request a sync run sent to amoCRM and amoCRM's answer, redacted and capped
    (``console.amocrm.api.exchanges``), kept ``AMOCRM_EXCHANGE_DAYS`` days for support.

    A batch request concerns every order of the run: it is stored once, under the run (``SyncLog.run``)."""

    run = models.CharField(_("run"), max_length=32, db_index=True)
    seq = models.PositiveIntegerField(_("number in the run"), default=0)
    at = models.DateTimeField(_("sent"), default=timezone.now, db_index=True)
    method = models.CharField(_("method"), max_length=10)
    path = models.CharField(_("path"), max_length=500)
    status = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    request_body = models.TextField(_("what was sent"), blank=True)
    response_body = models.TextField(_("what AmoCRM answered"), blank=True)
    request_bytes = models.PositiveIntegerField(_("size sent, bytes"), default=0)
    response_bytes = models.PositiveIntegerField(_("size answered, bytes"), default=0)
    request_id = models.CharField(_("AmoCRM request id"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("sync exchange")
        verbose_name_plural = _("sync exchanges")
        ordering = ["run", "seq"]

    def __str__(self) -> str:
        return f"{self.run}#{self.seq} {self.method} {self.path} -> {self.status}"


class DetachedLead(models.Model):
    """A deal no longer attached to an order, to be told so in amoCRM by the cluster: the order was deleted
    outright (the deal goes to the "lost" stage, with a note) or unlinked by a manager (a note).

    The order's sync row may be gone by then (a hard delete takes it along), so the deal id and the order's
    number wait here until the deal is done with; retried on the sync schedule like an order.
    """

    class Reason(models.TextChoices):
        DELETED = "deleted", _("Order deleted")
        UNLINKED = "unlinked", _("Unlinked by a manager")

    lead_id = models.BigIntegerField(_("lead id"))
    order_number = models.CharField(_("order number"), max_length=32, blank=True)
    reason = models.CharField(_("reason"), max_length=10, choices=Reason.choices)
    actor = models.CharField(_("who"), max_length=160, blank=True)
    requested_at = models.DateTimeField(_("requested"), default=timezone.now)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_retry_at = models.DateTimeField(_("next retry at"), null=True, blank=True)
    done_at = models.DateTimeField(_("done"), null=True, blank=True, db_index=True)
    last_error = models.TextField(_("last error"), blank=True)

    class Meta:
        ordering = ["-requested_at"]
        verbose_name = _("detached deal")
        verbose_name_plural = _("detached deals")

    def __str__(self) -> str:
        return f"{self.order_number or '?'} -> {self.lead_id} ({self.reason})"
