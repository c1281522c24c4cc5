"""The integration's health checks: our webhook subscription in amoCRM as the scheduled check last saw it."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from console.amocrm.models.account import AmoConnection


class WebhookHealth(models.Model):
    """What the last webhook check (``console.amocrm.account.webhook_health``) found and did, one row per
    connection. ``reasons`` are codes and parameters (``console.amocrm.reasons``): what was wrong and what
    was done, or why it could not be repaired. ``repaired_at`` is the last repair, ``broken_since`` the
    first check of the current unrepaired run (empty once a check is ok or repaired)."""

    class State(models.TextChoices):
        UNCHECKED = "unchecked", _("Not checked")
        OK = "ok", _("OK")
        REPAIRED = "repaired", _("Repaired")
        BROKEN = "broken", _("Cannot repair")

    connection = models.OneToOneField(AmoConnection, on_delete=models.CASCADE, related_name="webhook_health")
    state = models.CharField(max_length=16, choices=State.choices, default=State.UNCHECKED)
    reasons = models.JSONField(default=list, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    repaired_at = models.DateTimeField(null=True, blank=True)
    broken_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "amocrm_webhook_health"
        verbose_name = _("webhook health")

    def __str__(self) -> str:
        return f"webhook health: {self.state}"


class Incident(models.Model):
    """One alert incident (``console.amocrm.alerts``): something an administrator must know about, from the
    check that first saw it (``opened_at``) to the one that saw it gone (``cleared_at``, empty while open).
    At most one incident of a kind is open. ``detail`` is the latest check's finding, one reason (a code and
    its parameters, ``console.amocrm.reasons``); administrators get one e-mail when it opens and one when it
    clears."""

    class Kind(models.TextChoices):
        CONNECTION = "connection", _("The amoCRM connection is broken")
        FAILED_SYNCS = "failed_syncs", _("Many order syncs failed")
        WEBHOOK_SILENCE = "webhook_silence", _("Webhooks stopped arriving")

    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    opened_at = models.DateTimeField(_("opened"))
    cleared_at = models.DateTimeField(_("cleared"), null=True, blank=True)
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    checked_at = models.DateTimeField(_("last checked"))

    class Meta:
        db_table = "amocrm_incident"
        verbose_name = _("incident")
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind"],
                condition=models.Q(cleared_at__isnull=True),
                name="incident_one_open_per_kind",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} since {self.opened_at:%Y-%m-%d %H:%M}"

    @property
    def is_open(self) -> bool:
        return self.cleared_at is None
