"""The console's own rows about its users: whether a user must change the password an admin gave it."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class PasswordState(models.Model):
    """A user's password as the console sees it: ``must_change`` while the password is one an admin set
    (a new user's initial password, or one set in the admin); the user's own change clears it."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="password_state"
    )
    must_change = models.BooleanField(_("must change the password"), default=False)
    set_by_admin_at = models.DateTimeField(_("set by an admin"), null=True, blank=True)
    changed_at = models.DateTimeField(_("changed by the user"), null=True, blank=True)

    class Meta:
        verbose_name = _("password state")
        verbose_name_plural = _("password states")

    def __str__(self) -> str:
        return str(self.user)
