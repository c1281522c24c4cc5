"""The AmoCRM connection page: status, credentials, connect/disconnect, long-lived token, pause/resume, setup,
the rate limit, the cached pipelines and the history of changes; and the OAuth callback amoCRM redirects the
admin to. Support reads the page (no forms); every change is an admin's and is audited.

Connecting redirects to amoCRM's consent page; account setup is enqueued for the cluster. The callback
exchanges the authorization code inside the request: the one exception to "no amoCRM call in a web request"
(the code lives 20 minutes and the admin is waiting for the result,
https://www.amocrm.ru/developers/content/oauth/step-by-step).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST

from console.amocrm.account import connection as connection_services
from console.amocrm.account import oauth
from console.amocrm.account.connection import (
    connection_audited,
    connection_calls_recently,
    connection_defaults_from_env,
    connection_fill_from_env,
    connection_save_credentials,
    connection_set_state,
    setup_enqueue,
)
from console.amocrm.account.webhook_health import webhook_health, webhook_health_enqueue
from console.amocrm.alerts import incidents_open
from console.amocrm.api.errors import AmoCRMError, CircuitOpen
from console.amocrm.models import AmoConnection, ConfigChange, Pipeline, StageMapping
from console.amocrm.stagemap import stage_labels
from console.orders.models import Order
from console.web.decorators import admin_required
from console.web.errors import error_message
from console.web.labels import stage_label
from console.web.permissions import requires
from console.web.services import config_changes
from console.web.webhook_health import webhook_health_shown

# What to do in the states the banner does not explain (it covers the others on every page).
STATE_HELP = {
    AmoConnection.State.NOT_CONNECTED: _("Enter the integration's credentials and press Connect."),
    AmoConnection.State.ERROR: _(
        "Connecting failed; see the last error, fix the credentials and connect again."
    ),
}
# Labels of the audit's keys that are not model fields.
AUDIT_LABELS = {"secret_key": _("secret key stored"), "token": _("token stored")}


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
        help_text=_("Leave empty to use the token given in the server's settings."),
    )


class PauseForm(forms.Form):
    reason = forms.CharField(
        label=_("Why pause the sync?"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Shown to everyone on every page while the sync is paused."),
    )


# The last error in words, by the state the connection is in (amoCRM's own text is kept as the detail).
ERROR_STATE_KINDS = {
    AmoConnection.State.CONNECTED: "auth",
    AmoConnection.State.ERROR: "connect_failed",
}
CONNECT_FAILED = _("Connecting to amoCRM failed: amoCRM did not give the console access.")
# States in which no token is in use: its expiry means nothing then.
TOKENLESS_STATES = (
    AmoConnection.State.NOT_CONNECTED,
    AmoConnection.State.REVOKED,
    AmoConnection.State.REJECTED,
    AmoConnection.State.ERROR,
)


def last_error_shown(connection: AmoConnection) -> dict[str, str] | None:
    """The connection's last error as the page shows it: what happened in words and amoCRM's text as the
    detail; None when there is none, or it is older than the latest (re)connect or resume."""
    if not connection.last_error or connection.last_error_at is None:
        return None
    since = [t for t in (connection.state_changed_at, connection.token_refreshed_at) if t is not None]
    if connection.state == AmoConnection.State.CONNECTED and since and connection.last_error_at <= max(since):
        return None
    kind = ERROR_STATE_KINDS.get(connection.state, connection.state)
    what = str(CONNECT_FAILED) if kind == "connect_failed" else error_message(kind)[0]
    return {"what": what, "detail": connection.last_error}


def _initial(connection: AmoConnection) -> dict[str, str]:
    env = connection_defaults_from_env()
    return {
        name: getattr(connection, name) or env.get(name, "")
        for name in ("base_url", "client_id", "redirect_uri")
    }


def _audit_label(key: str) -> str:
    if key in AUDIT_LABELS:
        return str(AUDIT_LABELS[key])
    return str(AmoConnection._meta.get_field(key).verbose_name)


def _audit_value(key: str, value: Any) -> str:
    if key == "state" and value in AmoConnection.State.values:
        return str(AmoConnection.State(value).label)
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    return str(value) if value not in (None, "") else "—"


def _stage_map_rows() -> list[dict[str, Any]]:
    """The stage map by name (a stage missing from the pipeline cache is called an unknown stage)."""
    names = stage_labels()
    labels = dict(Order.Status.choices)
    return [
        {
            "status": labels.get(m.order_status, m.order_status),
            "stage": stage_label(m.pipeline_id, m.status_id, names),
            "active": m.is_active,
        }
        for m in StageMapping.objects.all()
    ]


def _render_page(
    request: HttpRequest,
    connection: AmoConnection,
    form: CredentialsForm | None = None,
    pause_form: PauseForm | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "connection": connection,
        "last_error": last_error_shown(connection),
        "token_in_use": connection.has_tokens and connection.state not in TOKENLESS_STATES,
        "state_help": STATE_HELP.get(connection.state, ""),
        "form": form or CredentialsForm(initial=_initial(connection)),
        "pause_form": pause_form or PauseForm(),
        "long_lived_form": LongLivedForm(initial={"base_url": connection.base_url}),
        "has_secret": bool(connection.client_secret),
        "env_long_lived": bool(settings.AMOCRM_LONG_LIVED_TOKEN),
        "pipelines": Pipeline.objects.prefetch_related("statuses"),
        "stage_map": _stage_map_rows(),
        "rate_limit": settings.AMOCRM_RATE_LIMIT,
        "rate_limit_per_minute": round(settings.AMOCRM_RATE_LIMIT * 60),
        "calls_last_minute": connection_calls_recently(),
        "changes": config_changes(area=ConfigChange.Area.CONNECTION, label=_audit_label, show=_audit_value),
        "webhook_health": webhook_health_shown(webhook_health(connection.pk)),
        "incidents": incidents_open(),
    }
    return render(request, "connection/index.html", context, status=status)


def _actor(request: HttpRequest) -> str:
    return request.user.get_username()


@require_GET
@requires("setup.view")
def connection_page(request: HttpRequest) -> HttpResponse:
    """GET: the status panel, and the forms for admins (support reads the page)."""
    return _render_page(request, connection_fill_from_env(connection=AmoConnection.get_solo()))


@require_POST
@admin_required
def connection_save(request: HttpRequest) -> HttpResponse:
    """POST: store the credentials (the secret only when a new one is typed)."""
    form = CredentialsForm(request.POST)
    connection = AmoConnection.get_solo()
    if not form.is_valid():
        return _render_page(request, connection, form=form, status=400)
    connection_save_credentials(connection=connection, actor=_actor(request), **form.cleaned_data)
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
    connection = connection_fill_from_env(connection=AmoConnection.get_solo())
    try:
        with connection_audited(
            connection_id=connection.pk, actor=_actor(request), summary=connection_services.AUDIT_LONG_LIVED
        ):
            connection = oauth.long_lived_connect(
                connection=connection,
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
    connection_id = AmoConnection.get_solo().pk
    with connection_audited(
        connection_id=connection_id, actor=_actor(request), summary=connection_services.AUDIT_DISCONNECTED
    ):
        oauth.disconnect(connection_id=connection_id)
    messages.success(request, _("Disconnected. Nothing is sent to amoCRM until you connect again."))
    return redirect("web:connection")


def _attempt(request: HttpRequest, service: Callable[..., object], success: str, **data: Any) -> HttpResponse:
    """Run a connection ``service`` for the admin and go back to the page; its ``ValueError`` is the message
    shown, else ``success``."""
    try:
        service(connection_id=AmoConnection.get_solo().pk, actor=_actor(request), **data)
    except ValueError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, success)
    return redirect("web:connection")


def _simple(service: Callable[..., object], success: Any, doc: str) -> Callable[[HttpRequest], HttpResponse]:
    """An admin's POST with no form: run ``service`` (see :func:`_attempt`)."""

    @require_POST
    @admin_required
    def view(request: HttpRequest) -> HttpResponse:
        return _attempt(request, service, str(success))

    view.__doc__ = doc
    return view


