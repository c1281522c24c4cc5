"""The stage map editor: admins map order statuses to cached AmoCRM stages; a stage means one status."""

from __future__ import annotations

import pytest
from django.urls import reverse

from console.amocrm.models import PipelineStatus, StageMapping
from console.orders.models import Order

pytestmark = pytest.mark.django_db


def post_map(client, mapping: dict[str, tuple[str, bool]]):  # noqa: ANN001, ANN201
    data = {}
    for status, (stage, active) in mapping.items():
        data[f"stage_{status}"] = stage
        if active:
            data[f"active_{status}"] = "on"
    return client.post(reverse("web:stage_map"), data)


def stage_keys() -> list[str]:
    stages = (
        PipelineStatus.objects.select_related("pipeline").exclude(type=1).order_by("pipeline__amo_id", "sort")
    )
    return [f"{s.pipeline.amo_id}:{s.status_id}" for s in stages]


def test_only_admins_open_the_stage_map(client, django_user_model):
    from tests.fixtures.builders import make_user

    staff = make_user("manager", role="manager")
    client.force_login(staff)
    assert client.get(reverse("web:stage_map")).status_code == 403


def test_it_lists_cached_stages_and_the_current_map(admin_client, amo_setup):
    body = admin_client.get(reverse("web:stage_map")).content.decode()
    mapping = StageMapping.objects.get(order_status="new")
    assert f'value="{mapping.pipeline_id}:{mapping.status_id}" selected' in body
    assert "Закрыто и не реализовано" in body


def test_an_admin_remaps_a_status(admin_client, amo_setup):
    keys = stage_keys()
    current = {
        m.order_status: (f"{m.pipeline_id}:{m.status_id}", m.is_active) for m in StageMapping.objects.all()
    }
    target = next(k for k in keys if k not in {v[0] for v in current.values()})
    current["in_progress"] = (target, True)
    response = post_map(admin_client, current)
    assert response.status_code == 302
    row = StageMapping.objects.get(order_status="in_progress")
    assert f"{row.pipeline_id}:{row.status_id}" == target


def test_two_statuses_on_one_stage_are_refused_and_nothing_changes(admin_client, amo_setup):
    before = list(StageMapping.objects.values_list("order_status", "pipeline_id", "status_id", "is_active"))
    current = {m.order_status: (f"{m.pipeline_id}:{m.status_id}", True) for m in StageMapping.objects.all()}
    current["reserved"] = current["new"]
    response = post_map(admin_client, current)
    assert response.status_code == 400
    assert "a stage can mean only one order status" in response.content.decode()
    after = list(StageMapping.objects.values_list("order_status", "pipeline_id", "status_id", "is_active"))
    assert before == after


def test_an_inactive_duplicate_is_allowed_and_unmapping_deletes_the_row(admin_client, amo_setup):
    current = {m.order_status: (f"{m.pipeline_id}:{m.status_id}", True) for m in StageMapping.objects.all()}
    current["reserved"] = (current["new"][0], False)
    current["archived"] = ("", True)
    assert post_map(admin_client, current).status_code == 302
    assert StageMapping.objects.get(order_status="reserved").is_active is False
    assert not StageMapping.objects.filter(order_status="archived").exists()


def test_an_unknown_stage_is_a_form_error(admin_client, amo_setup):
    response = post_map(
        admin_client, {status: ("", True) for status in Order.Status.values} | {"new": ("1:2", True)}
    )
    assert response.status_code == 400
    assert "not in the pipeline cache" in response.content.decode()
