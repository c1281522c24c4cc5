"""The stage map page: admins map order statuses to cached AmoCRM stages (a stage means one status), support
reads it; both directions, warnings, the default pipeline and the audited history."""

from __future__ import annotations

import pytest
from django.urls import reverse

from console.amocrm.models import ConfigChange, Pipeline, PipelineStatus, StageMapping
from console.orders.models import Order
from tests.fixtures.builders import make_user

pytestmark = pytest.mark.django_db


def post_map(client, mapping: dict[str, tuple[str, bool]], confirmed: bool = True):  # noqa: ANN001, ANN201
    """Post ``{status: (stage key, active)}`` as the form does (a hidden "off" before the checkbox's "on");
    ``confirmed``: as the confirmation step of a save that removes mappings posts it again."""
    data = {"confirmed": "1"} if confirmed else {}
    for status, (stage, active) in mapping.items():
        data[f"stage_{status}"] = stage
        data[f"active_{status}"] = ["off", "on"] if active else ["off"]
    return client.post(reverse("web:stage_map"), data)


def rows() -> dict[str, tuple[str, bool]]:
    return {
        m.order_status: (f"{m.pipeline_id}:{m.status_id}", m.is_active) for m in StageMapping.objects.all()
    }


def logged_in(client, role: str):  # noqa: ANN001, ANN201
    client.force_login(make_user(role, role=role))
    return client


def stage_keys() -> list[str]:
    stages = (
        PipelineStatus.objects.select_related("pipeline").exclude(type=1).order_by("pipeline__amo_id", "sort")
    )
    return [f"{s.pipeline.amo_id}:{s.status_id}" for s in stages]


def test_managers_and_users_without_a_role_may_not_open_the_stage_map(client, db):
    assert logged_in(client, "manager").get(reverse("web:stage_map")).status_code == 403
    client.force_login(make_user("nobody"))
    assert client.get(reverse("web:stage_map")).status_code == 403


def test_support_reads_the_map_without_a_form_and_may_not_change_it(client, amo_setup):
    support = logged_in(client, "support")
    page = support.get(reverse("web:stage_map"))
    body = page.content.decode()
    assert page.status_code == 200
    assert '<select name="stage_' not in body and 'id="stage-map-form"' not in body
    assert "Only administrators change the stage map." in body
    before = rows()
    assert post_map(support, {"new": ("", True)}).status_code == 403
    assert rows() == before


def test_it_rejects_other_methods(admin_client, db):
    assert admin_client.put(reverse("web:stage_map")).status_code == 405
    assert admin_client.delete(reverse("web:stage_map")).status_code == 405


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


def test_an_empty_post_changes_nothing_and_records_nothing(admin_client, amo_setup):
    before = rows()
    response = admin_client.post(reverse("web:stage_map"), {}, follow=True)
    assert "Nothing changed in the stage map." in response.content.decode()
    assert rows() == before
    assert not ConfigChange.objects.filter(area="stage_map").exists()


def test_a_partial_post_changes_only_the_posted_statuses(admin_client, amo_setup):
    before = rows()
    target = next(k for k in stage_keys() if k not in {v[0] for v in before.values()})
    assert admin_client.post(reverse("web:stage_map"), {"stage_in_progress": target}).status_code == 302
    after = rows()
    assert after["in_progress"] == (target, before["in_progress"][1])  # no flag posted: the flag stays
    assert {s: v for s, v in after.items() if s != "in_progress"} == {
        s: v for s, v in before.items() if s != "in_progress"
    }


def test_a_status_posted_with_an_empty_stage_is_unmapped(admin_client, amo_setup):
    before = rows()
    response = admin_client.post(reverse("web:stage_map"), {"stage_archived": "", "confirmed": "1"})
    assert response.status_code == 302
    assert set(rows()) == set(before) - {"archived"}


