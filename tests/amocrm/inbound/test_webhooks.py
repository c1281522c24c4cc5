"""Webhook intake and processing: real-shaped amoCRM bodies posted to /amocrm/webhook/<secret>/."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from console.amocrm.inbound import rules, views
from console.amocrm.models import (
    AmoConnection,
    OrderSync,
    StageMapping,
    SyncLog,
    WebhookCounter,
    WebhookInbox,
)
from console.amocrm.reasons import Code, codes, reason
from console.amocrm.stagemap import reverse_stage_map
from console.orders.models import Order, OrderStatusChange
from console.orders.services import order_set_status
from tests.amocrm.inbound.hookbodies import PIPELINE, SECRET, STAGES, T0, hook_body, last_row, lead_item
from tests.fixtures.samples import sample_path

pytestmark = pytest.mark.django_db


# --- intake ---------------------------------------------------------------------------------------


def test_it_answers_405_to_a_get(client: Client, connection: AmoConnection) -> None:
    assert client.get(reverse("amocrm:webhook", args=[SECRET])).status_code == 405


def test_it_answers_404_to_a_wrong_secret_and_stores_only_a_counter(post: Callable[..., Any]) -> None:
    body = hook_body({"leads": {"status": [lead_item(1, "reserved", T0)]}})
    assert post(body, secret="wrong").status_code == 404
    assert post(body, secret=SECRET[:-1]).status_code == 404
    assert WebhookInbox.objects.count() == 0
    assert WebhookCounter.objects.get(key="rejected:secret").value == 2


def test_it_answers_404_to_another_account_id_or_subdomain(post: Callable[..., Any]) -> None:
    item = {"leads": {"status": [lead_item(1, "reserved", T0)]}}
    assert post(hook_body(item, account={"id": "1", "subdomain": "etesttask"})).status_code == 404
    assert post(hook_body(item, account={"subdomain": "intruder"})).status_code == 404
    assert WebhookInbox.objects.count() == 0
    assert WebhookCounter.objects.get(key="rejected:account").value == 2


def test_it_answers_404_when_no_connection_exists(client: Client, db: None) -> None:  # noqa: ARG001
    url = reverse("amocrm:webhook", args=[SECRET])
    assert client.post(url, data="a=1", content_type="application/x-www-form-urlencoded").status_code == 404
    assert WebhookInbox.objects.count() == 0


def test_it_stores_raw_body_and_headers_but_never_the_url_secret(post: Callable[..., Any]) -> None:
    body = hook_body({"leads": {"status": [lead_item(5001, "reserved", T0)]}})
    response = post(body, process=False, HTTP_COOKIE="sessionid=x")
    assert response.status_code == 200
    row = last_row()
    assert bytes(row.body) == body.encode()
    assert row.headers["User-Agent"] == "amoCRM-Webhooks/3.0"
    assert row.headers["X-Amocrm-Requestid"] == "9f1c"
    assert "Cookie" not in row.headers
    assert (row.events, row.entity_ids, row.item_count) == ("leads[status]", "5001", 1)
    assert (row.account_id, row.account_subdomain) == (32427762, "etesttask")
    stored = repr(WebhookInbox.objects.filter(pk=row.pk).values().get())
    assert SECRET not in stored


def test_it_changes_no_order_inside_the_request(post: Callable[..., Any], link: Callable[..., Order]) -> None:
    order = link(5001)
    post(hook_body({"leads": {"status": [lead_item(5001, "reserved", T0)]}}), process=False)
    order.refresh_from_db()
    assert order.status == "new"
    assert last_row().outcome == WebhookInbox.Outcome.PENDING


def wsgi_call(application: Callable[..., Any], method: str, path: str, body: bytes = b"") -> tuple[str, dict]:
    """One request straight through a WSGI application, as gunicorn makes it."""
    import io
    import sys

    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_ACCEPT_LANGUAGE": "ru",
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }
    answer: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        answer["status"], answer["headers"] = status, dict(headers)

    b"".join(application(environ, start_response))
    return answer["status"], answer["headers"]


@pytest.fixture
def keep_test_connection() -> Any:
    """A real WSGI handler closes the database connection at the end of a request; the test's transaction
    lives on it, so do as Django's test client does and keep it."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def test_a_delivery_goes_through_the_wsgi_application_as_gunicorn_serves_it(
    connection: AmoConnection,
    link: Callable[..., Order],
    keep_test_connection: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from django.core.handlers.wsgi import WSGIHandler

    application = WSGIHandler()  # what settings.wsgi serves: one handler, the whole middleware chain
    order = link(5001)
    body = hook_body({"leads": {"status": [lead_item(5001, "reserved", T0)]}}).encode()

    with django_capture_on_commit_callbacks(execute=True):
        status, headers = wsgi_call(application, "POST", reverse("amocrm:webhook", args=[SECRET]), body)
    assert status.startswith("200")
    assert headers["X-Frame-Options"] == "DENY"  # the normal chain ran
    order.refresh_from_db()
    assert order.status == "reserved"
    status, _headers = wsgi_call(application, "POST", reverse("amocrm:webhook", args=["wrong"]), body)
    assert status.startswith("404")


