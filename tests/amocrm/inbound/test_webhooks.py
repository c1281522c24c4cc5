"""Webhook intake and processing: real-shaped amoCRM bodies posted to /amocrm/webhook/<secret>/."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote_plus

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from console.amocrm.inbound import inbox, rules, views
from console.amocrm.inbound.inbox import inbox_process, inbox_replay
from console.amocrm.models import (
    AmoConnection,
    OrderSync,
    StageMapping,
    SyncLog,
    WebhookCounter,
    WebhookInbox,
)
from console.amocrm.stagemap import reverse_stage_map
from console.orders.models import Order, OrderStatusChange
from console.orders.services import order_set_status
from tests.fixtures.samples import sample_path

SECRET = "test-webhook-secret-0123456789abcdefghijklmnop"
ACCOUNT = {"id": "32427762", "subdomain": "etesttask", "_links": {"self": "https://etesttask.amocrm.ru"}}
PIPELINE = 9217056
STAGES = {"new": 20067730, "reserved": 20067733, "in_rent": 20067736, "in_progress": 20067739}
T0 = int(time.time()) - 600  # after the fixtures' last push (1 h ago) and local change (2 h ago)

pytestmark = pytest.mark.django_db


def flatten(prefix: str, value: Any, out: list[tuple[str, str]]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            flatten(f"{prefix}[{key}]", item, out)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            flatten(f"{prefix}[{index}]", item, out)
    else:
        out.append((prefix, str(value)))


def hook_body(
    groups: dict[str, dict[str, list[dict[str, Any]]]], account: dict[str, Any] | None = None
) -> str:
    """A form body like amoCRM's: ``leads[status][0][id]=...&account[subdomain]=...`` (PHP-style keys)."""
    pairs: list[tuple[str, str]] = []
    for entity, actions in groups.items():
        for action, items in actions.items():
            flatten(f"{entity}[{action}]", items, pairs)
    flatten("account", ACCOUNT if account is None else account, pairs)
    return "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in pairs)


def lead_item(lead_id: int, status: str | int, modified: int, **extra: Any) -> dict[str, Any]:
    """A lead as the captured 2018 ``status_lead`` body has it (legacy v2 names, Cyrillic, tags, fields)."""
    status_id = STAGES[status] if isinstance(status, str) else status
    return {
        "id": lead_id,
        "name": "Семинар «Мебель напрокат»",
        "status_id": status_id,
        "old_status_id": STAGES["new"],
        "price": 22500,
        "responsible_user_id": 2079676,
        "last_modified": modified,
        "modified_user_id": 2079718,
        "created_user_id": 2076025,
        "date_create": T0 - 3600,
        "pipeline_id": PIPELINE,
        "account_id": 17769199,
        "tags": [{"id": 80147, "name": "сайт"}],
        "custom_fields": [{"id": 66339, "name": "Источник", "values": [{"value": "Сайт", "enum": 139517}]}],
        "created_at": T0 - 3600,
        "updated_at": modified,
    } | extra


@pytest.fixture
def connection(db) -> AmoConnection:  # noqa: ANN001
    connection = AmoConnection.get_solo()
    connection.account_id = int(ACCOUNT["id"])
    connection.subdomain = ACCOUNT["subdomain"]
    connection.webhook_secret = SECRET
    connection.save()
    return connection


@pytest.fixture
def stage_map(db) -> None:  # noqa: ANN001
    for status, stage in STAGES.items():
        StageMapping.objects.create(order_status=status, pipeline_id=PIPELINE, status_id=stage)
    StageMapping.objects.create(order_status="archived", pipeline_id=PIPELINE, status_id=142)
    StageMapping.objects.create(order_status="cancelled", pipeline_id=PIPELINE, status_id=143)


@pytest.fixture
def link(make_order: Callable[..., Order], stage_map: None) -> Callable[..., Order]:
    """``link(lead_id, status="new")``: an order linked to the lead, synced at its stage an hour ago."""

    def build(lead_id: int, status: str = "new", **sync: Any) -> Order:
        order = make_order()
        if status != order.status:
            Order.objects.filter(pk=order.pk).update(status=status)
            order.refresh_from_db()
        OrderStatusChange.objects.filter(order=order).update(
            created_at=timezone.now() - dt.timedelta(hours=2)
        )
        OrderSync.objects.create(
            order=order,
            lead_id=lead_id,
            state=OrderSync.State.SYNCED,
            pushed_pipeline_id=PIPELINE,
            pushed_status_id=STAGES.get(status),
            last_synced_at=timezone.now() - dt.timedelta(hours=1),
            **sync,
        )
        return order

    return build


