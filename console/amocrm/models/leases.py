"""Who holds which piece of background work, until when: one row per lease (``console.amocrm.leases``)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Lease(models.Model):
    """One piece of work held by one worker until ``until``: an order being synced (kind ``order``, key the
    order id), a customer's contact or a company being found or created (``contact``: the customer id,
    ``company``: the company id), webhook processing (``webhooks``).

    At most one row per (kind, key); a row past ``until`` was left by a dead worker and may be taken over.
    The holder renews its rows from its heartbeat and deletes them when it is done.
    """

    kind = models.CharField(_("kind"), max_length=20)
    key = models.BigIntegerField(_("key"))
    holder = models.CharField(_("holder"), max_length=64, db_index=True)
    until = models.DateTimeField(_("until"))

    class Meta:
        verbose_name = _("lease")
        verbose_name_plural = _("leases")
        constraints = [models.UniqueConstraint(fields=["kind", "key"], name="lease_kind_key_unique")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.key} -> {self.holder} until {self.until:%H:%M:%S}"
