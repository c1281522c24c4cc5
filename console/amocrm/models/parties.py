"""Per-field sync state of linked customers and companies, and the conflicts amoCRM edits left
(``console.amocrm.parties``). New tables: nothing of this lives on ``CustomerAmoLink`` or ``OrderSync``."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Party(models.TextChoices):
    CONTACT = "contact", _("contact")
    COMPANY = "company", _("company")


class PartyField(models.Model):
    """One field of a linked customer (``party`` contact) or company: the value both sides last agreed on
    (what we last sent, or last took from amoCRM) and when, and when the console last edited it."""

    party = models.CharField(max_length=10, choices=Party.choices)
    object_id = models.PositiveBigIntegerField()
    field = models.CharField(max_length=40)
    value = models.TextField(blank=True)
    agreed_at = models.DateTimeField(null=True, blank=True)
    console_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["party", "object_id", "field"], name="amocrm_partyfield_unique")
        ]

    def __str__(self) -> str:
        return f"{self.party} {self.object_id} {self.field}"


class PartyConflict(models.Model):
    """An amoCRM edit not applied because the console's value of the field is newer or not sent yet."""

    class Resolution(models.TextChoices):
        OURS = "ours", _("kept ours")
        THEIRS = "theirs", _("took theirs")

    party = models.CharField(max_length=10, choices=Party.choices)
    object_id = models.PositiveBigIntegerField()
    field = models.CharField(max_length=40)
    ours = models.TextField(blank=True)
    theirs = models.TextField(blank=True)
    their_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=10, choices=Resolution.choices, blank=True)
    resolved_by = models.CharField(max_length=150, blank=True)

    class Meta:
        indexes = [models.Index(fields=["party", "object_id", "resolved_at"])]
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.party} {self.object_id} {self.field}: {self.ours!r} / {self.theirs!r}"