@pytest.fixture
def post(
    client: Client, connection: AmoConnection, django_capture_on_commit_callbacks: Any
) -> Callable[..., Any]:
    """``post(body, secret=SECRET, process=True)``: deliver like amoCRM; processing runs inline (sync Q)."""

    def send(body: str | bytes, *, secret: str = SECRET, process: bool = True, **headers: str) -> Any:
        url = reverse("amocrm:webhook", args=[secret])
        meta = {"HTTP_USER_AGENT": "amoCRM-Webhooks/3.0", "HTTP_X_AMOCRM_REQUESTID": "9f1c"} | headers
        with django_capture_on_commit_callbacks(execute=process):
            return client.post(url, data=body, content_type="application/x-www-form-urlencoded", **meta)

    return send


def last_row() -> WebhookInbox:
    return WebhookInbox.objects.order_by("-id").first()


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
    assert "UTF-8" in row.reason


def test_a_body_without_account_or_items_is_stored_as_invalid(post: Callable[..., Any]) -> None:
    assert post("garbage").status_code == 200
    assert last_row().reason == "no account in the body"
    assert post(hook_body({})).status_code == 200
    assert last_row().reason == "no entity items in the body"
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
    assert row.results[0]["reason"] == f"status in_rent from stage {PIPELINE}/{STAGES['in_rent']}"
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
    assert row.reason == "2 applied; 1 ignored"
    assert row.order_id == first.pk


def test_the_echo_of_the_stage_we_pushed_changes_nothing(
    post: Callable[..., Any], link: Callable[..., Order]
) -> None:
    order = link(5001, status="reserved")
    post(hook_body({"leads": {"status": [lead_item(5001, "reserved", T0)]}}))
    row = last_row()
    assert row.outcome == "echo"
    assert "pushed last" in row.reason
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
    assert f"{T0 + 5} is older than {T0 + 10}" in row.reason


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
    assert "our push wins" in last_row().reason


def test_an_unknown_lead_is_ignored_with_the_reason(post: Callable[..., Any], stage_map: None) -> None:
    post(hook_body({"leads": {"status": [lead_item(424242, "reserved", T0)]}}))
    row = last_row()
    assert (row.outcome, row.reason, row.order_id) == ("ignored", "no order is linked to this lead", None)


def test_an_unmapped_stage_is_ignored_with_the_reason(
    post: Callable[..., Any], link: Callable[..., Order]
) -> None:
    order = link(5001)
    post(hook_body({"leads": {"status": [lead_item(5001, 555, T0)]}}))
    row = last_row()
    assert row.outcome == "ignored"
    assert row.reason == f"stage {PIPELINE}/555 is not mapped to an order status"
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
    assert "is disabled" in last_row().reason


def test_a_stage_claimed_by_two_statuses_is_ignored_and_reported(
    post: Callable[..., Any], link: Callable[..., Order]
) -> None:
    link(5001)
    StageMapping.objects.filter(order_status="in_progress").update(status_id=STAGES["in_rent"])
    post(hook_body({"leads": {"status": [lead_item(5001, "in_rent", T0)]}}))
    assert last_row().outcome == "ignored"
    assert "several statuses: in_progress, in_rent" in last_row().reason
    assert reverse_stage_map().conflicts == {(PIPELINE, STAGES["in_rent"]): ["in_progress", "in_rent"]}


def test_the_lost_stage_maps_to_cancelled_by_default_when_cancelled_has_no_row(stage_map: None) -> None:
    StageMapping.objects.filter(order_status="cancelled").delete()
    reverse = reverse_stage_map()
    assert reverse.lookup(PIPELINE, 143) == ("cancelled", "")
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
    assert last_row().reason == "the deal was deleted in amoCRM"


def test_contacts_and_companies_under_contacts_are_ignored(post: Callable[..., Any], stage_map: None) -> None:
    items = {
        "contacts": {"add": [{"id": 1110, "name": "ООО Ромашка", "type": "company", "last_modified": T0}]}
    }
    post(hook_body(items))
    row = last_row()
    assert (row.outcome, row.reason) == ("ignored", "companies events are not synced")


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
    assert "superseded by our later push" in row.reason


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
        ("webhook-19-add_lead-custom_fields.txt", "ignored"),
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


