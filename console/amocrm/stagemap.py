"""The order-status ⇄ pipeline-stage map: the one place that decides what a stage means.

- Forward (an order's status -> the stage its deal goes to): the active rows; a cancelled or deleted order
  without a row of its own goes to the "lost" stage (143) of the default pipeline.
- Backward (a stage amoCRM reports -> the order status it sets): the active rows read backwards; a stage two
  active rows claim, or one only a disabled row maps, sets nothing.
- The default pipeline, one rule for both directions (:func:`default_pipeline`): ``AMO_PIPELINE_ID`` when
  set, else the pipeline of the "new" row, else that of the first active row in order-status order.
- Seeding (:func:`stage_map_seed`, run by account setup): ``AMO_PIPELINE_ID`` / ``AMO_STATUS_*`` first, else
  the main pipeline's ordinary stages by position, 142/143 for archived/cancelled; only what is unambiguous
  (a pipeline with fewer ordinary stages than statuses leaves the rest unmapped, with a warning); never
  overwrites a row.
- The admin's page (:func:`stage_map_overview`): both directions, the warnings (unmapped statuses, stages
  nothing maps to, conflicts, rows whose stage left the cache) and the default pipeline.
- Editing (:func:`stage_map_update`): only the statuses posted change; a status maps to at most one stage
  and a stage to at most one active status; only stages in the pipeline cache can be chosen; every change
  is audited (``ConfigChange``, area ``stage_map``).

Pipelines and their stages: https://www.amocrm.ru/developers/content/crm_platform/leads_pipelines
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from console.amocrm.models import ConfigChange, Pipeline, PipelineStatus, StageMapping
from console.amocrm.reasons import Code, Reason, reason
from console.orders.models import Order

logger = logging.getLogger(__name__)

# Every amoCRM pipeline has these two closing stages.
WON_STATUS_ID = 142
LOST_STATUS_ID = 143
# Order statuses placed on the main pipeline's ordinary stages by position when nothing else says otherwise.
POSITIONAL_STATUSES = ["new", "reserved", "in_rent", "in_progress"]
FIXED_STATUSES = {"archived": WON_STATUS_ID, "cancelled": LOST_STATUS_ID}


@dataclass(frozen=True)
class Stage:
    """Where a deal sits in amoCRM: a pipeline and a status (stage) in it."""

    pipeline_id: int
    status_id: int


def _int(value: object) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


# --- the default pipeline and the forward direction ---------------------------------------------------------


def default_pipeline(stage_map: Mapping[str, Stage], env_pipeline_id: int | None = None) -> int | None:
    """The default pipeline: ``env_pipeline_id`` (``AMO_PIPELINE_ID``), else the "new" status's pipeline in
    ``stage_map`` (active rows), else the pipeline of its first status in order-status order."""
    if env_pipeline_id:
        return env_pipeline_id
    if Order.Status.NEW in stage_map:
        return stage_map[Order.Status.NEW].pipeline_id
    first = next((stage_map[s] for s in Order.Status.values if s in stage_map), None)
    return first.pipeline_id if first else None


def stage_for_status(
    status: str,
    stage_map: Mapping[str, Stage],
    *,
    deleted: bool = False,
    default_pipeline_id: int | None = None,
) -> Stage | None:
    """The stage an order with ``status`` should be in, from ``stage_map`` (active rows only).

    A deleted or cancelled order goes to the stage mapped for "cancelled", else to 143 ("lost") in
    ``default_pipeline_id`` (when None: :func:`default_pipeline` of ``stage_map``). None when nothing is
    mapped (the deal's stage is left as it is).
    """
    key = Order.Status.CANCELLED if deleted else status
    if key in stage_map:
        return stage_map[key]
    if key == Order.Status.CANCELLED:
        pipeline_id = default_pipeline_id or default_pipeline(stage_map)
        return Stage(int(pipeline_id), LOST_STATUS_ID) if pipeline_id else None
    return None


# --- the backward direction ---------------------------------------------------------------------------------


@dataclass
class ReverseStageMap:
    """(pipeline id, status id) -> order status, the stage map read backwards.

    ``statuses`` holds the stages that map to exactly one order status by an active row; ``disabled`` the
    stages mapped only by inactive rows; ``conflicts`` the stages that several active rows claim (ignored
    until an admin fixes the map); ``implicit`` the "lost" stage of the default pipeline when "cancelled"
    has no row (the forward direction sends cancelled orders there).
    """

    statuses: dict[tuple[int, int], str] = field(default_factory=dict)
    disabled: dict[tuple[int, int], list[str]] = field(default_factory=dict)
    conflicts: dict[tuple[int, int], list[str]] = field(default_factory=dict)
    implicit: set[tuple[int, int]] = field(default_factory=set)

    def lookup(self, pipeline_id: int, status_id: int) -> tuple[str | None, Reason | None]:
        """The order status for the stage, or None and the reason it is not applied."""
        stage = (pipeline_id, status_id)
        at = {"pipeline_id": pipeline_id, "status_id": status_id}
        if stage in self.conflicts:
            return None, reason(Code.STAGE_AMBIGUOUS, **at, statuses=list(self.conflicts[stage]))
        if stage in self.statuses:
            return self.statuses[stage], None
        if stage in self.disabled:
            return None, reason(Code.STAGE_DISABLED, **at)
        return None, reason(Code.STAGE_UNMAPPED, **at)


def _reverse(rows: Iterable[StageMapping], default_pipeline_id: int | None) -> ReverseStageMap:
    rows = list(rows)
    claims: dict[tuple[int, int], list[str]] = {}
    result = ReverseStageMap()
    for row in rows:
        stage = (row.pipeline_id, row.status_id)
        target = claims if row.is_active else result.disabled
        target.setdefault(stage, []).append(row.order_status)
    lost = (default_pipeline_id, LOST_STATUS_ID)
    has_cancelled_row = any(r.order_status == Order.Status.CANCELLED for r in rows)
    if default_pipeline_id is not None and not has_cancelled_row and lost not in claims:
        claims[lost] = [Order.Status.CANCELLED]
        result.implicit.add(lost)
    for stage, statuses in claims.items():
        if len(statuses) == 1:
            result.statuses[stage] = statuses[0]
        else:
            result.conflicts[stage] = sorted(statuses)
    return result


# --- the map as the sync reads it ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StageMap:
    """The stage map in both directions, read once (per sync run, per webhook item)."""

    forward: dict[str, Stage]
    default_pipeline_id: int | None
    reverse: ReverseStageMap

    @classmethod
    def load(cls) -> StageMap:
        rows = list(StageMapping.objects.all())
        forward = {r.order_status: Stage(int(r.pipeline_id), int(r.status_id)) for r in rows if r.is_active}
        default = default_pipeline(forward, _int(getattr(settings, "AMO_PIPELINE_ID", "")))
        return cls(forward=forward, default_pipeline_id=default, reverse=_reverse(rows, default))

    def stage_for(self, status: str, *, deleted: bool = False) -> Stage | None:
        """The stage an order with ``status`` (or deleted) should be in; see :func:`stage_for_status`."""
        return stage_for_status(
            status, self.forward, deleted=deleted, default_pipeline_id=self.default_pipeline_id
        )

    def status_for(self, pipeline_id: int, status_id: int) -> tuple[str | None, Reason | None]:
        """The order status a move to the stage sets, or None and why not."""
        return self.reverse.lookup(pipeline_id, status_id)


def reverse_stage_map() -> ReverseStageMap:
    """The stage map read backwards (see :class:`ReverseStageMap`)."""
    return StageMap.load().reverse


# --- seeding ------------------------------------------------------------------------------------------------


@dataclass
class SeedReport:
    """What :func:`stage_map_seed` did: statuses given a row, rows disabled, and notes for the admin."""

    created: list[str] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _main_pipeline() -> Pipeline | None:
    return Pipeline.objects.filter(is_main=True).first() or Pipeline.objects.filter(is_archive=False).first()


def _stage_exists(pipeline_id: int, status_id: int) -> bool:
    return PipelineStatus.objects.filter(pipeline__amo_id=pipeline_id, status_id=status_id).exists()


def _env_stage(status: str) -> tuple[int, int] | None:
    pipeline, stage = settings.AMO_PIPELINE_ID, settings.AMO_STATUS_MAP_ENV.get(status, "")
    if not (pipeline and stage):
        return None
    if _int(pipeline) is None or _int(stage) is None:
        logger.warning("AMO_PIPELINE_ID / AMO_STATUS_%s are not numbers; ignored", status.upper())
        return None
    return int(pipeline), int(stage)


def stage_defaults() -> dict[str, tuple[int, int]]:
    """Initial stage per order status: the environment's map, else the main pipeline by position, 142/143."""
    main = _main_pipeline()
    ordinary = []
    if main is not None:
        ordinary = [
            s.status_id
            for s in main.statuses.filter(type=0).exclude(status_id__in=[WON_STATUS_ID, LOST_STATUS_ID])
        ]
    defaults: dict[str, tuple[int, int]] = {}
    for status in Order.Status.values:
        env_stage = _env_stage(status)
        if env_stage and (_stage_exists(*env_stage) or not Pipeline.objects.exists()):
            defaults[status] = env_stage
        elif main is not None and status in FIXED_STATUSES:
            defaults[status] = (main.amo_id, FIXED_STATUSES[status])
        elif main is not None and status in POSITIONAL_STATUSES:
            index = POSITIONAL_STATUSES.index(status)
            if index < len(ordinary):  # one stage per status: two statuses on one stage mean nothing back
                defaults[status] = (main.amo_id, ordinary[index])
    return defaults


def stage_map_seed() -> SeedReport:
    """Give every status without a row its default stage; an existing row is the admin's choice and stays,
    unless its stage disappeared from amoCRM (then it is disabled)."""
    report = SeedReport()
    existing = {m.order_status: m for m in StageMapping.objects.all()}
    defaults = stage_defaults()
    for status, (pipeline_id, status_id) in defaults.items():
        if status not in existing:
            StageMapping.objects.create(order_status=status, pipeline_id=pipeline_id, status_id=status_id)
            report.created.append(status)
    left = [s for s in Order.Status.values if s not in defaults and s not in existing]
    if left and Pipeline.objects.exists():
        report.notes.append(
            "not mapped (no stage of its own in the main pipeline): " + ", ".join(left) + "; map them on the "
            "stage map page"
        )
    if not Pipeline.objects.exists():
        return report
    for status, mapping in existing.items():
        if mapping.is_active and not _stage_exists(mapping.pipeline_id, mapping.status_id):
            StageMapping.objects.filter(pk=mapping.pk).update(is_active=False)
            report.deactivated.append(status)
            report.notes.append(f"stage of {status!r} no longer exists in amoCRM: mapping disabled")
    return report


# --- the admin's page: both directions, warnings, the editor ------------------------------------------------

# The audit summary of an edit, stored in English and translated when shown.
AUDIT_EDITED = gettext_noop("Stage map changed")
# (stage key, active) of one status's row; keys are "pipeline_id:status_id".
Entry = tuple[str, bool]


def stage_key(pipeline_id: int, status_id: int) -> str:
    return f"{pipeline_id}:{status_id}"


def _cached_stages() -> list[PipelineStatus]:
    stages = PipelineStatus.objects.select_related("pipeline")
    return list(stages.order_by("pipeline__sort", "pipeline__amo_id", "sort", "status_id"))


def _label(stage: PipelineStatus) -> str:
    return f"{stage.pipeline.name} → {stage.name}"


def stage_labels() -> dict[tuple[int, int], str]:
    """(pipeline id, status id) -> "Pipeline → Stage" for every cached stage."""
    return {(s.pipeline.amo_id, s.status_id): _label(s) for s in _cached_stages()}


def stage_choices() -> list[tuple[str, str]]:
    """Every cached stage a status can be mapped to as (key, "Pipeline → Stage"), unsorted stages left out."""
    return [(stage_key(s.pipeline.amo_id, s.status_id), _label(s)) for s in _cached_stages() if s.type != 1]


def _current() -> dict[str, Entry]:
    return {
        m.order_status: (stage_key(m.pipeline_id, m.status_id), m.is_active)
        for m in StageMapping.objects.all()
    }


@dataclass(frozen=True)
class StageChoice:
    """One status as the editor posts it: ``stage`` is "pipeline_id:status_id" or "" for "not mapped";
    ``is_active`` None keeps the row's flag (a new row is active)."""

    order_status: str
    stage: str
    is_active: bool | None = None


@dataclass(frozen=True)
class StageMeaning:
    """A cached stage read backwards: the order status a move there sets, or None and ``why`` not
    ("conflict": several statuses claim it, named in ``claims``; "disabled"; "unmapped")."""

    key: str
    label: str
    status: str | None
    why: str = ""
    claims: tuple[str, ...] = ()
    implicit: bool = False


@dataclass(frozen=True)
class StageMapOverview:
    """The stage map page: every status's row (``rows``, "" for unmapped), the stages it may choose, every
    cached stage read backwards, the warnings, and the default pipeline."""

    rows: dict[str, Entry]
    choices: list[tuple[str, str]]
    stages: list[StageMeaning]
    unmapped_statuses: list[str]
    conflicts: list[StageMeaning]
    missing: list[tuple[str, str]]
    default_pipeline_id: int | None
    default_pipeline_name: str
    default_from_env: bool

    @property
    def ignored_stages(self) -> list[StageMeaning]:
        return [s for s in self.stages if s.status is None]


def _meaning(stage: PipelineStatus, reverse: ReverseStageMap) -> StageMeaning:
    at = (stage.pipeline.amo_id, stage.status_id)
    status, _reason = reverse.lookup(*at)
    key, label = stage_key(*at), _label(stage)
    if at in reverse.conflicts:
        return StageMeaning(key, label, None, "conflict", tuple(reverse.conflicts[at]))
    if status is None:
        return StageMeaning(key, label, None, "disabled" if at in reverse.disabled else "unmapped")
    return StageMeaning(key, label, status, implicit=at in reverse.implicit)


def stage_map_overview() -> StageMapOverview:
    """Everything the stage map page shows, read from the map (``StageMap.load``) and the pipeline cache."""
    stage_map = StageMap.load()
    cached = _cached_stages()
    stages = [_meaning(stage, stage_map.reverse) for stage in cached]
    current = _current()
    known = {stage.key for stage in stages}
    cancelled_implied = bool(stage_map.reverse.implicit)
    env_pipeline = _int(getattr(settings, "AMO_PIPELINE_ID", ""))
    default = stage_map.default_pipeline_id
    return StageMapOverview(
        rows={status: current.get(status, ("", True)) for status in Order.Status.values},
        choices=[(s.key, s.label) for s, c in zip(stages, cached, strict=True) if c.type != 1],
        stages=stages,
        unmapped_statuses=[
            status
            for status in Order.Status.values
            if status not in stage_map.forward
            and not (status == Order.Status.CANCELLED and cancelled_implied)
        ],
        conflicts=[stage for stage in stages if stage.why == "conflict"],
        missing=[(status, key) for status, (key, _active) in current.items() if key not in known],
        default_pipeline_id=default,
        default_pipeline_name=next((c.pipeline.name for c in cached if c.pipeline.amo_id == default), ""),
        default_from_env=bool(env_pipeline) and env_pipeline == default,
    )


def _merged(current: dict[str, Entry], rows: list[StageChoice]) -> dict[str, Entry]:
    merged = dict(current)
    for row in rows:
        if row.order_status not in Order.Status.values:
            raise ValidationError(
                {"__all__": [_("Unknown order status %(status)s.") % {"status": row.order_status}]}
            )
        if not row.stage:
            merged.pop(row.order_status, None)
            continue
        active = current.get(row.order_status, ("", True))[1] if row.is_active is None else row.is_active
        merged[row.order_status] = (row.stage, active)
    return merged


def _validate(
    rows: list[StageChoice], merged: dict[str, Entry], known: dict[str, str]
) -> dict[str, list[str]]:
    """Errors by posted status: a stage not in the cache, or one another active status claims too."""
    labels = dict(Order.Status.choices)
    claims: dict[str, list[str]] = {}
    for status, (stage, active) in merged.items():
        if active:
            claims.setdefault(stage, []).append(status)
    errors: dict[str, list[str]] = {}
    for row in rows:
        if not row.stage:
            continue
        if row.stage not in known:
            errors.setdefault(row.order_status, []).append(_("This stage is not in the pipeline cache."))
            continue
        stage, active = merged[row.order_status]
        others = [str(labels[s]) for s in claims[stage] if s != row.order_status] if active else []
        if others:
            errors.setdefault(row.order_status, []).append(
                _("“%(stage)s” is already mapped to “%(other)s”: a stage can mean only one order status.")
                % {"stage": known[stage], "other": ", ".join(others)}
            )
    return errors


def _audited(entry: Entry | None, labels: dict[str, str]) -> dict[str, object] | None:
    if entry is None:
        return None
    return {"stage": entry[0], "name": labels.get(entry[0], entry[0]), "active": entry[1]}


def stage_map_update(*, rows: list[StageChoice], actor: str = "") -> list[str]:
    """Apply ``rows`` to the stage map and return the statuses that changed.

    Only the statuses in ``rows`` change: a status absent from them keeps its row, one with stage "" loses
    it (unmapped). Raises ``ValidationError`` by status (nothing written) when a stage is not in the pipeline
    cache or would be claimed by two active statuses. A change is recorded as one ``ConfigChange`` (area
    ``stage_map``) with each changed status before and after."""
    cached = _cached_stages()
    labels = {stage_key(s.pipeline.amo_id, s.status_id): _label(s) for s in cached}
    known = {stage_key(s.pipeline.amo_id, s.status_id): _label(s) for s in cached if s.type != 1}
    current = _current()
    merged = _merged(current, rows)
    errors = _validate(rows, merged, known)
    if errors:
        raise ValidationError(errors)
    changed = [status for status in Order.Status.values if current.get(status) != merged.get(status)]
    if not changed:
        return []
    with transaction.atomic():
        for status in changed:
            if status not in merged:
                StageMapping.objects.filter(order_status=status).delete()
                continue
            stage, active = merged[status]
            pipeline_id, status_id = (int(part) for part in stage.split(":"))
            StageMapping.objects.update_or_create(
                order_status=status,
                defaults={"pipeline_id": pipeline_id, "status_id": status_id, "is_active": active},
            )
        ConfigChange.objects.create(
            area=ConfigChange.Area.STAGE_MAP,
            actor=actor[:150],
            summary=AUDIT_EDITED,
            before={status: _audited(current.get(status), labels) for status in changed},
            after={status: _audited(merged.get(status), labels) for status in changed},
        )
    return changed
