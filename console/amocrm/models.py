"""Models of the AmoCRM integration.

Sections: the connection (credentials, encrypted tokens, circuit state, ids created by account setup), the
local cache of pipelines and stages, and the stage map. Later sections (sync state, sync log, webhook inbox)
are appended below by their owners.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from console.amocrm.crypto import EncryptedTextField
from console.orders.models import Order

# --- Connection (owner: client) ---------------------------------------------------------------------------

WON_STATUS_ID = 142
LOST_STATUS_ID = 143


def new_webhook_secret() -> str:
    return secrets.token_urlsafe(32)


class AmoConnection(models.Model):
    """The one connection of this installation to an amoCRM account (row ``pk=1``, see :meth:`get_solo`).

    Secrets are stored encrypted (``EncryptedTextField``) and never rendered or logged. ``state`` is the
    circuit breaker: the client makes calls only while it is ``connected``.
    """

    class State(models.TextChoices):
        NOT_CONNECTED = "not_connected", _("Not connected")
        CONNECTED = "connected", _("Connected")
        BLOCKED = "blocked", _("Blocked by AmoCRM")
        UNPAID = "unpaid", _("Account unpaid")
        REVOKED = "revoked", _("Access revoked")
        ERROR = "error", _("Error")

    base_url = models.CharField(
        _("account host"), max_length=255, blank=True, help_text=_("https://subdomain.amocrm.ru")
    )
    client_id = models.CharField(_("integration id"), max_length=255, blank=True)
    client_secret = EncryptedTextField(_("secret key"), blank=True)
    redirect_uri = models.CharField(_("redirect URI"), max_length=500, blank=True)

    access_token = EncryptedTextField(blank=True)
    refresh_token = EncryptedTextField(blank=True)
    expires_at = models.DateTimeField(_("access token expires"), null=True, blank=True)
    token_refreshed_at = models.DateTimeField(_("tokens issued"), null=True, blank=True)
    long_lived = models.BooleanField(_("long-lived token"), default=False)

    account_id = models.BigIntegerField(_("account id"), null=True, blank=True)
    subdomain = models.CharField(_("subdomain"), max_length=255, blank=True)
    account_name = models.CharField(_("account name"), max_length=255, blank=True)

    state = models.CharField(_("state"), max_length=20, choices=State.choices, default=State.NOT_CONNECTED)
    state_detail = models.TextField(_("state detail"), blank=True)
    state_changed_at = models.DateTimeField(_("state changed"), null=True, blank=True)
    last_success_at = models.DateTimeField(_("last successful call"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    last_error_at = models.DateTimeField(_("last error at"), null=True, blank=True)

    oauth_state = models.CharField(max_length=128, blank=True, editable=False)
    webhook_secret = EncryptedTextField(default=new_webhook_secret)

    lead_field_ids = models.JSONField(
        _("lead custom field ids"), default=dict, blank=True, help_text=_("our field name -> amoCRM field id")
    )
    products_catalog_id = models.BigIntegerField(_("products catalog id"), null=True, blank=True)
    product_sku_field_id = models.BigIntegerField(_("SKU field id"), null=True, blank=True)
    product_price_field_id = models.BigIntegerField(_("price field id"), null=True, blank=True)
    webhook_destination_hint = models.CharField(
        _("webhook subscribed"),
        max_length=255,
        blank=True,
        help_text=_("redacted destination of our webhook"),
    )
    setup_completed_at = models.DateTimeField(_("account setup completed"), null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("AmoCRM connection")
        verbose_name_plural = _("AmoCRM connection")

    def __str__(self) -> str:
        return self.subdomain or self.base_url or "AmoCRM"

    @classmethod
    def get_solo(cls) -> AmoConnection:
        """The installation's connection row, created empty on first use."""
        connection, _created = cls.objects.get_or_create(pk=1)
        return connection

    @property
    def is_connected(self) -> bool:
        return self.state == self.State.CONNECTED

    @property
    def has_tokens(self) -> bool:
        return bool(self.access_token)

    def token_expires_within(self, delta: timedelta) -> bool:
        """True when the access token is missing or expires within ``delta`` (never without an expiry)."""
        if not self.access_token:
            return True
        return self.expires_at is not None and self.expires_at <= timezone.now() + delta


