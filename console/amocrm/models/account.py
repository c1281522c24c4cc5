"""The connected account: the connection row (credentials, encrypted tokens, circuit state, ids made by
account setup), the local cache of pipelines and stages, and the stage map rows."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from console.amocrm.models.fields import EncryptedTextField
from console.orders.models import Order


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
        REJECTED = "rejected", _("Credentials rejected")
        PAUSED = "paused", _("Paused")
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

    paused_reason = models.TextField(_("why paused"), blank=True)
    paused_by = models.CharField(_("paused by"), max_length=150, blank=True)
    paused_at = models.DateTimeField(_("paused at"), null=True, blank=True)

    oauth_state = models.CharField(max_length=128, blank=True, editable=False)
    webhook_secret = EncryptedTextField(default=new_webhook_secret)

    lead_field_ids = models.JSONField(
        _("lead custom field ids"), default=dict, blank=True, help_text=_("our field name -> amoCRM field id")
    )
    lead_field_enums = models.JSONField(
        _("lead select options"),
        default=dict,
        blank=True,
        help_text=_("field -> our value -> amoCRM enum id"),
    )
    company_field_ids = models.JSONField(
        _("company custom field ids"),
        default=dict,
        blank=True,
        help_text=_("our field name -> amoCRM field id"),
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


class ConfigChange(models.Model):
    """One change an admin made to the integration's set-up (the stage map, the connection): who, when, what
    it was before and after. Shown on the pages where the change is made; never edited."""

    class Area(models.TextChoices):
        STAGE_MAP = "stage_map", _("Stage map")
        CONNECTION = "connection", _("Connection")

    area = models.CharField(_("area"), max_length=20, choices=Area.choices, db_index=True)
    actor = models.CharField(_("who"), max_length=150, blank=True)
    changed_at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)
    summary = models.CharField(_("what"), max_length=300, blank=True)
    before = models.JSONField(_("before"), default=dict, blank=True)
    after = models.JSONField(_("after"), default=dict, blank=True)

    class Meta:
        ordering = ["-changed_at", "-id"]
        verbose_name = _("set-up change")
        verbose_name_plural = _("set-up changes")

    def __str__(self) -> str:
        return f"{self.changed_at:%Y-%m-%d %H:%M} {self.area} {self.actor}: {self.summary}"


class RateLimitWindow(models.Model):
    """The start times of the last requests to amoCRM, for the installation-wide rate limiter
    (``console.amocrm.api.ratelimit``) when there is no Redis: one row per limiter, locked while a request
    takes its turn."""

    name = models.CharField(max_length=40, unique=True)
    starts = models.JSONField(default=list, help_text=_("unix times of the requests in the current window"))

    class Meta:
        verbose_name = _("rate limit window")
        verbose_name_plural = _("rate limit windows")

    def __str__(self) -> str:
        return self.name
