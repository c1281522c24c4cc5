"""Loss reasons: the account's list (read from amoCRM) and the reason an order's deal was lost with.

https://www.amocrm.ru/developers/content/crm_platform/leads-api: a lead closed lost (status 143) carries
``loss_reason_id``; the account's reasons are listed by ``GET /api/v4/leads/loss_reasons``.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from console.orders.models import Order


class LossReason(models.Model):
    """One of the account's loss reasons; the primary key is amoCRM's id. A reason deleted in amoCRM goes at
    the next refresh (an order lost with it keeps the name)."""

    id = models.BigIntegerField(_("amoCRM id"), primary_key=True)
    name = models.CharField(_("name"), max_length=255)
    sort = models.IntegerField(default=0)
    refreshed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "amocrm_loss_reason"
        ordering = ("sort", "id")
        verbose_name = _("loss reason")
        verbose_name_plural = _("loss reasons")

    def __str__(self) -> str:
        return self.name


class OrderLossReason(models.Model):
    """Why an order's deal was lost: chosen by a manager on cancelling (sent with the lost stage) or read from
    a deal closed lost in amoCRM. ``reason`` is empty once amoCRM deleted it (then it is not sent again)."""

    class Origin(models.TextChoices):
        MANAGER = "manager", _("Manager")
        AMOCRM = "amocrm", _("amoCRM")

    order = models.OneToOneField(Order, on_delete=models.CASCADE, related_name="amo_loss_reason")
    reason = models.ForeignKey(
        LossReason, null=True, blank=True, on_delete=models.SET_NULL, related_name="orders"
    )
    name = models.CharField(_("loss reason"), max_length=255)
    origin = models.CharField(_("set by"), max_length=10, choices=Origin.choices)
    actor = models.CharField(_("who"), max_length=150, blank=True)
    set_at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        db_table = "amocrm_order_loss_reason"
        verbose_name = _("order's loss reason")
        verbose_name_plural = _("orders' loss reasons")

    def __str__(self) -> str:
        return f"{self.order_id}: {self.name}"
