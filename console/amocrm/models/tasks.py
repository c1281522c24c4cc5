"""The amoCRM tasks an order's deal carries: the storefront call, the installation and the pickup."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class OrderTask(models.Model):
    """One task of an order's deal: what the console wants (``due``, ``responsible_amo_id``, ``wanted``)
    beside what amoCRM was last told (``pushed_*``) and whether it is done there (``completed``, from the
    task webhooks or reconciliation). ``wanted`` false: the order no longer needs it (cancelled): closed."""

    class Kind(models.TextChoices):
        CALL = "call", _("Call the customer")
        INSTALL = "install", _("Delivery and installation")
        PICKUP = "pickup", _("Pickup")

    order = models.ForeignKey("orders.Order", on_delete=models.CASCADE, related_name="amo_tasks")
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    amo_id = models.BigIntegerField(_("amoCRM task id"), null=True, blank=True, unique=True)
    responsible_amo_id = models.BigIntegerField(_("responsible amoCRM user id"), null=True, blank=True)
    due = models.DateTimeField(_("due"))
    wanted = models.BooleanField(_("wanted"), default=True)
    completed = models.BooleanField(_("done"), default=False)
    pushed_due = models.DateTimeField(null=True, blank=True)
    pushed_responsible_amo_id = models.BigIntegerField(null=True, blank=True)
    pushed_closed = models.BooleanField(default=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        db_table = "amocrm_order_task"
        verbose_name = _("order task")
        verbose_name_plural = _("order tasks")
        ordering = ["order", "due"]
        constraints = [
            models.UniqueConstraint(fields=["order", "kind"], name="amocrm_order_task_one_per_kind")
        ]

    def __str__(self) -> str:
        return f"{self.order_id} {self.kind}"
