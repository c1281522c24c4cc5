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