def test_it_is_csrf_exempt(connection: AmoConnection) -> None:
    client = Client(enforce_csrf_checks=True)
    body = hook_body({"leads": {"status": [lead_item(1, "reserved", T0)]}})
    url = reverse("amocrm:webhook", args=[SECRET])
    assert client.post(url, data=body, content_type="application/x-www-form-urlencoded").status_code == 200


def test_a_malformed_body_is_stored_as_invalid_and_answered_200(post: Callable[..., Any]) -> None:
    response = post(b"leads[status][0][name]=\xff\xfe&account[subdomain]=etesttask")
    assert response.status_code == 200
    row = last_row()
    assert row.outcome == WebhookInbox.Outcome.INVALID
    assert codes(row.reasons) == ["unparseable"] and "UTF-8" in row.reasons[0]["params"]["error"]


def test_a_body_without_account_or_items_is_stored_as_invalid(post: Callable[..., Any]) -> None:
    assert post("garbage").status_code == 200
    assert last_row().reasons == [reason(Code.NO_ACCOUNT)]
    assert post(hook_body({})).status_code == 200
    assert last_row().reasons == [reason(Code.NO_ITEMS)]
    assert WebhookInbox.objects.filter(outcome="invalid").count() == 2


def test_it_never_answers_500_when_storing_fails(
    post: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(**kwargs: Any) -> None:
        raise RuntimeError("database is locked")

    monkeypatch.setattr(views, "inbox_store", broken)
    response = post(hook_body({"leads": {"status": [lead_item(1, "reserved", T0)]}}))
    assert response.status_code == 200
    assert WebhookCounter.objects.get(key="intake:error").value == 1


def test_a_duplicate_delivery_is_stored_as_duplicate_and_not_processed(
    post: Callable[..., Any], link: Callable[..., Order]
) -> None:
    order = link(5001)
    body = hook_body({"leads": {"status": [lead_item(5001, "reserved", T0)]}})
    post(body)
    post(body)
    first, second = WebhookInbox.objects.order_by("id")
    assert first.outcome == "applied"
    assert (second.outcome, second.duplicate_of_id) == ("duplicate", first.pk)
    assert second.attempts == 0
    assert OrderStatusChange.objects.filter(order=order, origin="amocrm").count() == 1


def test_update_lead_and_status_lead_for_one_move_count_once(
    post: Callable[..., Any], link: Callable[..., Order]
) -> None:
    link(5001)
    item = lead_item(5001, "reserved", T0)
    post(hook_body({"leads": {"update": [item]}}))
    post(hook_body({"leads": {"status": [item]}}))
    assert list(WebhookInbox.objects.order_by("id").values_list("outcome", flat=True)) == [
        "applied",
        "duplicate",
    ]


def test_a_header_echoing_the_url_never_stores_the_secret(post: Callable[..., Any]) -> None:
    url = reverse("amocrm:webhook", args=[SECRET])
    post(hook_body({"leads": {"status": [lead_item(1, "reserved", T0)]}}), HTTP_X_ORIGINAL_URI=url)
    assert last_row().headers["X-Original-Uri"] == "/amocrm/webhook/***/"


def test_a_body_over_the_upload_limit_is_stored_as_invalid(post: Callable[..., Any], settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    assert post(hook_body({"leads": {"status": [lead_item(1, "reserved", T0)]}})).status_code == 200
    assert (last_row().outcome, last_row().reasons) == ("invalid", [reason(Code.BODY_TOO_LARGE)])


# --- processing -----------------------------------------------------------------------------------


def test_a_status_hook_moves_the_order_as_changed_by_amocrm(
    post: Callable[..., Any], link: Callable[..., Order]
) -> None:
    order = link(5001)
    post(hook_body({"leads": {"status": [lead_item(5001, "in_rent", T0)]}}))
    order.refresh_from_db()
    assert order.status == "in_rent"
    change = OrderStatusChange.objects.filter(order=order).first()
    assert (change.origin, change.actor, change.to_status) == ("amocrm", "amocrm", "in_rent")
    sync = order.amo_sync
    sync.refresh_from_db()
    assert (sync.pushed_pipeline_id, sync.pushed_status_id, sync.last_amo_modified) == (
        PIPELINE,
        STAGES["in_rent"],
        T0,
    )
    row = last_row()
    assert (row.outcome, row.order_id) == ("applied", order.pk)
    assert row.results[0]["reasons"] == [
        reason(Code.STATUS_SET, status="in_rent", pipeline_id=PIPELINE, status_id=STAGES["in_rent"])
    ]
    assert SyncLog.objects.filter(order=order, trigger="webhook", outcome="ok").count() == 1


def test_a_body_with_several_leads_applies_each_and_reports_per_item(
    post: Callable[..., Any], link: Callable[..., Order]
) -> None:
    first, second = link(5001), link(5002, status="reserved")
    items = [lead_item(5001, "reserved", T0), lead_item(5002, "in_rent", T0), lead_item(9999, "in_rent", T0)]
    post(hook_body({"leads": {"status": items}}))
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("reserved", "in_rent")
    row = last_row()
    assert row.outcome == "applied"
    assert [r["outcome"] for r in row.results] == ["applied", "applied", "ignored"]
    assert row.reasons == [reason(Code.COUNTS, counts={"applied": 2, "ignored": 1})]
    assert row.order_id == first.pk


def test_the_echo_of_the_stage_we_pushed_changes_nothing(
    post: Callable[..., Any], link: Callable[..., Order]
) -> None:
    order = link(5001, status="reserved")
    post(hook_body({"leads": {"status": [lead_item(5001, "reserved", T0)]}}))
    row = last_row()
    assert row.outcome == "echo"
    assert codes(row.reasons) == ["our_stage"]
    assert not OrderStatusChange.objects.filter(order=order, origin="amocrm").exists()
    assert OrderSync.objects.get(order=order).last_amo_modified == T0


def test_a_hook_older_than_the_last_applied_change_is_stale(
    post: Callable[..., Any], link: Callable[..., Order]
) -> None:
    order = link(5001)
    post(hook_body({"leads": {"status": [lead_item(5001, "in_rent", T0 + 10)]}}))
    post(hook_body({"leads": {"status": [lead_item(5001, "reserved", T0 + 5)]}}))
    order.refresh_from_db()
    assert order.status == "in_rent"
    row = last_row()
    assert row.outcome == "stale"
    assert row.reasons == [reason(Code.OLDER_THAN_APPLIED, seen=T0 + 5, applied=T0 + 10)]


def test_out_of_order_hooks_end_at_the_newest_stage_whatever_the_arrival_order(
    post: Callable[..., Any], link: Callable[..., Order]
) -> None:
    order = link(5001)
    post(hook_body({"leads": {"status": [lead_item(5001, "in_progress", T0 + 30)]}}))
    post(hook_body({"leads": {"status": [lead_item(5001, "in_rent", T0 + 20)]}}))
    post(hook_body({"leads": {"status": [lead_item(5001, "reserved", T0 + 10)]}}))
    order.refresh_from_db()
    assert order.status == "in_progress"
    assert list(WebhookInbox.objects.order_by("id").values_list("outcome", flat=True)) == [
        "applied",
        "stale",
        "stale",
    ]


def test_a_status_changed_here_after_the_amocrm_change_wins(
    post: Callable[..., Any], link: Callable[..., Order]
) -> None:
    order = link(5001)
    order_set_status(order=order, status="in_progress", origin="manager", actor="anna")
    earlier = int(timezone.now().timestamp()) - 30
    post(hook_body({"leads": {"status": [lead_item(5001, "reserved", earlier)]}}))
    order.refresh_from_db()
    assert order.status == "in_progress"
    assert last_row().outcome == "stale"
    assert codes(last_row().reasons) == ["local_status_wins"]


def test_an_unknown_lead_is_ignored_with_the_reason(post: Callable[..., Any], stage_map: None) -> None:
    post(hook_body({"leads": {"status": [lead_item(424242, "reserved", T0)]}}))
    row = last_row()
    assert (row.outcome, row.reasons, row.order_id) == ("ignored", [reason(Code.NO_ORDER)], None)


def test_an_unmapped_stage_is_ignored_with_the_reason(
    post: Callable[..., Any], link: Callable[..., Order]
) -> None:
    order = link(5001)
    post(hook_body({"leads": {"status": [lead_item(5001, 555, T0)]}}))
    row = last_row()
    assert row.outcome == "ignored"
    assert row.reasons == [reason(Code.STAGE_UNMAPPED, pipeline_id=PIPELINE, status_id=555)]
    assert row.order_id == order.pk
    order.refresh_from_db()
    assert order.status == "new"


def test_a_disabled_mapping_is_ignored_with_the_reason(
    post: Callable[..., Any], link: Callable[..., Order]
) -> None:
    link(5001)
    StageMapping.objects.filter(order_status="in_rent").update(is_active=False)
    post(hook_body({"leads": {"status": [lead_item(5001, "in_rent", T0)]}}))
    assert last_row().outcome == "ignored"
    assert codes(last_row().reasons) == ["stage_disabled"]


def test_a_stage_claimed_by_two_statuses_is_ignored_and_reported(
    post: Callable[..., Any], link: Callable[..., Order]
) -> None:
    link(5001)
    StageMapping.objects.filter(order_status="in_progress").update(status_id=STAGES["in_rent"])
    post(hook_body({"leads": {"status": [lead_item(5001, "in_rent", T0)]}}))
    assert last_row().outcome == "ignored"
    assert last_row().reasons[0]["params"]["statuses"] == ["in_progress", "in_rent"]
    assert reverse_stage_map().conflicts == {(PIPELINE, STAGES["in_rent"]): ["in_progress", "in_rent"]}


def test_the_lost_stage_maps_to_cancelled_by_default_when_cancelled_has_no_row(stage_map: None) -> None:
    StageMapping.objects.filter(order_status="cancelled").delete()
    reverse = reverse_stage_map()
    assert reverse.lookup(PIPELINE, 143) == ("cancelled", None)
    assert (PIPELINE, 143) in reverse.implicit


def test_delete_lead_only_marks_the_sync_state(post: Callable[..., Any], link: Callable[..., Order]) -> None:
    order = link(5001, status="reserved")
    body = hook_body(
        {"leads": {"delete": [{"id": 5001, "status_id": STAGES["reserved"], "pipeline_id": PIPELINE}]}}
    )
    post(body)
    sync = OrderSync.objects.get(order=order)
    assert sync.lead_deleted_at is not None
    assert (sync.lead_id, sync.state) == (5001, "synced")
    order.refresh_from_db()
    assert (order.status, order.is_active) == ("reserved", True)
    assert last_row().outcome == "applied"
    assert last_row().reasons == [reason(Code.DEAL_DELETED)]


def test_an_unlinked_company_under_contacts_is_ignored(post: Callable[..., Any], stage_map: None) -> None:
    items = {
        "contacts": {"add": [{"id": 1110, "name": "ООО Ромашка", "type": "company", "last_modified": T0}]}
    }
    post(hook_body(items))
    row = last_row()
    assert (row.outcome, row.reasons) == ("ignored", [reason(Code.PARTY_NOT_LINKED)])


def test_a_hook_that_may_predate_our_push_is_checked_against_the_lead(
    post: Callable[..., Any], link: Callable[..., Order], monkeypatch: pytest.MonkeyPatch
) -> None:
    order = link(5001, status="in_rent")
    OrderSync.objects.filter(order=order).update(last_synced_at=timezone.now())
    reads: list[int] = []

    class Lead:  # what amoCRM answers: the lead sits at the stage we pushed
        def get_lead(self, lead_id: int) -> dict[str, Any]:
            reads.append(lead_id)
            now = int(timezone.now().timestamp())
            return {"id": lead_id, "pipeline_id": PIPELINE, "status_id": STAGES["in_rent"], "updated_at": now}

    monkeypatch.setattr(rules, "account_client", Lead)
    late = int(timezone.now().timestamp()) - 1
    post(hook_body({"leads": {"status": [lead_item(5001, "reserved", late)]}}))
    order.refresh_from_db()
    assert order.status == "in_rent"
    assert reads == [5001]
    row = last_row()
    assert row.outcome == "stale"
    assert codes(row.reasons) == ["superseded"]


def test_the_reference_shaped_capture_with_cyrillic_is_applied(
    post: Callable[..., Any], link: Callable[..., Order]
) -> None:
    order = link(10701093)
    body = (
        "leads[status][0][id]=10701093&leads[status][0][name]=Семинар&leads[status][0][status_id]=142"
        "&leads[status][0][old_status_id]=20067736&leads[status][0][price]=22500"
        f"&leads[status][0][last_modified]={T0}&leads[status][0][pipeline_id]={PIPELINE}"
        "&leads[status][0][custom_fields][0][name]=Источник&leads[status][0][custom_fields][0][values][0][value]=Сайт"
        "&account[subdomain]=etesttask&account[id]=32427762&account[_links][self]=https://etesttask.amocrm.ru"
    )
    post(body.encode())
    order.refresh_from_db()
    assert order.status == "archived"


def test_the_shared_real_status_sample_is_applied(
    post: Callable[..., Any], link: Callable[..., Order], connection: AmoConnection
) -> None:
    sample = sample_path("webhook-20-status_lead-custom_fields.txt")
    AmoConnection.objects.filter(pk=connection.pk).update(subdomain="test000002", account_id=None)
    StageMapping.objects.filter(order_status="in_progress").update(pipeline_id=2116, status_id=10216994)
    order = link(31926520)
    long_ago = dt.datetime(2016, 1, 1, tzinfo=dt.UTC)  # the sample was captured in March 2016
    OrderSync.objects.filter(order=order).update(last_synced_at=long_ago)
    OrderStatusChange.objects.filter(order=order).update(created_at=long_ago)
    post(sample.read_bytes())
    order.refresh_from_db()
    assert order.status == "in_progress"
    assert last_row().outcome == "applied"
    assert OrderSync.objects.get(order=order).last_amo_modified == 1456820780


@pytest.mark.parametrize(
    ("name", "outcome"),
    [
        ("webhook-18-add_company.txt", "ignored"),
        ("webhook-19-add_lead-custom_fields.txt", "pending"),  # a draft waits for the account (not connected)
        ("webhook-21-update_lead-custom_fields.txt", "ignored"),
        ("webhook-22-responsible_lead.txt", "ignored"),
        ("webhook-23-add_contact.txt", "ignored"),
        ("webhook-24-restore_contact.txt", "ignored"),
    ],
)
def test_every_shared_real_sample_is_stored_and_processed_without_failure(
    post: Callable[..., Any], connection: AmoConnection, stage_map: None, name: str, outcome: str
) -> None:
    sample = sample_path(name)
    AmoConnection.objects.filter(pk=connection.pk).update(subdomain="test000002", account_id=None)
    assert post(sample.read_bytes()).status_code == 200
    assert last_row().outcome == outcome
