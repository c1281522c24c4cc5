"""Webhook support pages: the inbox (filter, replay), the reverse stage map and the secret rotation."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from console.amocrm.models import (
    AmoConnection,
    OrderSync,
    Pipeline,
    PipelineStatus,
    StageMapping,
    WebhookInbox,
)
from tests.fixtures.builders import make_user

pytestmark = pytest.mark.django_db

BODY = (
    "leads%5Bstatus%5D%5B0%5D%5Bid%5D=5001&leads%5Bstatus%5D%5B0%5D%5Bstatus_id%5D=22"
    "&leads%5Bstatus%5D%5B0%5D%5Bpipeline_id%5D=1&leads%5Bstatus%5D%5B0%5D%5Blast_modified%5D={lm}"
    "&leads%5Bstatus%5D%5B0%5D%5Bname%5D=%D0%A1%D0%B5%D0%BC%D0%B8%D0%BD%D0%B0%D1%80&account%5Bsubdomain%5D=demo"
)


@pytest.fixture
def staff(client: Client) -> Client:
    client.force_login(make_user("support", role="support"))
    return client


@pytest.fixture
def admin_client_(client: Client) -> Client:
    client.force_login(get_user_model().objects.create_superuser("admin", password="pw"))
    return client


@pytest.fixture
def rows(make_order: Any) -> dict[str, WebhookInbox]:
    StageMapping.objects.create(order_status="new", pipeline_id=1, status_id=11)
    StageMapping.objects.create(order_status="reserved", pipeline_id=1, status_id=22)
    order = make_order()
    OrderSync.objects.create(
        order=order,
        lead_id=5001,
        state="synced",
        pushed_pipeline_id=1,
        pushed_status_id=11,
        last_synced_at=timezone.now() - dt.timedelta(hours=1),
    )
    order.status_changes.update(created_at=timezone.now() - dt.timedelta(hours=2))
    lm = int(timezone.now().timestamp()) - 60
    failed = WebhookInbox.objects.create(
        body=BODY.format(lm=lm).encode(),
        events="leads[status]",
        entity_ids="5001",
        outcome="failed",
        reason="RuntimeError: boom",
    )
    ignored = WebhookInbox.objects.create(
        body=b"x=1", events="contacts[add]", outcome="ignored", reason="nope"
    )
    return {"failed": failed, "ignored": ignored}


def test_the_inbox_lists_deliveries_with_their_outcomes(staff: Client, rows: dict[str, WebhookInbox]) -> None:
    page = staff.get(reverse("web:webhooks")).content.decode()
    assert "RuntimeError: boom" in page
    assert "contacts[add]" in page
    assert "kept 90 days" in page or "хранятся 90 дней" in page  # how long support can look back


def test_the_inbox_filters_by_outcome_and_lead(staff: Client, rows: dict[str, WebhookInbox]) -> None:
    page = staff.get(reverse("web:webhooks"), {"outcome": "ignored"}).content.decode()
    assert "contacts[add]" in page
    assert "RuntimeError: boom" not in page
    page = staff.get(reverse("web:webhooks"), {"lead": "5001"}).content.decode()
    assert "RuntimeError: boom" in page
    assert "contacts[add]" not in page


def test_htmx_gets_only_the_table(staff: Client, rows: dict[str, WebhookInbox]) -> None:
    page = staff.get(reverse("web:webhooks"), HTTP_HX_REQUEST="true").content.decode()
    assert page.lstrip().startswith('<div id="webhooks-table">')


def test_a_delivery_page_shows_the_decoded_body_and_items(
    staff: Client, rows: dict[str, WebhookInbox]
) -> None:
    page = staff.get(reverse("web:webhook_detail", args=[rows["failed"].pk])).content.decode()
    assert "leads[status][0][name]=Семинар" in page


def test_replaying_a_failed_row_applies_it(
    staff: Client, rows: dict[str, WebhookInbox], django_capture_on_commit_callbacks: Any
) -> None:
    row = rows["failed"]
    with django_capture_on_commit_callbacks(execute=True):  # the replay task (inline in the test cluster)
        response = staff.post(reverse("web:webhook_replay", args=[row.pk]), {"next": reverse("web:webhooks")})
    assert response.status_code == 302
    row.refresh_from_db()
    assert (row.outcome, row.attempts) == ("applied", 1)
    assert OrderSync.objects.get(lead_id=5001).order.status == "reserved"


def test_replay_over_htmx_answers_the_row(
    staff: Client, rows: dict[str, WebhookInbox], django_capture_on_commit_callbacks: Any
) -> None:
    row = rows["failed"]
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(reverse("web:webhook_replay", args=[row.pk]), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.lstrip().startswith(f'<tr id="webhook-{row.pk}">')
    row.refresh_from_db()
    assert row.outcome == "applied"


def test_replay_needs_a_post_and_staff(client: Client, staff: Client, rows: dict[str, WebhookInbox]) -> None:
    url = reverse("web:webhook_replay", args=[rows["failed"].pk])
    assert staff.get(url).status_code == 405
    anonymous = Client()
    assert anonymous.post(url).status_code == 302  # to the login page
    assert WebhookInbox.objects.get(pk=rows["failed"].pk).attempts == 0


def test_the_reverse_stage_map_lists_unmapped_stages(staff: Client, db: None) -> None:  # noqa: ARG001
    pipeline = Pipeline.objects.create(amo_id=1, name="Аренда")
    for status_id, name in [
        (11, "Новая"),
        (22, "Бронь"),
        (33, "Переговоры"),
        (142, "Успешно"),
        (143, "Отказ"),
    ]:
        PipelineStatus.objects.create(pipeline=pipeline, status_id=status_id, name=name)
    StageMapping.objects.create(order_status="new", pipeline_id=1, status_id=11)
    StageMapping.objects.create(order_status="reserved", pipeline_id=1, status_id=22, is_active=False)
    response = staff.get(reverse("web:webhook_stages"))
    unmapped = response.context["unmapped"]
    assert [s["stage"].name for s in unmapped] == ["Бронь", "Переговоры", "Успешно"]
    assert "disabled" in unmapped[0]["reason"]
    assert [s["status"] for s in response.context["stages"] if s["stage"].status_id == 143] == ["cancelled"]
    assert "Переговоры" in response.content.decode()


def test_only_admins_may_rotate_the_secret(staff: Client, db: None) -> None:  # noqa: ARG001
    before = AmoConnection.get_solo().webhook_secret
    assert staff.post(reverse("web:webhook_secret_rotate")).status_code == 403
    assert AmoConnection.get_solo().webhook_secret == before


def test_rotating_the_secret_makes_the_old_url_fail(admin_client_: Client, amo_setup: Any) -> None:
    old = AmoConnection.get_solo().webhook_secret
    response = admin_client_.post(reverse("web:webhook_secret_rotate"))
    assert response.status_code == 302
    new = AmoConnection.get_solo().webhook_secret
    assert new != old
    hook = Client()
    body = "leads%5Bstatus%5D%5B0%5D%5Bid%5D=1&account%5Bsubdomain%5D=" + AmoConnection.get_solo().subdomain
    post = {"data": body, "content_type": "application/x-www-form-urlencoded"}
    assert hook.post(reverse("amocrm:webhook", args=[old]), **post).status_code == 404
    assert hook.post(reverse("amocrm:webhook", args=[new]), **post).status_code == 200
