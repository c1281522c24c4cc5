"""The order-status ⇄ pipeline-stage map, as an admin edits it.

Rules: every order status maps to at most one stage (the model's unique ``order_status``), and every
(pipeline, stage) to at most one *active* order status, so a stage move in AmoCRM always means one status.
Only stages known to the local pipeline cache (loaded by account setup) can be chosen.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from console.amocrm.models import PipelineStatus, StageMapping
from console.orders.models import Order


@dataclass(frozen=True)
class StageChoice:
    """One row of the editor: ``stage`` is "pipeline_id:status_id" or "" for "not mapped"."""

    order_status: str
    stage: str
    is_active: bool


def stage_key(pipeline_id: int, status_id: int) -> str:
    return f"{pipeline_id}:{status_id}"


def stage_choices() -> list[tuple[str, str]]:
    """Every cached stage as (key, "Pipeline → Stage") for a select, unsorted stages left out."""
    stages = PipelineStatus.objects.select_related("pipeline").exclude(type=1)
    return [
        (stage_key(s.pipeline.amo_id, s.status_id), f"{s.pipeline.name} → {s.name}")
        for s in stages.order_by("pipeline__sort", "pipeline__amo_id", "sort", "status_id")
    ]


def stage_map_update(*, rows: list[StageChoice]) -> None:
    """Replace the stage map with ``rows``.

    Raises ``ValidationError`` (nothing written) when a stage is unknown or claimed by two active statuses."""
    known = dict(stage_choices())
    errors: dict[str, list[str]] = {}
    claimed: dict[str, str] = {}
    labels = dict(Order.Status.choices)
    for row in rows:
        if row.order_status not in labels:
            raise ValidationError(_("Unknown order status %(status)s.") % {"status": row.order_status})
        if not row.stage:
            continue
        if row.stage not in known:
            errors.setdefault(row.order_status, []).append(_("This stage is not in the pipeline cache."))
            continue
        if row.is_active and row.stage in claimed:
            errors.setdefault(row.order_status, []).append(
                _("“%(stage)s” is already mapped to “%(other)s”: a stage can mean only one order status.")
                % {"stage": known[row.stage], "other": labels[claimed[row.stage]]}
            )
        elif row.is_active:
            claimed[row.stage] = row.order_status
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        for row in rows:
            if not row.stage:
                StageMapping.objects.filter(order_status=row.order_status).delete()
                continue
            pipeline_id, status_id = (int(part) for part in row.stage.split(":"))
            StageMapping.objects.update_or_create(
                order_status=row.order_status,
                defaults={"pipeline_id": pipeline_id, "status_id": status_id, "is_active": row.is_active},
            )
