"""The stage map editor (admins): order status → AmoCRM pipeline stage, and what stays unmapped."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from console.amocrm.models import StageMapping
from console.amocrm.stagemap import StageChoice, stage_choices, stage_key, stage_map_update
from console.orders.models import Order
from console.web.decorators import admin_required


def _rows_from_db() -> list[StageChoice]:
    current = {m.order_status: m for m in StageMapping.objects.all()}
    rows = []
    for status, _label in Order.Status.choices:
        mapping = current.get(status)
        stage = stage_key(mapping.pipeline_id, mapping.status_id) if mapping else ""
        rows.append(
            StageChoice(order_status=status, stage=stage, is_active=mapping.is_active if mapping else True)
        )
    return rows


def _rows_from_post(request: HttpRequest) -> list[StageChoice]:
    return [
        StageChoice(
            order_status=status,
            stage=request.POST.get(f"stage_{status}", "").strip(),
            is_active=request.POST.get(f"active_{status}") == "on",
        )
        for status, _label in Order.Status.choices
    ]


@admin_required
def stage_map_edit(request: HttpRequest) -> HttpResponse:
    """GET shows the map; POST saves it through ``stage_map_update`` (errors stay on the page)."""
    errors: dict[str, list[str]] = {}
    rows = _rows_from_db()
    if request.method == "POST":
        rows = _rows_from_post(request)
        try:
            stage_map_update(rows=rows)
        except ValidationError as exc:
            errors = exc.message_dict
            messages.error(request, _("The stage map was not saved: fix the rows marked below."))
        else:
            messages.success(request, _("Stage map saved."))
            return redirect("web:stage_map")
    choices = stage_choices()
    labels = dict(Order.Status.choices)
    mapped = {row.stage for row in rows if row.stage and row.is_active}
    context = {
        "rows": [
            {"row": row, "label": labels[row.order_status], "errors": errors.get(row.order_status, [])}
            for row in rows
        ],
        "choices": choices,
        "unmapped": [label for key, label in choices if key not in mapped],
    }
    return render(request, "stage_map/edit.html", context, status=400 if errors else 200)