class Pipeline(models.Model):
    """Local cache of an amoCRM pipeline (loaded by account setup); ``amo_id`` is amoCRM's id."""

    amo_id = models.BigIntegerField(_("AmoCRM id"), unique=True)
    name = models.CharField(_("name"), max_length=255)
    sort = models.IntegerField(default=0)
    is_main = models.BooleanField(_("main"), default=False)
    is_archive = models.BooleanField(_("archived"), default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sort", "amo_id"]
        verbose_name = _("pipeline")
        verbose_name_plural = _("pipelines")

    def __str__(self) -> str:
        return self.name


class PipelineStatus(models.Model):
    """Local cache of a pipeline stage. 142 (won) and 143 (lost) exist in every pipeline."""

    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="statuses")
    status_id = models.BigIntegerField(_("AmoCRM status id"))
    name = models.CharField(_("name"), max_length=255)
    sort = models.IntegerField(default=0)
    type = models.IntegerField(default=0, help_text=_("1 = unsorted, 0 = normal"))
    color = models.CharField(max_length=20, blank=True)

    class Meta:
        ordering = ["pipeline", "sort", "status_id"]
        constraints = [
            models.UniqueConstraint(fields=["pipeline", "status_id"], name="pipelinestatus_once_per_pipeline")
        ]
        verbose_name = _("pipeline stage")
        verbose_name_plural = _("pipeline stages")

    def __str__(self) -> str:
        return f"{self.pipeline.name}: {self.name}"