connection_resume = _simple(
    connection_services.connection_resume,
    _("Resumed. The next call will show whether amoCRM accepts us again."),
    "POST: the admin resolved the block / payment problem; calls may go out again.",
)


@require_POST
@admin_required
def connection_pause(request: HttpRequest) -> HttpResponse:
    """POST reason: stop sending to amoCRM (changes are recorded and queued) until the sync is resumed."""
    form = PauseForm(request.POST)
    if not form.is_valid():
        return _render_page(request, AmoConnection.get_solo(), pause_form=form, status=400)
    success = _("The sync is paused. Nothing is sent to amoCRM until you resume it.")
    return _attempt(
        request, connection_services.connection_pause, success, reason=form.cleaned_data["reason"]
    )


connection_unpause = _simple(
    connection_services.connection_unpause,
    _("The sync is resumed. Queued changes go out within a minute."),
    "POST: end the pause; the queued changes go out within a minute.",
)


@require_POST
@admin_required
def connection_setup(request: HttpRequest) -> HttpResponse:
    """POST: enqueue account setup (fields, catalog, pipelines, stage map, webhook)."""

    def audited_setup(connection: AmoConnection) -> None:
        with connection_audited(
            connection_id=connection.pk, actor=_actor(request), summary=connection_services.AUDIT_SETUP_RUN
        ):
            setup_enqueue(connection_id=connection.pk)

    return _queued(request, audited_setup, _("Account setup queued; reload this page in a few seconds."))


def _queued(request: HttpRequest, enqueue: Callable[[AmoConnection], None], success: str) -> HttpResponse:
    """Queue work for the connected account (``enqueue(connection)``), say ``success``; refused, with a
    message, while the account is not connected."""
    connection = AmoConnection.get_solo()
    if not connection.is_connected:
        messages.error(request, _("Connect the account first."))
    else:
        enqueue(connection)
        messages.success(request, success)
    return redirect("web:connection")


@require_POST
@admin_required
def connection_webhook_check(request: HttpRequest) -> HttpResponse:
    """POST: check (and repair) our webhook subscription now instead of at the next scheduled check."""
    return _queued(
        request,
        lambda connection: webhook_health_enqueue(connection_id=connection.pk),
        _("Webhook check queued; reload this page in a few seconds."),
    )


@require_GET
@admin_required
def oauth_callback(request: HttpRequest) -> HttpResponse:
    """GET /amocrm/oauth/callback/?code=...&state=...&referer=...: check state, exchange, enqueue setup."""
    connection = AmoConnection.get_solo()
    if request.GET.get("error"):
        AmoConnection.objects.filter(pk=connection.pk).update(oauth_state="")
        messages.error(request, gettext("Access was not granted in amoCRM."))
        return redirect("web:connection")
    code = request.GET.get("code", "")
    if not code:
        messages.error(request, gettext("The authorization answer carries no code."))
        return redirect("web:connection")
    try:
        with connection_audited(
            connection_id=connection.pk, actor=_actor(request), summary=connection_services.AUDIT_CONNECTED
        ):
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
        messages.error(request, gettext("Connecting failed: %(reason)s") % {"reason": exc.title})
        return redirect("web:connection")
    setup_enqueue(connection_id=connection.pk)
    messages.success(request, gettext("Connected to amoCRM. Account setup is running in the background."))
    return redirect("web:connection")