# --- replay ---------------------------------------------------------------------------------------


def test_replaying_an_applied_row_is_an_echo(post: Callable[..., Any], link: Callable[..., Order]) -> None:
    order = link(5001)
    post(hook_body({"leads": {"status": [lead_item(5001, "reserved", T0)]}}))
    row = inbox_replay(inbox_id=last_row().pk)
    assert (row.outcome, row.attempts) == ("echo", 2)
    assert OrderStatusChange.objects.filter(order=order, origin="amocrm").count() == 1


def test_a_failed_row_can_be_replayed_once_the_cause_is_fixed(
    post: Callable[..., Any], link: Callable[..., Order], monkeypatch: pytest.MonkeyPatch
) -> None:
    order = link(5001)

    def broken(**kwargs: Any) -> None:
        raise RuntimeError("orders service unavailable")

    with monkeypatch.context() as patch:
        patch.setattr(rules, "order_set_status", broken)
        post(hook_body({"leads": {"status": [lead_item(5001, "reserved", T0)]}}))
    assert (last_row().outcome, last_row().reason) == ("failed", "RuntimeError: orders service unavailable")
    assert inbox_replay(inbox_id=last_row().pk).outcome == "applied"
    order.refresh_from_db()
    assert order.status == "reserved"


def test_a_task_delivered_twice_processes_the_row_once(
    post: Callable[..., Any], link: Callable[..., Order]
) -> None:
    link(5001)
    post(hook_body({"leads": {"status": [lead_item(5001, "reserved", T0)]}}))
    row = inbox_process(inbox_id=last_row().pk)
    assert (row.outcome, row.attempts) == ("applied", 1)


def test_a_header_echoing_the_url_never_stores_the_secret(post: Callable[..., Any]) -> None:
    url = reverse("amocrm:webhook", args=[SECRET])
    post(hook_body({"leads": {"status": [lead_item(1, "reserved", T0)]}}), HTTP_X_ORIGINAL_URI=url)
    assert last_row().headers["X-Original-Uri"] == "/amocrm/webhook/***/"


