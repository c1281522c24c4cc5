"""AmoCRMClient against the sandbox over real HTTP: retries, typed errors, circuit breaker, endpoints."""

from __future__ import annotations

import logging
import time

import pytest

from console.amocrm.account.access import account_client
from console.amocrm.api.errors import (
    AmoCRMError,
    CircuitOpen,
    RateLimited,
    RightsError,
    TransientError,
    UnknownOutcome,
    ValidationError,
    describe_validation_error,
    error_kind,
    parse_validation_errors,
)
from console.amocrm.models import AmoConnection


def _clear(sandbox) -> None:
    sandbox.control("POST", "/_sandbox/requests/clear")


def _count(sandbox, key: str) -> int:
    return sandbox.requests()["counts"].get(key, 0)


# --- retries ---------------------------------------------------------------------------------------------


def test_a_429_with_retry_after_is_waited_out_and_retried(amo_client, sandbox):
    sandbox.fault(kind="429", path="/api/v4/account", retry_after=1, times=1)
    started = time.monotonic()
    assert amo_client.get_account()["id"]
    assert time.monotonic() - started >= 0.9
    assert amo_client.calls == 2


def test_a_429_without_retry_after_backs_off_and_retries(amo_client, sandbox):
    sandbox.fault(kind="429", path="/api/v4/account", html=True, times=2)
    assert amo_client.get_account()["id"]
    assert amo_client.calls == 3


def test_a_retry_after_longer_than_the_cap_raises_rate_limited_at_once(amo_connection, sandbox):
    client = account_client(amo_connection, retry_after_cap=5)
    sandbox.fault(kind="429", path="/api/v4/account", retry_after=300, times=1)
    with pytest.raises(RateLimited) as excinfo:
        client.get_account()
    assert excinfo.value.retry_after == 300
    assert not excinfo.value.permanent
    assert client.calls == 1


@pytest.mark.parametrize("kind", ["500", "502", "504"])
def test_a_server_error_on_a_read_is_retried(amo_client, sandbox, kind):
    sandbox.fault(kind=kind, path="/api/v4/account", times=2)
    assert amo_client.get_account()["id"]
    assert amo_client.calls == 3


def test_server_errors_beyond_the_retry_budget_raise_a_transient_error(amo_client, sandbox):
    sandbox.fault(kind="500", path="/api/v4/account", times=10)
    with pytest.raises(TransientError) as excinfo:
        amo_client.get_account()
    assert excinfo.value.status == 500 and not excinfo.value.permanent
    assert excinfo.value.request_id
    assert amo_client.calls == amo_client.max_retries + 1


def test_a_timeout_on_a_read_is_retried(amo_client, sandbox, settings):
    amo_client.timeout = (2, 0.3)
    sandbox.fault(kind="slow", seconds=0.8, path="/api/v4/account", times=1)
    assert amo_client.get_account()["id"]
    assert amo_client.calls == 2


def test_a_dropped_connection_on_an_update_is_retried(amo_client, sandbox):
    lead_id = amo_client.create_leads([{"name": "Drop me"}])[0]
    sandbox.fault(kind="drop", method="PATCH", path="/api/v4/leads", times=1)
    amo_client.update_lead(lead_id, {"price": 100})
    assert amo_client.get_lead(lead_id)["price"] == 100


def test_a_dropped_connection_after_a_create_raises_unknown_outcome_and_is_not_resent(amo_client, sandbox):
    sandbox.fault(kind="drop_after", method="POST", path="/api/v4/leads", times=1)
    _clear(sandbox)
    with pytest.raises(UnknownOutcome) as excinfo:
        amo_client.create_leads([{"name": "Maybe created"}])
    assert not excinfo.value.permanent
    assert _count(sandbox, "POST /api/v4/leads") == 1
    assert [lead["name"] for lead in amo_client.iter_leads()].count("Maybe created") == 1


def test_a_timeout_after_sending_a_create_raises_unknown_outcome(amo_client, sandbox):
    amo_client.timeout = (2, 0.3)
    sandbox.fault(kind="slow", seconds=0.8, method="POST", path="/api/v4/leads", times=1)
    _clear(sandbox)
    with pytest.raises(UnknownOutcome):
        amo_client.create_leads([{"name": "Slow"}])
    assert _count(sandbox, "POST /api/v4/leads") == 1


def test_a_server_error_on_a_create_is_not_resent(amo_client, sandbox):
    sandbox.fault(kind="504", method="POST", path="/api/v4/leads", times=1)
    _clear(sandbox)
    with pytest.raises(UnknownOutcome):
        amo_client.create_leads([{"name": "Gateway"}])
    assert _count(sandbox, "POST /api/v4/leads") == 1


# --- circuit breaker -------------------------------------------------------------------------------------


