"""Deals -> orders: the webhook inbox (every authenticated delivery, raw, with what processing made of it) and
the integration's named counters."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from console.orders.models import Order


class WebhookInbox(models.Model):
    """One authenticated webhook delivery from amoCRM: raw body and headers, and what processing made of it.

    The intake stores the row and answers at once; processing (a django-q2 task) fills ``outcome``,
    ``reasons`` (codes and parameters), ``results`` (one entry per item of the body) and ``order`` (the
    first order it touched).
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
    reasons = models.JSONField(
        _("reasons"),
        default=list,
        blank=True,
        help_text=_("why: codes and parameters (console.amocrm.reasons)"),
    )
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
