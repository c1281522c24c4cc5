"""API tokens in the admin: listed and revocable, never created here.

knox's own admin shows a new token in a message, which Django keeps in a cookie until it is shown; a token is
made by ``manage.py api_token create <username>`` instead, which prints it once.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from knox.models import AuthToken

admin.site.unregister(AuthToken)
# knox names its model "auth token" in English only; the admin says "API token" in the console's language.
AuthToken._meta.verbose_name = _("API token")
AuthToken._meta.verbose_name_plural = _("API tokens")


@admin.register(AuthToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["user", "created", "expiry"]
    list_select_related = ["user"]
    search_fields = ["user__username"]
    fields = list_display
    readonly_fields = list_display

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuthToken | None = None) -> bool:
        return False