def test_a_403_html_block_opens_the_circuit_and_stops_all_http(amo_client, amo_connection, sandbox):
    sandbox.fault(kind="blocked", times=1)
    with pytest.raises(CircuitOpen) as excinfo:
        amo_client.get_account()
    assert excinfo.value.state == "blocked" and excinfo.value.permanent
    amo_connection.refresh_from_db()
    assert amo_connection.state == AmoConnection.State.BLOCKED
    assert "support" in amo_connection.state_detail
    _clear(sandbox)
    with pytest.raises(CircuitOpen):
        account_client(amo_connection).list_pipelines()
    assert sandbox.requests()["total"] == 0


def test_a_402_marks_the_account_unpaid(amo_client, amo_connection, sandbox):
    sandbox.configure(unpaid=True)
    with pytest.raises(CircuitOpen) as excinfo:
        amo_client.get_account()
    assert excinfo.value.state == "unpaid" and excinfo.value.status == 402
    amo_connection.refresh_from_db()
    assert amo_connection.state == "unpaid"


def test_resume_closes_the_circuit_again(amo_client, amo_connection, sandbox):
    from console.amocrm.account.connection import connection_resume

    sandbox.fault(kind="unpaid", times=1)
    with pytest.raises(CircuitOpen):
        amo_client.get_account()
    connection_resume(connection_id=amo_connection.pk)
    assert amo_client.get_account()["id"]


# --- responses -------------------------------------------------------------------------------------------


def test_a_204_is_no_data(amo_client):
    assert amo_client.search("leads", "nothing-matches-this") == []
    assert amo_client.get_lead(999999999) is None


def test_iteration_follows_links_next_across_pages(amo_client, sandbox):
    amo_client.create_leads([{"name": f"Page lead {i}"} for i in range(7)])
    _clear(sandbox)
    leads = list(amo_client.iter_leads(limit=3))
    assert len([lead for lead in leads if lead["name"].startswith("Page lead")]) == 7
    assert _count(sandbox, "GET /api/v4/leads") >= 3


def test_validation_errors_are_parsed_into_readable_text(amo_client):
    with pytest.raises(ValidationError) as excinfo:
        amo_client.create_leads([{"name": "ok"}, {"name": "bad", "price": "12.5"}])
    error = excinfo.value
    assert error.permanent and error.status == 400
    assert error.validation_errors[0]["request_id"] == "1"
    assert error.validation_errors[0]["path"] == "price"
    assert "item 1, field price" in error.title
    assert error.request_id


def test_validation_error_text_for_amocrm_documented_body():
    body = {
        "validation-errors": [
            {
                "request_id": "0",
                "errors": [
                    {
                        "code": "NotSupportedChoice",
                        "path": "custom_fields_values.0.field_id",
                        "detail": "The value you selected is not a valid choice.",
                    }
                ],
            }
        ],
        "title": "Bad Request",
        "status": 400,
    }
    items = parse_validation_errors(body)
    assert items == [
        {
            "request_id": "0",
            "code": "NotSupportedChoice",
            "path": "custom_fields_values.0.field_id",
            "detail": "The value you selected is not a valid choice.",
        }
    ]
    assert describe_validation_error(items[0]) == (
        "item 0, field custom_fields_values.0.field_id: The value you selected is not a valid choice. "
        "(NotSupportedChoice)"
    )


def test_errors_and_logs_never_carry_secrets(amo_client, amo_connection, sandbox, caplog):
    caplog.set_level(logging.DEBUG)
    sandbox.fault(kind="500", path="/api/v4/account", times=10)
    with pytest.raises(AmoCRMError) as excinfo:
        amo_client.get_account()
    record = str(excinfo.value.as_dict()) + caplog.text
    amo_connection.refresh_from_db()
    record += amo_connection.last_error + amo_connection.state_detail
    for secret in (amo_connection.access_token, amo_connection.refresh_token, amo_connection.client_secret):
        assert secret not in record


# --- endpoints -------------------------------------------------------------------------------------------


def test_create_leads_returns_ids_in_order_across_batches(amo_client, sandbox):
    _clear(sandbox)
    names = [f"Batch {i}" for i in range(120)]
    ids = amo_client.create_leads([{"name": name} for name in names])
    assert len(ids) == 120 and len(set(ids)) == 120
    assert _count(sandbox, "POST /api/v4/leads") == 3
    assert amo_client.get_lead(ids[77])["name"] == "Batch 77"


def test_update_leads_batch_and_single(amo_client):
    first, second = amo_client.create_leads([{"name": "A"}, {"name": "B"}])
    updated = amo_client.update_leads([{"id": first, "price": 10}, {"id": second, "price": 20}])
    assert {item["id"] for item in updated} == {first, second}
    assert amo_client.update_lead(first, {"name": "A2"})["id"] == first
    assert amo_client.get_lead(first)["name"] == "A2"


