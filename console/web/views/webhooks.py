"""Webhook pages for support: the inbox with outcomes (filter, replay), the reverse stage map, the secret."""

from __future__ import annotations

from urllib.parse import unquote_plus

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event

from console.amocrm.account.connection import (
    connection_rotate_webhook_secret,
    setup_enqueue,
)
from console.amocrm.api.redaction import redact
from console.amocrm.inbound.inbox import INBOX_RETENTION, inbox_replay_request
from console.amocrm.models import AmoConnection, PipelineStatus, WebhookCounter, WebhookInbox
from console.amocrm.stagemap import reverse_stage_map, stage_labels
from console.orders.models import Order
from console.web import live
from console.web.decorators import admin_required, staff_required
from console.web.labels import WEBHOOK_COUNTERS, amo_base_url, party_names, webhook_outcome_label
from console.web.permissions import requires
from console.web.templatetags.console_format import format_when

PER_PAGE = 50
# The audit's summary when an admin has the secret shown (stored in English, translated when listed).
REPLAYED_EVENT = "webhook-replayed"


def _inbox_queryset(request: HttpRequest):  # noqa: ANN202
    rows = WebhookInbox.objects.select_related("order").defer("body", "headers")
    outcome = request.GET.get("outcome", "")
    if outcome in WebhookInbox.Outcome.values:
        rows = rows.filter(outcome=outcome)
    lead = request.GET.get("lead", "").strip()
    if lead.isdigit():
        rows = rows.filter(entity_ids__regex=rf"(^|,){lead}(,|$)")  # the whole id, not a part of one
    return rows


@require_GET
@staff_required
@live.live_condition(live.log_page_version("webhooks", _inbox_queryset))
def webhook_list(request: HttpRequest) -> HttpResponse:
    """The webhook inbox, newest first, filtered by outcome or lead id; htmx gets only the table."""
    page = Paginator(_inbox_queryset(request), PER_PAGE).get_page(request.GET.get("page"))
    connection = AmoConnection.objects.filter(pk=1).first()
    context = {
        "page": page,
        "outcomes": WebhookInbox.Outcome.choices,
        "outcome": request.GET.get("outcome", ""),
        "lead": request.GET.get("lead", ""),
        "counters": WebhookCounter.objects.filter(key__in=WEBHOOK_COUNTERS),
        "stage_names": stage_labels(),
        "destination_hint": connection.webhook_destination_hint if connection else "",
        "retention_days": INBOX_RETENTION.days,
        "query": request.GET.urlencode(),
    }
    template = (
        "webhooks/list.html#table" if request.htmx and not request.htmx.boosted else "webhooks/list.html"
    )
    return render(request, template, context)


@require_GET
@staff_required
def webhook_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One delivery: decoded body, headers, per-item results and the order it touched."""
    row = get_object_or_404(WebhookInbox.objects.select_related("order", "duplicate_of"), pk=pk)
    decoded = "\n".join(unquote_plus(part, errors="replace") for part in row.body_text.split("&"))
    results = [item for item in row.results if isinstance(item, dict)]
    order_ids = [item.get("order_id") for item in results if item.get("order_id")]
    numbers = dict(Order.objects.filter(pk__in=order_ids).values_list("pk", "number"))
    context = {
        "row": row,
        "items": [{**item, "order_number": numbers.get(item.get("order_id"))} for item in results],
        "decoded": redact(decoded),
        "raw": redact(row.body_text),
        "stage_names": stage_labels(),
        "amo_base_url": amo_base_url(),
        "amo_parties": party_names(
            contact_ids=[_entity_id(item) for item in results if item.get("entity") == "contacts"],
            company_ids=[_entity_id(item) for item in results if item.get("entity") == "companies"],
        ),
    }
    return render(request, "webhooks/detail.html", context)


def _entity_id(item: dict) -> int | None:
    return int(item["id"]) if str(item.get("id", "")).isdigit() else None


def _back(request: HttpRequest, default: str) -> HttpResponse:
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect(default)


def _replay_message(row: WebhookInbox, done: bool) -> str:
    if done:
        return _("Delivery #%(id)s processed again: %(outcome)s.") % {
            "id": row.pk,
            "outcome": webhook_outcome_label(row.outcome),
        }
    return _("Delivery #%(id)s is queued for processing again; its result shows here when it is done.") % {
        "id": row.pk
    }


@require_POST
@requires("webhooks.replay")
def webhook_replay(request: HttpRequest, pk: int) -> HttpResponse:
    """Queue the delivery for processing again (in the cluster: it may read amoCRM) and say what happened:
    processed already (an inline cluster runs it when the request commits) or queued. htmx gets the row, with
    "replayed at HH:MM", and ``HX-Trigger: webhook-replayed`` carrying the message."""
    row = get_object_or_404(WebhookInbox, pk=pk)
    asked = timezone.now()
    inbox_replay_request(inbox_id=row.pk)
    row.refresh_from_db()
    done = row.processed_at is not None and row.processed_at >= asked
    text = _replay_message(row, done)
    if request.htmx:
        replay = {"done": done, "at": format_when(row.processed_at if done else asked, "time")}
        context = {"row": row, "replay": replay, "stage_names": stage_labels()}
        response = render(request, "webhooks/list.html#row", context)
        return trigger_client_event(response, REPLAYED_EVENT, {"message": text, "level": "success"})
    messages.success(request, text)
    return _back(request, reverse("web:webhook_detail", args=[row.pk]))


@require_GET
@staff_required
def webhook_stages(request: HttpRequest) -> HttpResponse:
    """The stage map read backwards: every known amoCRM stage and the order status a move there sets."""
    reverse = reverse_stage_map()
    stages = []
    for stage in PipelineStatus.objects.select_related("pipeline"):
        key = (stage.pipeline.amo_id, stage.status_id)
        status, why = reverse.lookup(*key)
        stages.append(
            {
                "stage": stage,
                "status": status,
                "reasons": [why] if why else [],
                "implicit": key in reverse.implicit,
            }
        )
    known = {(s["stage"].pipeline.amo_id, s["stage"].status_id) for s in stages}
    orphans = sorted(stage for stage in reverse.statuses if stage not in known)
    context = {
        "stages": stages,
        "unmapped": [s for s in stages if s["status"] is None],
        "conflicts": sorted(reverse.conflicts.items()),
        "orphans": [(stage, reverse.statuses[stage]) for stage in orphans],
        "stage_names": stage_labels(),
    }
    return render(request, "webhooks/stages.html", context)


@require_POST
@admin_required
def webhook_secret_rotate(request: HttpRequest) -> HttpResponse:
    """A new webhook secret (the old URL stops working at once); account setup, enqueued, subscribes the new
    URL in amoCRM and removes the old one."""
    connection = AmoConnection.get_solo()
    connection_rotate_webhook_secret(connection_id=connection.pk, actor=request.user.get_username())
    if connection.is_connected:
        setup_enqueue(connection_id=connection.pk)
        messages.success(request, _("Webhook secret rotated; the subscription in amoCRM is being renewed."))
    else:
        messages.warning(
            request, _("Webhook secret rotated. Connect the account to subscribe the new address.")
        )
    return redirect("web:webhooks")
