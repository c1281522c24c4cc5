"""The stage map page: order status → AmoCRM stage and every cached stage → the status it sets, with the
warnings, the default pipeline and the history of changes. Support reads it; admins change it."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from console.amocrm.models import ConfigChange
from console.amocrm.stagemap import StageChoice, StageMeaning, stage_map_overview, stage_map_update
from console.orders.models import Order
from console.web.permissions import requires, requires_to_change
from console.web.services import config_changes


def _rows_from_post(data: QueryDict) -> list[StageChoice]:
    """The statuses the form posted: a status without ``stage_<status>`` is left out (its row stays).

    The form posts ``active_<status>=off`` (hidden) before the checkbox's ``on``, so the last value tells
    the flag; without either the row keeps its flag."""
    rows = []
    for status in Order.Status.values:
        if f"stage_{status}" not in data:
            continue
        flag = data.get(f"active_{status}")
        active = None if flag is None else flag == "on"
        rows.append(StageChoice(order_status=status, stage=data[f"stage_{status}"].strip(), is_active=active))
    return rows


def _show(status: str, value: Any) -> str:
    if not value:
        return _("not mapped")
    return value["name"] if value.get("active") else _("%(stage)s (inactive)") % {"stage": value["name"]}


def _context(posted: list[StageChoice], errors: dict[str, list[str]]) -> dict[str, Any]:
    overview = stage_map_overview()
    rows = dict(overview.rows)
    for row in posted:  # a refused form shows what was chosen
        rows[row.order_status] = (
            row.stage,
            rows[row.order_status][1] if row.is_active is None else row.is_active,
        )
    labels = dict(Order.Status.choices)
    return {
        "overview": overview,
        "rows": [
            {
                "status": status,
                "label": labels[status],
                "stage": stage,
                "active": active,
                "errors": errors.get(status, []),
            }
            for status, (stage, active) in rows.items()
        ],
        "stages": [_stage_row(stage, labels) for stage in overview.stages],
        "conflicts": [_stage_row(stage, labels) for stage in overview.conflicts],
        "unmapped_statuses": [labels[status] for status in overview.unmapped_statuses],
        "missing": [(labels[status], key) for status, key in overview.missing],
        "changes": config_changes(
            area=ConfigChange.Area.STAGE_MAP, label=lambda key: labels.get(key, key), show=_show
        ),
    }


def _stage_row(stage: StageMeaning, labels: dict[str, Any]) -> dict[str, Any]:
    return {
        "stage": stage,
        "status_label": labels.get(stage.status or "", ""),
        "claims": ", ".join(str(labels.get(status, status)) for status in stage.claims),
    }


def _removed(posted: list[StageChoice]) -> list[dict[str, str]]:
    """The mappings the posted rows take away: a status mapped now whose posted stage is empty, with the
    stage it loses by name."""
    overview = stage_map_overview()
    names = dict(overview.choices)
    labels = dict(Order.Status.choices)
    removed = []
    for row in posted:
        stage = overview.rows.get(row.order_status, ("", True))[0]
        if stage and not row.stage:
            removed.append({"status": str(labels[row.order_status]), "stage": names.get(stage, stage)})
    return removed


def _confirm(request: HttpRequest, removed: list[dict[str, str]]) -> HttpResponse:
    """The confirmation step of a save that removes mappings: what goes, and the same form posted again
    with ``confirmed=1`` (no JavaScript needed)."""
    fields = [(name, value) for name, values in request.POST.lists() for value in values]
    fields = [(name, value) for name, value in fields if name not in ("csrfmiddlewaretoken", "confirmed")]
    return render(request, "stage_map/_confirm.html", {"removed": removed, "fields": fields})


@require_http_methods(["GET", "POST"])
@requires("setup.view")
@requires_to_change("setup")
def stage_map_edit(request: HttpRequest) -> HttpResponse:
    """GET shows the map (read-only without the right to change it); POST applies the posted statuses
    through ``stage_map_update`` (errors stay on the page, answered 400)."""
    posted: list[StageChoice] = []
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        posted = _rows_from_post(request.POST)
        removed = _removed(posted)
        if removed and request.POST.get("confirmed") != "1":
            return _confirm(request, removed)
        try:
            changed = stage_map_update(rows=posted, actor=request.user.get_username())
        except ValidationError as exc:
            errors = exc.message_dict
            messages.error(request, _("The stage map was not saved: fix the rows marked below."))
        else:
            if changed:
                messages.success(request, _("Stage map saved."))
            else:
                messages.info(request, _("Nothing changed in the stage map."))
            return redirect("web:stage_map")
    context = _context(posted, errors)
    return render(request, "stage_map/edit.html", context, status=400 if errors else 200)
