"""The AmoCRM connection page (admins only): credentials, connect/disconnect, long-lived token, status, setup,
and the OAuth callback amoCRM redirects the admin to.

Connecting redirects to amoCRM's consent page; account setup is enqueued for the cluster. The callback
exchanges the authorization code inside the request: the one exception to "no amoCRM call in a web request"
(the code lives 20 minutes and the admin is waiting for the result,
https://www.amocrm.ru/developers/content/oauth/step-by-step).
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST

from console.amocrm.account import connection as connection_services
from console.amocrm.account import oauth
from console.amocrm.account.connection import (
    connection_defaults_from_env,
    connection_fill_from_env,
    connection_save_credentials,
    connection_set_state,
    setup_enqueue,
)
from console.amocrm.api.errors import AmoCRMError, CircuitOpen
from console.amocrm.models import AmoConnection, Pipeline, StageMapping
from console.web.decorators import admin_required

STATE_HELP = {
    AmoConnection.State.NOT_CONNECTED: _("Enter the integration's credentials and press Connect."),
    AmoConnection.State.BLOCKED: _(
        "AmoCRM blocked requests from this installation (HTTP 403). Nothing is sent while blocked. "
        "Ask amoCRM support to lift the block, then press Resume."
    ),
    AmoConnection.State.UNPAID: _(
        "The amoCRM account is not paid (HTTP 402). Renew the subscription in amoCRM, then press Resume."
    ),
    AmoConnection.State.REVOKED: _(
        "AmoCRM revoked our access (the refresh or long-lived token is no longer valid). Connect again."
    ),
    AmoConnection.State.REJECTED: _(
        "AmoCRM rejected the integration's id or secret key. Copy both again from the integration's settings "
        "in amoCRM (Settings → Integrations), save them here and press Connect."
    ),
    AmoConnection.State.ERROR: _(
        "Connecting failed; see the last error, fix the credentials and connect again."
    ),
}


class CredentialsForm(forms.Form):
    base_url = forms.URLField(
        assume_scheme="https",
        label=_("Account host"),
        help_text=_("https://subdomain.amocrm.ru"),
        required=True,
    )
    client_id = forms.CharField(label=_("Integration id"), max_length=255)
    client_secret = forms.CharField(
        label=_("Secret key"),
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("Write-only: leave empty to keep the stored secret."),
    )
    redirect_uri = forms.URLField(assume_scheme="https", label=_("Redirect URI"), max_length=500)


class LongLivedForm(forms.Form):
    base_url = forms.URLField(assume_scheme="https", label=_("Account host"), required=False)
    token = forms.CharField(
        label=_("Long-lived token"),
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("Leave empty to use AMOCRM_LONG_LIVED_TOKEN from the environment."),
    )


def _initial(connection: AmoConnection) -> dict[str, str]:
    env = connection_defaults_from_env()
    return {
        name: getattr(connection, name) or env.get(name, "")
        for name in ("base_url", "client_id", "redirect_uri")
    }


def _render_page(
    request: HttpRequest, connection: AmoConnection, form: CredentialsForm, status: int = 200
) -> HttpResponse:
    context = {
        "connection": connection,
        "state_help": STATE_HELP.get(connection.state, ""),
        "form": form,
        "long_lived_form": LongLivedForm(initial={"base_url": connection.base_url}),
        "has_secret": bool(connection.client_secret),
        "env_long_lived": bool(settings.AMOCRM_LONG_LIVED_TOKEN),
        "pipelines": Pipeline.objects.prefetch_related("statuses"),
        "stage_map": StageMapping.objects.all(),
    }
    return render(request, "connection/index.html", context, status=status)


@admin_required
def connection_page(request: HttpRequest) -> HttpResponse:
    """GET: the status panel and the forms."""
    connection = connection_fill_from_env(connection=AmoConnection.get_solo())
    return _render_page(request, connection, CredentialsForm(initial=_initial(connection)))


@require_POST
@admin_required
def connection_save(request: HttpRequest) -> HttpResponse:
    """POST: store the credentials (the secret only when a new one is typed)."""
    form = CredentialsForm(request.POST)
    connection = AmoConnection.get_solo()
    if not form.is_valid():
        return _render_page(request, connection, form, status=400)
    connection_save_credentials(connection=connection, **form.cleaned_data)
    messages.success(request, _("Credentials saved."))
    return redirect("web:connection")


@require_POST
@admin_required
def connection_connect(request: HttpRequest) -> HttpResponse:
    """POST: go to amoCRM's consent page (the sandbox's own page for a sandbox host) with a fresh state."""
    connection = connection_fill_from_env(connection=AmoConnection.get_solo())
    if not (connection.client_id and connection.client_secret and connection.redirect_uri):
        messages.error(request, _("Enter the integration id, secret key and redirect URI first."))
        return redirect("web:connection")
    return redirect(oauth.authorize_url_build(connection=connection))


@require_POST
@admin_required
def connection_long_lived(request: HttpRequest) -> HttpResponse:
    """POST: connect with a long-lived token (no refresh), then enqueue account setup."""
    form = LongLivedForm(request.POST)
    token = (form.cleaned_data.get("token") if form.is_valid() else "") or settings.AMOCRM_LONG_LIVED_TOKEN
    if not token:
        messages.error(request, _("Enter the long-lived token."))
        return redirect("web:connection")
    try:
        connection = oauth.long_lived_connect(
            connection=connection_fill_from_env(connection=AmoConnection.get_solo()),
            token=token,
            base_url=form.cleaned_data.get("base_url", "") if form.is_valid() else "",
        )
    except ValueError as exc:
        messages.error(request, str(exc))
        return redirect("web:connection")
    setup_enqueue(connection_id=connection.pk)
    messages.success(
        request, _("Connected with a long-lived token. Account setup is running in the background.")
    )
    return redirect("web:connection")


@require_POST
@admin_required
def connection_disconnect(request: HttpRequest) -> HttpResponse:
    oauth.disconnect(connection_id=AmoConnection.get_solo().pk)
    messages.success(request, _("Disconnected. Nothing is sent to amoCRM until you connect again."))
    return redirect("web:connection")


@require_POST
@admin_required
def connection_resume(request: HttpRequest) -> HttpResponse:
    """POST: the admin resolved the block / payment problem; calls may go out again."""
    try:
        connection_services.connection_resume(connection_id=AmoConnection.get_solo().pk)
    except ValueError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Resumed. The next call will show whether amoCRM accepts us again."))
    return redirect("web:connection")


@require_POST
@admin_required
def connection_setup(request: HttpRequest) -> HttpResponse:
    """POST: enqueue account setup (fields, catalog, pipelines, stage map, webhook)."""
    connection = AmoConnection.get_solo()
    if not connection.is_connected:
        messages.error(request, _("Connect the account first."))
        return redirect("web:connection")
    setup_enqueue(connection_id=connection.pk)
    messages.success(request, _("Account setup queued; reload this page in a few seconds."))
    return redirect("web:connection")


@require_GET
@admin_required
def oauth_callback(request: HttpRequest) -> HttpResponse:
    """GET /amocrm/oauth/callback/?code=...&state=...&referer=...: check state, exchange, enqueue setup."""
    connection = AmoConnection.get_solo()
    if request.GET.get("error"):
        AmoConnection.objects.filter(pk=connection.pk).update(oauth_state="")
        messages.error(request, _g("Access was not granted in amoCRM."))
        return redirect("web:connection")
    code = request.GET.get("code", "")
    if not code:
        messages.error(request, _g("The authorization answer carries no code."))
        return redirect("web:connection")
    try:
        oauth.code_exchange(
            connection=connection,
            code=code,
            state=request.GET.get("state", ""),
            referer=request.GET.get("referer", ""),
        )
    except AmoCRMError as exc:
        if isinstance(exc, CircuitOpen):
            connection_set_state(connection_id=connection.pk, state=exc.state, detail=exc.title)
        elif not connection.access_token and not isinstance(exc, oauth.OAuthStateMismatch):
            connection_set_state(
                connection_id=connection.pk, state=AmoConnection.State.ERROR, detail=exc.title
            )
        messages.error(request, _g("Connecting failed: %(reason)s") % {"reason": exc.title})
        return redirect("web:connection")
    setup_enqueue(connection_id=connection.pk)
    messages.success(request, _g("Connected to amoCRM. Account setup is running in the background."))
    return redirect("web:connection")