def test_a_change_is_audited_and_listed_with_names(admin_client, amo_setup):
    before = rows()
    target = next(k for k in stage_keys() if k not in {v[0] for v in before.values()})
    admin_client.post(
        reverse("web:stage_map"), {"stage_in_progress": target, "stage_archived": "", "confirmed": "1"}
    )
    change = ConfigChange.objects.get(area="stage_map")
    assert change.actor == "admin"
    assert set(change.before) == set(change.after) == {"in_progress", "archived"}
    assert change.before["in_progress"]["stage"] == before["in_progress"][0]
    assert change.after["in_progress"] == {
        "stage": target,
        "name": change.after["in_progress"]["name"],
        "active": True,
    }
    assert change.after["archived"] is None
    body = admin_client.get(reverse("web:stage_map")).content.decode()
    assert "Stage map changed" in body and change.after["in_progress"]["name"] in body
    assert "not mapped" in body


def test_a_refused_post_keeps_what_was_chosen_on_the_page(admin_client, amo_setup):
    current = rows()
    response = post_map(admin_client, {"reserved": (current["new"][0], True)})
    assert response.status_code == 400
    body = response.content.decode()
    assert 'id="row-reserved"' in body
    reserved_row = body.split('id="row-reserved"')[1].split("</tr>")[0]
    assert f'value="{current["new"][0]}" selected' in reserved_row
    assert rows() == current


def test_both_directions_and_the_warnings_are_shown(admin_client, amo_setup):
    current = rows()
    # "in_rent" takes the stage of "new" as an inactive row (no conflict), "archived" is unmapped.
    StageMapping.objects.filter(order_status="archived").delete()
    body = admin_client.get(reverse("web:stage_map")).content.decode()
    assert "Order status → AmoCRM stage" in body and "AmoCRM stage → order status" in body
    warnings = body.split('id="stage-map-warnings"')[1].split("</section>")[0]
    assert "Statuses without a stage" in warnings and "Archived" in warnings
    assert "stages no status maps to" in warnings
    reverse_table = body.split('id="stage-to-status"')[1].split("</section>")[0]
    assert "ignored" in reverse_table and "no status maps to it" in reverse_table
    # two active rows on one stage: a conflict the page names
    pipeline_id, status_id = (int(p) for p in current["new"][0].split(":"))
    StageMapping.objects.filter(order_status="reserved").update(pipeline_id=pipeline_id, status_id=status_id)
    body = admin_client.get(reverse("web:stage_map")).content.decode()
    assert "is claimed by several statuses" in body and "several statuses claim it" in body


def test_a_row_whose_stage_left_the_cache_is_a_warning(admin_client, amo_setup):
    StageMapping.objects.filter(order_status="in_rent").update(status_id=999999)
    body = admin_client.get(reverse("web:stage_map")).content.decode()
    assert "which is not in the pipeline cache" in body and ":999999" in body


def test_the_default_pipeline_is_named_and_its_source_told(admin_client, amo_setup, settings):
    new = StageMapping.objects.get(order_status="new")
    name = PipelineStatus.objects.filter(pipeline__amo_id=new.pipeline_id).first().pipeline.name
    settings.AMO_PIPELINE_ID = ""
    body = admin_client.get(reverse("web:stage_map")).content.decode()
    section = body.split('id="default-pipeline"')[1].split("</section>")[0]
    assert name in section and "the server's settings name none" in section
    assert f"id {new.pipeline_id}" not in section  # issue 22: a name, not amoCRM's number, once it is known
    settings.AMO_PIPELINE_ID = str(new.pipeline_id)
    body = admin_client.get(reverse("web:stage_map")).content.decode()
    assert "named in the server's settings" in body
    PipelineStatus.objects.all().delete()
    Pipeline.objects.all().delete()
    body = admin_client.get(reverse("web:stage_map")).content.decode()
    section = body.split('id="default-pipeline"')[1].split("</section>")[0]
    assert f"id {new.pipeline_id}" in section  # not cached: the number is all there is to tell it by
