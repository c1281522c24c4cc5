"""Webhook support pages: the inbox (filter, replay), the reverse stage map and the secret rotation."""

from __future__ import annotations

import datetime as dt
import json
import re
from html import unescape
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from console.amocrm.models import (
    AmoConnection,
    ConfigChange,
    OrderSync,
    Pipeline,
    PipelineStatus,
    StageMapping,
    WebhookInbox,
)
from console.amocrm.reasons import codes
from tests.fixtures.builders import make_user
from tests.legacy_reasons import from_prose

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


def failed_delivery(make_order: Any) -> WebhookInbox:
    """An order on lead 5001 (pushed at stage 1/11 an hour ago) and a failed delivery moving the lead to 1/22
    (mapped to "reserved")."""
    StageMapping.objects.create(order_status="new", pipeline_id=1, status_id=11)
    StageMapping.objects.create(order_status="reserved", pipeline_id=1, status_id=22)
    order = make_order()
    OrderSync.objects.update_or_create(
        order=order,
        defaults={
            "lead_id": 5001,
            "state": "synced",
            "pushed_pipeline_id": 1,
            "pushed_status_id": 11,
            "last_synced_at": timezone.now() - dt.timedelta(hours=1),
        },
    )
    order.status_changes.update(created_at=timezone.now() - dt.timedelta(hours=2))
    lm = int(timezone.now().timestamp()) - 60
    return WebhookInbox.objects.create(
        body=BODY.format(lm=lm).encode(),
        events="leads[status]",
        entity_ids="5001",
        outcome="failed",
        reasons=from_prose("RuntimeError: boom"),
    )


@pytest.fixture
def rows(make_order: Any) -> dict[str, WebhookInbox]:
    failed = failed_delivery(make_order)
    ignored = WebhookInbox.objects.create(
        body=b"x=1", events="contacts[add]", outcome="ignored", reasons=from_prose("nope")
    )
    return {"failed": failed, "ignored": ignored}


def test_the_inbox_lists_deliveries_with_their_outcomes(staff: Client, rows: dict[str, WebhookInbox]) -> None:
    page = staff.get(reverse("web:webhooks")).content.decode()
    assert "RuntimeError: boom" in page  # an unknown reason, as it is, in a <details>
    assert "Contact created" in page and "Deal stage changed" in page
    assert "kept 90 days" in page or "хранятся 90 дней" in page  # how long support can look back


def test_the_inbox_filters_by_outcome_and_lead(staff: Client, rows: dict[str, WebhookInbox]) -> None:
    page = staff.get(reverse("web:webhooks"), {"outcome": "ignored"}).content.decode()
    assert "Contact created" in page
    assert "RuntimeError: boom" not in page
    page = staff.get(reverse("web:webhooks"), {"lead": "5001"}).content.decode()
    assert "RuntimeError: boom" in page
    assert "Contact created" not in page
    assert "RuntimeError: boom" not in staff.get(reverse("web:webhooks"), {"lead": "500"}).content.decode()


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
    assert html.lstrip().startswith(f'<tr id="webhook-{row.pk}" data-webhook-id="{row.pk}">')
    assert "Replay queued at" in html  # the task runs when the test's transaction "commits", after the answer
    assert (
        "is queued for processing again"
        in json.loads(response.headers["HX-Trigger"])["webhook-replayed"]["message"]
    )
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
    assert codes(unmapped[0]["reasons"]) == ["stage_disabled"]
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


def test_rotating_the_secret_is_audited_with_who_did_it(admin_client_: Client, amo_setup: Any) -> None:
    admin_client_.post(reverse("web:webhook_secret_rotate"))
    change = ConfigChange.objects.get(area="connection", summary="Webhook secret rotated")
    assert change.actor == "admin"


# --- words instead of codes ---------------------------------------------------------------------------------


def visible(html: str) -> str:
    """The page's text without tags and attributes (titles hold the raw codes for support)."""
    return unescape(re.sub(r"<[^>]+>", " ", html))


