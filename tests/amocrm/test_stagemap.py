"""The stage map: forward and backward lookups, and the one default-pipeline rule both directions share."""

from __future__ import annotations

import pytest

from console.amocrm.models import StageMapping
from console.amocrm.stagemap import Stage, StageMap, default_pipeline, stage_for_status


def test_stage_lookup_uses_the_map_and_sends_deleted_orders_to_the_cancelled_stage() -> None:
    stage_map = {"new": Stage(10, 11), "in_rent": Stage(10, 12), "cancelled": Stage(10, 99)}
    assert stage_for_status("in_rent", stage_map) == Stage(10, 12)
    assert stage_for_status("in_rent", stage_map, deleted=True) == Stage(10, 99)
    assert stage_for_status("archived", stage_map) is None


def test_cancelled_falls_back_to_lost_143_in_the_mapped_pipeline() -> None:
    assert stage_for_status("cancelled", {"new": Stage(10, 11)}) == Stage(10, 143)
    assert stage_for_status("cancelled", {}, default_pipeline_id=3) == Stage(3, 143)
    assert stage_for_status("cancelled", {}) is None


def test_the_default_pipeline_is_the_setting_then_the_new_row_then_the_first_status() -> None:
    stage_map = {"archived": Stage(7, 142), "new": Stage(10, 11), "in_rent": Stage(12, 13)}
    assert default_pipeline(stage_map, env_pipeline_id=99) == 99
    assert default_pipeline(stage_map) == 10
    assert default_pipeline({"archived": Stage(7, 142), "in_rent": Stage(12, 13)}) == 12  # order-status order
    assert default_pipeline({}) is None


def _rows(*rows: tuple[str, int, int, bool]) -> None:
    for status, pipeline_id, status_id, active in rows:
        StageMapping.objects.create(
            order_status=status, pipeline_id=pipeline_id, status_id=status_id, is_active=active
        )


@pytest.mark.django_db
@pytest.mark.parametrize("env", ["", "30"])
def test_both_directions_pick_the_same_lost_stage(settings, env: str) -> None:
    # The "new" row is in pipeline 20, another status in pipeline 10: the old code sent cancelled orders to
    # 10/143 (the first row) but read 20/143 back as "cancelled" (the "new" row's pipeline).
    settings.AMO_PIPELINE_ID = env
    _rows(("archived", 10, 142, True), ("new", 20, 21, True), ("in_rent", 20, 22, True))
    stage_map = StageMap.load()
    lost = stage_map.stage_for("cancelled")
    assert lost == Stage(int(env or 20), 143)
    assert stage_map.status_for(lost.pipeline_id, lost.status_id) == ("cancelled", None)
    assert stage_map.stage_for("in_rent", deleted=True) == lost


@pytest.mark.django_db
def test_a_stage_two_active_rows_claim_means_nothing_and_a_disabled_one_says_so() -> None:
    _rows(
        ("new", 1, 11, True), ("reserved", 1, 12, True), ("in_rent", 1, 12, True), ("archived", 1, 142, False)
    )
    stage_map = StageMap.load()
    assert stage_map.status_for(1, 11) == ("new", None)
    status, why = stage_map.status_for(1, 12)
    assert status is None and why["code"] == "stage_ambiguous"
    status, why = stage_map.status_for(1, 142)
    assert status is None and why["code"] == "stage_disabled"
    assert stage_map.stage_for("archived") is None  # an inactive row sends nothing


@pytest.mark.django_db
def test_seeding_maps_only_what_is_unambiguous_and_says_what_it_left() -> None:
    from console.amocrm.models import Pipeline
    from console.amocrm.stagemap import stage_map_seed

    main = Pipeline.objects.create(amo_id=10, name="Аренда", is_main=True)
    for status_id, sort in [(11, 10), (12, 20), (142, 30), (143, 40)]:  # two ordinary stages, four statuses
        main.statuses.create(status_id=status_id, name=str(status_id), sort=sort)
    report = stage_map_seed()
    stage = {m.order_status: (m.pipeline_id, m.status_id) for m in StageMapping.objects.all()}
    assert stage == {"new": (10, 11), "reserved": (10, 12), "archived": (10, 142), "cancelled": (10, 143)}
    assert "in_rent" in report.notes[0] and "in_progress" in report.notes[0]
    # every seeded stage means one status, so the map reads back unambiguously
    assert not StageMap.load().reverse.conflicts
