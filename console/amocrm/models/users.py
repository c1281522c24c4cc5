"""amoCRM's users as the console knows them, and the console user each is linked to.

Refreshed from https://www.amocrm.ru/developers/content/crm_platform/users-api (``GET /api/v4/users``).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AmoUser(models.Model):
    """One amoCRM user: its id, name, e-mail, whether it is active and an admin, and its console user.

    ``console_user`` is set automatically by lower-cased e-mail on refresh unless an admin chose it
    (``linked_by_admin``), in which case a refresh never changes it.
    """

    amo_id = models.BigIntegerField(_("amoCRM user id"), unique=True)
    name = models.CharField(_("name"), max_length=255, blank=True)
    email = models.CharField(_("e-mail"), max_length=255, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    is_admin = models.BooleanField(_("admin"), default=False)
    console_user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("console user"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="amo_user",
    )
    linked_by_admin = models.BooleanField(default=False)
    refreshed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "amocrm_user"
        ordering = ("name", "amo_id")
        verbose_name = _("amoCRM user")
        verbose_name_plural = _("amoCRM users")

    def __str__(self) -> str:
        return f"{self.name} ({self.amo_id})"