def test_complex_create_links_a_new_contact(amo_client):
    result = amo_client.create_leads_complex(
        [{"name": "Complex", "_embedded": {"contacts": [{"first_name": "Пётр"}]}}]
    )
    assert result[0]["id"] and result[0]["contact_id"]
    lead = amo_client.get_lead(result[0]["id"], with_=["contacts"])
    assert lead["_embedded"]["contacts"][0]["id"] == result[0]["contact_id"]


def test_iter_leads_filters_by_updated_since(amo_client):
    amo_client.create_leads([{"name": "Old"}])
    assert list(amo_client.iter_leads(updated_since=time.time() + 3600)) == []


def test_find_leads_by_custom_field_confirms_the_field(amo_setup, amo_client):
    field_id = amo_setup.lead_field_ids["order_number"]
    wanted, _decoy = amo_client.create_leads(
        [
            {
                "name": "Order",
                "custom_fields_values": [{"field_id": field_id, "values": [{"value": "R-1001"}]}],
            },
            {"name": "Mentions R-1001 in the name"},
        ]
    )
    assert [lead["id"] for lead in amo_client.find_leads_by_custom_field(field_id, "R-1001")] == [wanted]


def test_notes_links_and_mass_links(amo_client):
    lead_id = amo_client.create_leads([{"name": "With links"}])[0]
    contact_id = amo_client.create_contacts([{"name": "Linked"}])[0]
    company_id = amo_client.create_companies([{"name": "Linked Co"}])[0]
    assert (
        len(
            amo_client.add_notes(
                "leads", [{"entity_id": lead_id, "note_type": "common", "params": {"text": "Hi"}}]
            )
        )
        == 1
    )
    amo_client.link("leads", lead_id, [{"to_entity_id": contact_id, "to_entity_type": "contacts"}])
    amo_client.link_many(
        "leads",
        [
            {
                "entity_id": lead_id,
                "entity_type": "leads",
                "to_entity_id": company_id,
                "to_entity_type": "companies",
            }
        ],
    )
    kinds = {
        (link["to_entity_type"], link["to_entity_id"]) for link in amo_client.get_links("leads", lead_id)
    }
    assert {("contacts", contact_id), ("companies", company_id)} <= kinds
    amo_client.unlink("leads", lead_id, [{"to_entity_id": contact_id, "to_entity_type": "contacts"}])
    amo_client.unlink_many(
        "leads",
        [
            {
                "entity_id": lead_id,
                "entity_type": "leads",
                "to_entity_id": company_id,
                "to_entity_type": "companies",
            }
        ],
    )
    assert not [
        link
        for link in amo_client.get_links("leads", lead_id)
        if link["to_entity_type"] != "catalog_elements"
    ]


def test_webhooks_subscribe_list_unsubscribe(amo_client):
    destination = "https://console.example/amocrm/webhook/s3cr3t-value/"
    amo_client.subscribe_webhook(destination, ["add_lead", "status_lead"])
    assert [h["destination"] for h in amo_client.list_webhooks()] == [destination]
    amo_client.unsubscribe_webhook(destination)
    assert amo_client.list_webhooks() == []


def test_the_client_counts_its_http_calls(amo_client):
    amo_client.get_account()
    amo_client.list_pipelines()
    assert amo_client.calls == 2


def test_redaction_hides_tokens_codes_and_the_webhook_secret():
    from console.amocrm.api.redaction import redact

    text = (
        "Authorization: Bearer abc.def.ghi "
        '{"refresh_token":"def50200aaaaaaaaaaaaaaaaaaaaaaaa","client_secret":"s3"} '
        "GET /amocrm/oauth/callback/?code=def502ffff&state=x https://c.example/amocrm/webhook/hook-secret-1/ "
        '{"code":"NotSupportedChoice"}'
    )
    cleaned = redact(text, secrets=["hook-secret-1"])
    for secret in ("abc.def.ghi", "def50200aaaa", '"s3"', "def502ffff", "hook-secret-1"):
        assert secret not in cleaned
    assert "NotSupportedChoice" in cleaned  # validation codes stay readable


def test_a_json_403_is_a_permanent_error_and_not_a_block():
    from console.amocrm.api.errors import error_from_response

    error = error_from_response(
        status=403,
        text='{"title":"Forbidden","status":403,"detail":"Only an admin can manage webhooks"}',
        content_type="application/problem+json",
        request_id="r1",
        method="POST",
        path="/api/v4/webhooks",
        redact_fn=lambda text: text,
    )
    assert type(error) is RightsError and error.permanent and error_kind(error) == "rights"
    assert "Only an admin" in error.title and error.request_id == "r1"
    html_429 = error_from_response(
        status=429,
        text="<html><body>429 Too Many Requests</body></html>",
        content_type="text/html",
        request_id="",
        method="GET",
        path="/api/v4/leads",
        redact_fn=lambda text: text,
    )
    assert isinstance(html_429, RateLimited) and html_429.retry_after is None
