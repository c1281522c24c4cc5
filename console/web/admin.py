"""API tokens in the admin: listed and revocable, never created here. Users: Django's admin, with a password
an admin sets there to be changed by its owner at the next login.

knox's own admin shows a new token in a message, which Django keeps in a cookie until it is shown; a token is
made by ``manage.py api_token create <username>`` instead, which prints it once.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from knox.models import AuthToken

from console.web.models import PasswordState
from console.web.passwords import password_set_by_admin

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


class AdminSetPasswordForm(AdminPasswordChangeForm):
    """The admin's "set password" form; the user must change a password set here at the next login."""

    def save(self, commit: bool = True) -> Any:
        user = super().save(commit=commit)
        if commit and user.has_usable_password():
            password_set_by_admin(user=user)
        return user


class ConsoleUserAdmin(UserAdmin):
    """Django's user admin, but a password an admin sets (adding a user, or "set password") is one its
    owner must change at the next login (``console.web.passwords``)."""

    change_password_form = AdminSetPasswordForm

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change and obj.has_usable_password():
            password_set_by_admin(user=obj)


admin.site.unregister(get_user_model())
admin.site.register(get_user_model(), ConsoleUserAdmin)


@admin.register(PasswordState)
class PasswordStateAdmin(admin.ModelAdmin):
    list_display = ["user", "must_change", "set_by_admin_at", "changed_at"]
    list_select_related = ["user"]
    search_fields = ["user__username"]
    readonly_fields = list_display

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
