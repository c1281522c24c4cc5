"""What each sync attempt sent to amoCRM and what it answered, against the sandbox: a refused push keeps the
request body and the 400 answer under the attempt's run, no token or secret is ever stored (not even across
a token refresh), each body is capped, and the daily prune drops the old ones."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from console.amocrm import tasks
from console.amocrm.api.exchanges import TRUNCATED, ExchangeLog, capped
from console.amocrm.models import AmoConnection, SyncExchange, SyncLog
from console.orders.models import Order
from tests.fixtures.sync import committed, state


def _bad_source_field() -> AmoConnection:
    """Point the lead's "source" field at an id amoCRM does not know: the deal's create answers 400."""
    connection = AmoConnection.get_solo()
    AmoConnection.objects.filter(pk=1).update(lead_field_ids={**connection.lead_field_ids, "source": 424242})
    return connection


def _stored_text(rows: list[SyncExchange]) -> str:
    return "\n".join(f"{r.path} {r.request_body} {r.response_body} {r.request_id}" for r in rows)


@pytest.mark.django_db
def test_a_refused_push_keeps_the_body_it_sent_and_the_400_answer_under_its_attempt(
    amo: Any, make_order: Callable[..., Order]
) -> None:
    _bad_source_field()
    with committed():
        order = make_order()

    log = SyncLog.objects.get(order=order)
    assert log.outcome == "failed" and log.run
    rows = list(SyncExchange.objects.filter(run=log.run))
    refused = [r for r in rows if r.status == 400]
    assert len(refused) == 1
    create = refused[0]
    assert create.method == "POST" and create.path.startswith("/api/v4/leads")
    sent = json.loads(create.request_body)
    assert 424242 in [v["field_id"] for v in sent[0]["custom_fields_values"]]
    assert "validation-errors" in create.response_body or "custom_fields_values" in create.response_body
    assert create.request_id and create.request_id == log.request_id
    assert create.request_bytes == len(create.request_body.encode())
    assert [r.seq for r in rows] == list(range(len(rows)))


@pytest.mark.django_db
def test_no_token_or_secret_is_stored_even_when_the_run_refreshes_its_token(
    amo: Any, make_order: Callable[..., Order]
) -> None:
    before = AmoConnection.get_solo()
    amo.control("POST", "tokens/revoke", {"token": before.access_token})  # the next call gets a 401
    _bad_source_field()
    with committed():
        order = make_order()

    after = AmoConnection.get_solo()
    assert after.access_token != before.access_token  # the run did refresh
    rows = list(SyncExchange.objects.filter(run=SyncLog.objects.get(order=order).run))
    assert 401 in [r.status for r in rows] and 400 in [r.status for r in rows]
    assert not [r for r in rows if "oauth" in r.path]
    text = _stored_text(rows)
    secrets = {before.access_token, before.refresh_token, after.access_token, after.refresh_token}
    for secret in secrets | {after.client_secret, after.webhook_secret}:
        assert secret and secret not in text
    assert "Bearer" not in text
    assert state(order).state == "failed"


@pytest.mark.django_db
def test_each_body_is_cut_to_the_cap_with_a_marker(
    amo: Any, make_order: Callable[..., Order], settings: Any
) -> None:
    settings.AMOCRM_EXCHANGE_MAX_BYTES = 120
    _bad_source_field()
    with committed():
        order = make_order(comment="Ёлка " * 200)

    create = SyncExchange.objects.get(run=SyncLog.objects.get(order=order).run, status=400)
    assert create.request_bytes > 120
    assert create.request_body.endswith(TRUNCATED)
    assert len(create.request_body.removesuffix(TRUNCATED).encode()) <= 120


def test_a_cut_never_splits_a_character_and_a_short_body_is_kept_whole() -> None:
    assert capped("ёёё", 3) == "ё" + TRUNCATED  # 2 bytes each: the half of the second is dropped
    assert capped("abc", 3) == "abc"


def test_the_collector_keeps_nothing_of_the_token_endpoint_and_redacts_secrets(settings: Any) -> None:
    settings.AMOCRM_EXCHANGE_MAX_BYTES = 1000
    log = ExchangeLog()
    token_body = {"grant_type": "refresh_token", "refresh_token": "def50200" + "a" * 40}
    log.record(
        method="POST", path="/oauth2/access_token", params=None, sent=token_body, status=200,
        answer='{"access_token": "x"}', request_id="", hidden=[],
    )  # fmt: skip
    log.record(
        method="PATCH", path="/api/v4/leads", params={"with": "contacts"}, sent=[{"name": "s3cret-value"}],
        status=400, answer='{"detail": "Bearer abc.def.ghi", "token": "zzz"}', request_id="r1",
        hidden=["s3cret-value"],
    )  # fmt: skip
    (kept,) = log.items
    assert kept.path == "/api/v4/leads?with=contacts"
    assert "s3cret-value" not in kept.request and "***" in kept.request
    assert "abc.def.ghi" not in kept.response and "zzz" not in kept.response


@pytest.mark.django_db
def test_the_daily_prune_drops_exchanges_older_than_the_retention(settings: Any) -> None:
    settings.AMOCRM_EXCHANGE_DAYS = 14
    now = timezone.now()
    for days, run in ((15, "old"), (13, "recent")):
        SyncExchange.objects.create(
            run=run, at=now - timedelta(days=days), method="POST", path="/api/v4/leads"
        )

    assert tasks.prune_sync_log() == 1
    assert list(SyncExchange.objects.values_list("run", flat=True)) == ["recent"]


@pytest.mark.django_db
def test_a_request_that_got_no_answer_is_kept_with_why(
    amo: Any, make_order: Callable[..., Order], settings: Any
) -> None:
    settings.AMOCRM_UNCONFIRMED_SETTLE_SECONDS = 0
    amo.fault(kind="drop", path="/api/v4/leads", method="POST", times=5)
    with committed():
        order = make_order()

    log = SyncLog.objects.get(order=order)
    assert log.outcome == "retry"
    (lost,) = SyncExchange.objects.filter(run=log.run, status=None)
    assert lost.method == "POST" and lost.path.startswith("/api/v4/leads")
    assert lost.response_body.startswith("AmoCRM did not") and "Connection" in lost.response_body
    assert json.loads(lost.request_body)[0]["name"]