def test_every_event_amocrm_sends_has_words() -> None:
    from console.amocrm.inbound.events import HANDLERS
    from console.web.labels import WEBHOOK_EVENTS

    assert set(HANDLERS) <= set(WEBHOOK_EVENTS)
    assert len(set(map(str, WEBHOOK_EVENTS.values()))) == len(WEBHOOK_EVENTS)


STAGE_REASONS = [
    ("stage 1/22 is the one we pushed last", "The deal is at the stage “Аренда → Бронь”, which the console"),
    ("status reserved from stage 1/22", "Status set to “Reserved” from the stage “Аренда → Бронь”."),
    (
        "status reserved from stage 1/22 (confirmed by re-reading the lead)",
        "Status set to “Reserved” from the stage “Аренда → Бронь” (checked in amoCRM first).",
    ),
    (
        "stage 1/33 is not mapped to an order status",
        "No order status is mapped to the stage “Аренда → Переговоры”",
    ),
    ("the mapping of stage 1/22 is disabled", "The mapping of the stage “Аренда → Бронь” is turned off"),
    ("stage 1/22 is mapped to several statuses: new, reserved", "Several order statuses (New, Reserved) are"),
    ("stage 9/99 is not mapped to an order status", "No order status is mapped to an unknown stage (9/99)"),
    ("the order already has status in_rent", "The order already has the status “In rent”."),
    ("no order is linked to this lead", "No order is linked to this deal."),
    ("contacts events are not synced", "Contact events are not synced."),
    ("tasks[add] events are not synced", "tasks[add]: not synced."),
    ("leads[note] events are not synced", "Note added to a deal: not synced."),
    (
        "the deal was restored in amoCRM; status new from stage 1/11",
        "The deal was restored in amoCRM. Status set to “New” from the stage “Аренда → Новая”.",
    ),
    (
        "a push of this order was in flight and overwrites the stage; reconciliation re-checks",
        "The console was sending this order at that moment",
    ),
    (
        "the order's status was changed here after this amoCRM change; our push wins; "
        "payment 1500.00 ₽, paid from the deal",
        "the console’s wins. Payment taken from the deal: 1,500.00 ₽, “Paid”.",
    ),
    ("last_modified 1700000000 is older than 1700000060 already applied", "(15.11.2023 01:13:20)"),
    ("same content as delivery #12", "Same content as delivery #12"),
    ("2 applied; 1 ignored", "Applied: 2. Ignored: 1."),
    ("unparseable body: bad key", "The delivery could not be read: bad key"),
]


@pytest.mark.parametrize(("reason", "words"), STAGE_REASONS)
def test_reasons_are_told_in_words_with_stage_names(reason: str, words: str) -> None:
    from console.amocrm.stagemap import stage_labels
    from console.web.reasons import shown_reasons

    pipeline = Pipeline.objects.create(amo_id=1, name="Аренда")
    for status_id, name in [(11, "Новая"), (22, "Бронь"), (33, "Переговоры")]:
        PipelineStatus.objects.create(pipeline=pipeline, status_id=status_id, name=name)

    told = shown_reasons(from_prose(reason), stage_labels())

    assert told.known, reason
    assert words.replace("’", "'") in told.text.replace("\u00a0", " "), told.text


def test_an_unknown_reason_is_shown_as_it_is_in_details(staff: Client, rows: dict[str, WebhookInbox]) -> None:
    html = staff.get(reverse("web:webhook_detail", args=[rows["failed"].pk])).content.decode()
    details = re.search(r"<details>.*?</details>", html, flags=re.S)
    assert details and "RuntimeError: boom" in details.group(0)