class StageMapping(models.Model):
    """Order status -> amoCRM pipeline stage, editable by an admin; seeded by account setup."""

    order_status = models.CharField(
        _("order status"), max_length=20, choices=Order.Status.choices, unique=True
    )
    pipeline_id = models.BigIntegerField(_("pipeline id"))
    status_id = models.BigIntegerField(_("status id"))
    is_active = models.BooleanField(_("active"), default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["order_status"]
        verbose_name = _("stage mapping")
        verbose_name_plural = _("stage map")

    def __str__(self) -> str:
        return f"{self.order_status} -> {self.pipeline_id}/{self.status_id}"


# --- end of section "client" ------------------------------------------------------------------------------


# --- Sync state and sync log (owner: sync) ----------------------------------------------------------------


class OrderSync(models.Model):
    """Where one order stands in amoCRM: the linked lead/contact/company, the state and the last error.

    Concurrency: a worker *claims* the row by a compare-and-set to ``syncing`` (see ``console.amocrm.sync``);
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
    contact_id = models.BigIntegerField(_("contact id"), null=True, blank=True)
    company_id = models.BigIntegerField(_("company id"), null=True, blank=True)
    state = models.CharField(
        _("sync state"), max_length=20, choices=State.choices, default=State.NOT_SYNCED, db_index=True
    )
    last_synced_at = models.DateTimeField(_("last synced"), null=True, blank=True)
    pushed_pipeline_id = models.BigIntegerField(_("pipeline pushed"), null=True, blank=True)
    pushed_status_id = models.BigIntegerField(_("stage pushed"), null=True, blank=True)
    payload_hash = models.CharField(_("hash of the last pushed payload"), max_length=64, blank=True)
    pushed_lead_hash = models.CharField(
        max_length=64, blank=True, help_text=_("hash of the lead fields pushed")
    )
    pushed_products = models.JSONField(
        default=dict, blank=True, help_text=_("catalog element id -> quantity")
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_retry_at = models.DateTimeField(_("next retry at"), null=True, blank=True, db_index=True)
    last_error_title = models.CharField(_("last error"), max_length=500, blank=True)
    last_error_detail = models.TextField(_("last error detail"), blank=True)
    last_error_status = models.IntegerField(_("last error HTTP status"), null=True, blank=True)
    last_error_request_id = models.CharField(_("AmoCRM request id"), max_length=100, blank=True)
    lead_deleted_at = models.DateTimeField(_("lead deleted in AmoCRM"), null=True, blank=True)
    last_amo_modified = models.BigIntegerField(_("last AmoCRM change applied (unix)"), null=True, blank=True)
    task_pending = models.BooleanField(default=False, help_text=_("a sync task is enqueued"))
    change_seq = models.PositiveIntegerField(default=0, help_text=_("changes seen since the row was created"))
    synced_seq = models.PositiveIntegerField(
        default=0, help_text=_("change_seq the running/last sync started at")
    )
    pending_trigger = models.CharField(
        max_length=160, blank=True, help_text=_("who asked for the queued sync")
    )
    pending_event = models.CharField(max_length=40, blank=True, help_text=_("what happened to the order"))
    claimed_at = models.DateTimeField(null=True, blank=True, help_text=_("when a worker started syncing"))
    create_pending = models.BooleanField(
        default=False, help_text=_("a lead create was sent without a confirmed answer: look it up first")
    )
    note_added = models.BooleanField(default=False, help_text=_("the creation note is on the lead"))
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("order sync")
        verbose_name_plural = _("order syncs")
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.state}"

    @property
    def is_retry_scheduled(self) -> bool:
        return self.state == self.State.QUEUED and self.next_retry_at is not None


class CustomerAmoLink(models.Model):
    """The amoCRM contact (and company) of a customer, remembered so repeat customers need no search.

    ``locked_until`` is a short lease taken while one worker finds or creates the contact, so two orders of a
    new customer synced at once never create two contacts.
    """

    customer = models.OneToOneField(
        "customers.Customer", on_delete=models.CASCADE, related_name="amo_link", verbose_name=_("customer")
    )
    contact_id = models.BigIntegerField(_("contact id"), null=True, blank=True, db_index=True)
    company_id = models.BigIntegerField(_("company id"), null=True, blank=True)
    contact_hash = models.CharField(max_length=64, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("customer link")
        verbose_name_plural = _("customer links")

    def __str__(self) -> str:
        return f"{self.customer_id} -> {self.contact_id}"


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
    resolved = models.BooleanField(_("resolved"), default=False)

    class Meta:
        verbose_name = _("sync log entry")
        verbose_name_plural = _("sync log")
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["outcome", "resolved"])]

    def __str__(self) -> str:
        return f"{self.started_at:%Y-%m-%d %H:%M:%S} {self.action} {self.outcome}"


# --- end of section "sync" --------------------------------------------------------------------------------


# --- Webhook inbox (owner: webhooks) ----------------------------------------------------------------------


class WebhookInbox(models.Model):
    """One authenticated webhook delivery from amoCRM: raw body and headers, and what processing made of it.

    The intake stores the row and answers at once; processing (a django-q2 task) fills ``outcome``,
    ``reason``, ``results`` (one entry per item of the body) and ``order`` (the first order it touched).
    ``fingerprint`` identifies the delivery's content: (account, entity, action, id, status, last_modified)
    of every item. The first row with a fingerprint also holds it in the unique ``dedup_key``; a later
    delivery with the same content is stored with ``outcome=duplicate`` and ``duplicate_of`` and is not
    processed. The URL secret is never stored.
    """

    class Outcome(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPLIED = "applied", _("Applied")
        ECHO = "echo", _("Echo of our push")
        STALE = "stale", _("Stale")
        DUPLICATE = "duplicate", _("Duplicate")
        IGNORED = "ignored", _("Ignored")
        INVALID = "invalid", _("Invalid")
        FAILED = "failed", _("Failed")

    received_at = models.DateTimeField(_("received"), default=timezone.now, db_index=True)
    body = models.BinaryField(_("raw body"))
    headers = models.JSONField(_("headers"), default=dict, blank=True)
    remote_addr = models.GenericIPAddressField(_("remote address"), null=True, blank=True)
    account_id = models.BigIntegerField(_("account id"), null=True, blank=True)
    account_subdomain = models.CharField(_("account subdomain"), max_length=255, blank=True)
    events = models.CharField(_("events"), max_length=255, blank=True, help_text=_("e.g. leads[status]"))
    entity_ids = models.CharField(_("entity ids"), max_length=255, blank=True)
    item_count = models.PositiveIntegerField(_("items"), default=0)
    fingerprint = models.CharField(max_length=64, blank=True)
    dedup_key = models.CharField(max_length=64, null=True, blank=True, unique=True)
    duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="duplicates", db_index=False
    )
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices, default=Outcome.PENDING)
    reason = models.TextField(_("reason"), blank=True)
    results = models.JSONField(_("item results"), default=list, blank=True)
    order = models.ForeignKey(
        Order,
        verbose_name=_("order"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    attempts = models.PositiveIntegerField(_("processing attempts"), default=0)
    processed_at = models.DateTimeField(_("processed"), null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        # Every delivery's INSERT updates each index, under SQLite's single write lock: only what a query
        # uses is indexed (the list by time and outcome, the unique dedup key), and the two links that are
        # empty when a row is stored have partial indexes (an INSERT with them empty skips them). In the
        # webhook benchmark the intake went from ~715-770 to ~805-870 deliveries/s with four instead of eight.
        indexes = [
            models.Index(fields=["outcome", "received_at"], name="webhookinbox_outcome_recv"),
            models.Index(fields=["order"], name="webhookinbox_order", condition=Q(order__isnull=False)),
            models.Index(
                fields=["duplicate_of"],
                name="webhookinbox_duplicate_of",
                condition=Q(duplicate_of__isnull=False),
            ),
        ]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook inbox")

    def __str__(self) -> str:
        return f"#{self.pk} {self.events or '?'} {self.outcome}"

    @property
    def body_text(self) -> str:
        """The raw body as text (undecodable bytes shown as replacement characters)."""
        return bytes(self.body or b"").decode("utf-8", errors="replace")


class WebhookCounter(models.Model):
    """A named integer kept by the webhook intake and reconciliation, updated atomically.

    Keys: ``rejected:<reason>`` (deliveries answered 404: nothing else is stored for them) and
    ``reconcile:watermark`` (amoCRM ``updated_at`` up to which leads have been reconciled).
    """

    key = models.CharField(max_length=64, unique=True)
    value = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["key"]
        verbose_name = _("webhook counter")
        verbose_name_plural = _("webhook counters")

    def __str__(self) -> str:
        return f"{self.key}={self.value}"


# --- end of section "webhooks" ----------------------------------------------------------------------------
