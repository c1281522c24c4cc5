"""The password page, for everyone signed in: Django's own password change (old password, new one twice,
the validators of ``AUTH_PASSWORD_VALIDATORS``); the first page a user sees whose password an admin set."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.forms import PasswordChangeForm
from django.contrib.auth.views import PasswordChangeView
from django.http import HttpResponse
from django.urls import reverse_lazy
from django.utils.translation import gettext as _

from console.web.passwords import SESSION_KEY, password_changed_by_user
from console.web.permissions import requires


class ConsolePasswordChangeView(PasswordChangeView):
    """GET the form; POST changes the password (errors stay on the form, answered 400), keeps the user
    signed in, and lifts the forced change."""

    template_name = "registration/password_change.html"
    success_url = reverse_lazy("web:dashboard")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(**kwargs) | {"forced": bool(self.request.session.get(SESSION_KEY))}

    def form_valid(self, form: PasswordChangeForm) -> HttpResponse:
        response = super().form_valid(form)
        password_changed_by_user(user=form.user)
        self.request.session.pop(SESSION_KEY, None)
        messages.success(self.request, _("Your password is changed."))
        return response

    def form_invalid(self, form: PasswordChangeForm) -> HttpResponse:
        response = super().form_invalid(form)
        response.status_code = 400
        return response


# Every role (a user without one sees nothing, as everywhere in the console).
password_change = requires("view")(ConsolePasswordChangeView.as_view())