def test_the_inbox_shows_stage_names_and_outcomes_in_words(staff: Client, make_order: Any) -> None:
    pipeline = Pipeline.objects.create(amo_id=1, name="Аренда")
    PipelineStatus.objects.create(pipeline=pipeline, status_id=22, name="Бронь")
    WebhookInbox.objects.create(
        body=b"x=1",
        events="leads[status], leads[update]",
        entity_ids="5001",
        outcome="applied",
        reasons=from_prose("status reserved from stage 1/22"),
        results=[{"entity": "leads", "action": "status", "id": 5001, "outcome": "applied",
                  "reasons": from_prose("status reserved from stage 1/22"), "order_id": None}],
    )  # fmt: skip

    text = visible(staff.get(reverse("web:webhooks")).content.decode())

    assert "Deal stage changed, Deal changed" in text
    assert "Status set to “Reserved” from the stage “Аренда → Бронь”." in text
    for code in ("leads[status]", "1/22", "reserved from"):
        assert code not in text, code
    detail = visible(
        staff.get(reverse("web:webhook_detail", args=[WebhookInbox.objects.last().pk])).content.decode()
    )
    assert "Deal stage changed" in detail and "Applied" in detail and "leads[status]" not in detail


def test_a_delivery_of_many_deals_does_not_widen_the_list(staff: Client, db: None) -> None:  # noqa: ARG001
    ids = ",".join(str(5000 + n) for n in range(40))
    WebhookInbox.objects.create(body=b"x=1", events="leads[update]", entity_ids=ids, outcome="ignored")

    html = staff.get(reverse("web:webhooks")).content.decode()

    assert "5000, 5001, 5002 +37" in html
    assert f'title="{ids}"' in html  # the whole list on hover
    assert ids not in visible(html)


def test_a_manager_may_not_replay_and_sees_no_replay_button(
    client: Client, rows: dict[str, WebhookInbox]
) -> None:
    client.force_login(make_user("manager", role="manager"))
    assert client.post(reverse("web:webhook_replay", args=[rows["failed"].pk])).status_code == 403
    assert (
        reverse("web:webhook_replay", args=[rows["failed"].pk])
        not in client.get(reverse("web:webhooks")).content.decode()
    )


def test_replay_without_htmx_says_what_it_did(
    staff: Client, rows: dict[str, WebhookInbox], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(reverse("web:webhook_replay", args=[rows["failed"].pk]), follow=True)
    assert f"Delivery #{rows['failed'].pk} is queued for processing again" in unescape(
        response.content.decode()
    )


@pytest.mark.django_db(transaction=True)
def test_a_replay_done_in_the_requests_commit_shows_its_result_in_the_row(make_order: Any) -> None:
    """The test cluster runs tasks inline: the replay is processed when the request commits, so the answer
    tells the result ("Replayed at HH:MM", and the message names the outcome)."""
    row = failed_delivery(make_order)
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("root", password="pw"))

    response = client.post(reverse("web:webhook_replay", args=[row.pk]), HTTP_HX_REQUEST="true")

    html = response.content.decode()
    assert "Replayed at" in html and "Applied" in html
    message = json.loads(response.headers["HX-Trigger"])["webhook-replayed"]["message"]
    assert message == f"Delivery #{row.pk} processed again: Applied."
    assert OrderSync.objects.get(lead_id=5001).order.status == "reserved"


def test_the_reverse_stage_map_shows_names_not_codes(staff: Client, db: None) -> None:  # noqa: ARG001
    pipeline = Pipeline.objects.create(amo_id=1, name="Аренда")
    PipelineStatus.objects.create(pipeline=pipeline, status_id=22, name="Бронь")
    PipelineStatus.objects.create(pipeline=pipeline, status_id=33, name="Переговоры")
    StageMapping.objects.create(order_status="reserved", pipeline_id=1, status_id=22)
    StageMapping.objects.create(order_status="in_rent", pipeline_id=1, status_id=33)
    StageMapping.objects.create(order_status="archived", pipeline_id=1, status_id=33)
    StageMapping.objects.create(order_status="new", pipeline_id=7, status_id=77)

    text = visible(staff.get(reverse("web:webhook_stages")).content.decode())

    assert "Reserved" in text and "Аренда → Переговоры: Archived, In rent" in text
    assert "unknown stage 7/77 → New" in text
    for code in ("reserved", "in_rent", "archived", "1/22", "1/33"):
        assert code not in text, code