def test_a_body_over_the_upload_limit_is_stored_as_invalid(post: Callable[..., Any], settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    assert post(hook_body({"leads": {"status": [lead_item(1, "reserved", T0)]}})).status_code == 200
    assert (last_row().outcome, last_row().reason) == ("invalid", "body too large, not stored")


def test_rows_left_pending_are_requeued_and_processed(
    post: Callable[..., Any], link: Callable[..., Order]
) -> None:
    order = link(5001)
    post(hook_body({"leads": {"status": [lead_item(5001, "reserved", T0)]}}), process=False)
    assert inbox.inbox_requeue_pending() == 0  # too recent: its task may still be on its way
    WebhookInbox.objects.update(received_at=timezone.now() - dt.timedelta(minutes=10))
    assert inbox.inbox_requeue_pending() == 1  # the test cluster runs it inline
    assert last_row().outcome == "applied"
    order.refresh_from_db()
    assert order.status == "reserved"


@pytest.fixture
def orm_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tasks go to the ORM broker's queue instead of running inline (as the test cluster does)."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", False)
    monkeypatch.setattr(Conf, "ORM", "default")


def queued_tasks() -> list[dict[str, Any]]:
    from django_q.models import OrmQ
    from django_q.signing import SignedPackage

    return [SignedPackage.loads(row.payload) for row in OrmQ.objects.order_by("id")]


def test_one_processing_task_is_queued_per_burst_when_the_row_commits(
    post: Callable[..., Any], link: Callable[..., Order], orm_broker: None
) -> None:
    order = link(5001)
    post(hook_body({"leads": {"status": [lead_item(5001, "reserved", T0)]}}), process=False)
    assert queued_tasks() == []  # stored; only its commit (not run here) queues the task
    WebhookCounter.objects.filter(key=inbox.PROCESSING_KEY).update(value=0)  # as if that commit never came

    post(hook_body({"leads": {"status": [lead_item(5001, "in_rent", T0 + 1)]}}))
    post(hook_body({"leads": {"status": [lead_item(5001, "in_progress", T0 + 2)]}}))
    (task,) = queued_tasks()  # the first commit queued it; the later delivery rides along
    assert (task["func"], task["args"], task["save"]) == (inbox.PROCESS_TASK, (), False)
    assert set(WebhookInbox.objects.values_list("outcome", flat=True)) == {"pending"}

    assert inbox.inbox_process_pending() == 3  # the task: every pending row, oldest first
    order.refresh_from_db()
    assert order.status == "in_progress"
    assert WebhookCounter.objects.get(key=inbox.PROCESSING_KEY).value == 0
    post(hook_body({"leads": {"status": [lead_item(5001, "reserved", T0 + 3)]}}))
    assert len(queued_tasks()) == 2  # the next burst queues a new task


def test_a_long_backlog_is_handed_over_to_a_successor_task(
    post: Callable[..., Any], link: Callable[..., Order], orm_broker: None
) -> None:
    link(5001)
    for offset in range(5):
        post(hook_body({"leads": {"status": [lead_item(5001, "reserved", T0 + offset)]}}))
    assert inbox.inbox_process_pending(limit=3) == 3
    assert len(queued_tasks()) == 2  # the burst's task and the successor
    assert WebhookInbox.objects.filter(outcome="pending").count() == 2
    assert WebhookCounter.objects.get(key=inbox.PROCESSING_KEY).value > 0  # still marked as running
    assert inbox.inbox_process_pending(limit=3) == 2
    assert not WebhookInbox.objects.filter(outcome="pending").exists()


def test_a_processing_task_lost_with_its_worker_is_replaced_by_the_next_delivery(
    post: Callable[..., Any], link: Callable[..., Order]
) -> None:
    order = link(5001)
    lost = timezone.now() - inbox._processing_lost_after() - dt.timedelta(seconds=1)
    WebhookCounter.objects.create(key=inbox.PROCESSING_KEY, value=int(lost.timestamp()))
    post(hook_body({"leads": {"status": [lead_item(5001, "reserved", T0)]}}))
    order.refresh_from_db()
    assert order.status == "reserved"


def test_a_row_is_processed_once_even_when_two_tasks_reach_it(
    post: Callable[..., Any], link: Callable[..., Order]
) -> None:
    link(5001)
    post(hook_body({"leads": {"status": [lead_item(5001, "reserved", T0)]}}), process=False)
    row = last_row()
    stale_copy = WebhookInbox.objects.get(pk=row.pk)
    inbox_process(inbox_id=row.pk)
    WebhookInbox.objects.filter(pk=row.pk).update(outcome="pending")  # as another worker saw it before
    assert inbox._claim(stale_copy, replay=False) is False  # its attempt count moved on
    assert WebhookInbox.objects.get(pk=row.pk).attempts == 1


# --- retention ------------------------------------------------------------------------------------


def test_the_prune_deletes_old_deliveries_but_keeps_failed_pending_and_recent_ones(
    post: Callable[..., Any], link: Callable[..., Order]
) -> None:
    link(5001)
    for offset in range(5):
        post(hook_body({"leads": {"status": [lead_item(5001, "reserved", T0 + offset)]}}))
    post(b"&&&[broken")  # invalid
    rows = list(WebhookInbox.objects.order_by("id"))
    old = timezone.now() - dt.timedelta(days=91)
    WebhookInbox.objects.filter(pk__in=[r.pk for r in rows[:5]]).update(received_at=old)
    WebhookInbox.objects.filter(pk=rows[0].pk).update(outcome=WebhookInbox.Outcome.FAILED)
    WebhookInbox.objects.filter(pk=rows[1].pk).update(outcome=WebhookInbox.Outcome.PENDING)
    WebhookInbox.objects.filter(pk=rows[3].pk).update(duplicate_of=rows[2])  # pruned with its original

    assert inbox.inbox_prune(batch=2) == 3  # rows 2, 3, 4: old and done with, two batches
    kept = set(WebhookInbox.objects.values_list("id", flat=True))
    assert kept == {rows[0].pk, rows[1].pk, rows[5].pk}
    assert inbox.inbox_prune() == 0


def test_the_prune_is_scheduled_daily(db: None) -> None:  # noqa: ARG001
    from django_q.models import Schedule

    schedule = Schedule.objects.get(name="AmoCRM webhook inbox prune")
    assert (schedule.func, schedule.schedule_type, schedule.repeats) == (
        "console.amocrm.tasks.webhook_inbox_prune_task",
        Schedule.DAILY,
        -1,
    )
