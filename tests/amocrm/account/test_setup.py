"""Account setup against the sandbox: fields, catalog, pipelines cache, stage map, webhook; idempotent."""

from __future__ import annotations

import logging
from io import StringIO

from django.core.management import call_command

from console.amocrm.account.connection import connection_rotate_webhook_secret
from console.amocrm.account.setup import WEBHOOK_EVENTS, account_setup
from console.amocrm.fields import LEAD_FIELDS
from console.amocrm.models import AmoConnection, Pipeline, PipelineStatus, StageMapping

BASE = "https://console.example"


def _writes(sandbox) -> dict[str, int]:
    counts = sandbox.requests()["counts"]
    return {key: n for key, n in counts.items() if not key.startswith("GET ") and "access_token" not in key}


def test_setup_creates_the_missing_lead_fields_and_reuses_existing_ones(amo_connection, sandbox):
    report = account_setup(connection_id=amo_connection.pk, webhook_base_url=BASE)
    amo_connection.refresh_from_db()
    assert set(amo_connection.lead_field_ids) == set(LEAD_FIELDS)
    # the sandbox seeds "Номер заказа" (text) and "Адрес доставки" (textarea): found by name, not duplicated
    assert "order_number" not in report.created_fields and "delivery_address" not in report.created_fields
    assert {"installation_date", "dismantle_date"} <= set(report.created_fields)
    token = sandbox.token()
    fields = sandbox.api("GET", "leads/custom_fields?limit=250", token=token).json()["_embedded"][
        "custom_fields"
    ]
    by_id = {f["id"]: f for f in fields}
    assert by_id[amo_connection.lead_field_ids["installation_date"]]["type"] == "date"
    assert len([f for f in fields if f["name"] == "Адрес доставки"]) == 1


def test_setup_stores_the_products_catalog_and_its_fields(amo_connection):
    account_setup(connection_id=amo_connection.pk, webhook_base_url="")
    amo_connection.refresh_from_db()
    assert amo_connection.products_catalog_id
    assert amo_connection.product_sku_field_id and amo_connection.product_price_field_id
    assert amo_connection.account_id and amo_connection.subdomain and amo_connection.account_name


def test_setup_caches_pipelines_and_seeds_the_stage_map_by_position(amo_connection):
    account_setup(connection_id=amo_connection.pk, webhook_base_url="")
    main = Pipeline.objects.get(is_main=True)
    assert Pipeline.objects.count() == 2
    ordinary = list(
        main.statuses.filter(type=0).exclude(status_id__in=[142, 143]).values_list("status_id", flat=True)
    )
    stage = {m.order_status: (m.pipeline_id, m.status_id) for m in StageMapping.objects.all()}
    assert stage["new"] == (main.amo_id, ordinary[0])
    assert stage["reserved"] == (main.amo_id, ordinary[1])
    assert stage["archived"] == (main.amo_id, 142)
    assert stage["cancelled"] == (main.amo_id, 143)
    assert PipelineStatus.objects.filter(pipeline=main, status_id=142).exists()


def test_the_environment_stage_map_is_the_initial_value(amo_connection, sandbox, settings):
    token = sandbox.token()
    pipelines = sandbox.api("GET", "leads/pipelines", token=token).json()["_embedded"]["pipelines"]
    other = next(p for p in pipelines if not p["is_main"])
    stage_id = other["_embedded"]["statuses"][-3]["id"]
    settings.AMO_PIPELINE_ID = str(other["id"])
    settings.AMO_STATUS_MAP_ENV = {**settings.AMO_STATUS_MAP_ENV, "in_rent": str(stage_id)}
    account_setup(connection_id=amo_connection.pk, webhook_base_url="")
    mapping = StageMapping.objects.get(order_status="in_rent")
    assert (mapping.pipeline_id, mapping.status_id) == (other["id"], stage_id)


def test_an_admin_edited_mapping_is_kept(amo_connection):
    StageMapping.objects.create(order_status="new", pipeline_id=1, status_id=2)
    report = account_setup(connection_id=amo_connection.pk, webhook_base_url="")
    mapping = StageMapping.objects.get(order_status="new")
    assert (mapping.pipeline_id, mapping.status_id) == (1, 2)
    assert not mapping.is_active  # the stage does not exist in the account: disabled, with a note
    assert "new" in report.deactivated_statuses


def test_setup_subscribes_our_webhook_with_the_lead_events(amo_connection, sandbox):
    report = account_setup(connection_id=amo_connection.pk, webhook_base_url=BASE)
    hooks = sandbox.api("GET", "webhooks", token=sandbox.token()).json()["_embedded"]["webhooks"]
    amo_connection.refresh_from_db()
    assert [h["destination"] for h in hooks] == [f"{BASE}/amocrm/webhook/{amo_connection.webhook_secret}/"]
    assert set(WEBHOOK_EVENTS) <= set(hooks[0]["settings"])
    assert report.webhook == "subscribed"
    assert amo_connection.webhook_secret not in amo_connection.webhook_destination_hint


def test_running_setup_twice_changes_nothing(amo_connection, sandbox):
    account_setup(connection_id=amo_connection.pk, webhook_base_url=BASE)
    mappings = list(StageMapping.objects.values_list("order_status", "pipeline_id", "status_id", "is_active"))
    sandbox.control("POST", "/_sandbox/requests/clear")
    report = account_setup(connection_id=amo_connection.pk, webhook_base_url=BASE)
    assert _writes(sandbox) == {}
    assert (
        report.created_fields == []
        and report.seeded_statuses == []
        and report.webhook == "already subscribed"
    )
    assert (
        list(StageMapping.objects.values_list("order_status", "pipeline_id", "status_id", "is_active"))
        == mappings
    )


def test_a_rotated_webhook_secret_replaces_the_old_subscription(amo_connection, sandbox):
    account_setup(connection_id=amo_connection.pk, webhook_base_url=BASE)
    connection_rotate_webhook_secret(connection_id=amo_connection.pk)
    account_setup(connection_id=amo_connection.pk, webhook_base_url=BASE)
    secret = AmoConnection.objects.get(pk=amo_connection.pk).webhook_secret
    hooks = sandbox.api("GET", "webhooks", token=sandbox.token()).json()["_embedded"]["webhooks"]
    assert [h["destination"] for h in hooks] == [f"{BASE}/amocrm/webhook/{secret}/"]


def test_setup_never_logs_the_webhook_secret(amo_connection, caplog):
    caplog.set_level(logging.DEBUG)
    account_setup(connection_id=amo_connection.pk, webhook_base_url=BASE)
    amo_connection.refresh_from_db()
    assert amo_connection.webhook_secret not in caplog.text


def test_the_setup_command_prints_a_summary(amo_connection):
    out = StringIO()
    call_command("amocrm_setup", "--webhook-base-url", BASE, stdout=out)
    assert "pipelines cached: 2" in out.getvalue()


def test_the_connect_sandbox_command_exchanges_a_code_and_runs_setup(db, sandbox):
    out = StringIO()
    call_command("amocrm_connect_sandbox", "--url", sandbox.url, "--webhook-base-url", "", stdout=out)
    connection = AmoConnection.get_solo()
    assert connection.state == "connected" and connection.base_url == sandbox.url
    assert connection.lead_field_ids and StageMapping.objects.count() == 6
    assert sandbox.requests()["counts"]["POST /oauth2/access_token"] == 1


def test_setup_creates_the_company_requisite_fields_and_the_payment_fields(amo_connection, sandbox):
    from console.amocrm.fields import COMPANY_FIELDS

    account_setup(connection_id=amo_connection.pk, webhook_base_url="")
    amo_connection.refresh_from_db()
    assert set(amo_connection.company_field_ids) == set(COMPANY_FIELDS)
    fields = sandbox.api("GET", "companies/custom_fields?limit=250").json()["_embedded"]["custom_fields"]
    by_id = {f["id"]: f for f in fields}
    assert by_id[amo_connection.company_field_ids["company_inn"]]["name"] == "ИНН"
    enums = amo_connection.lead_field_enums["payment_status"]
    assert set(enums) == {"not_paid", "prepaid", "paid"} and len(set(enums.values())) == 3
    lead_fields = sandbox.api("GET", "leads/custom_fields?limit=250").json()["_embedded"]["custom_fields"]
    payment = next(f for f in lead_fields if f["id"] == amo_connection.lead_field_ids["payment_status"])
    assert {e["id"]: e["value"] for e in payment["enums"]}[enums["paid"]] == "Оплачено"
    again = account_setup(connection_id=amo_connection.pk, webhook_base_url="")
    assert again.created_fields == []


def test_the_payment_options_are_the_consoles_own_words_in_russian():
    from django.utils import translation

    from console.amocrm.fields import lead_field_specs, select_options
    from console.orders.models import Order

    with translation.override("ru"):
        console_words = {value: str(label) for value, label in Order.PaymentStatus.choices}
    assert select_options("payment_status") == console_words
    assert console_words == {"not_paid": "Не оплачено", "prepaid": "Предоплата", "paid": "Оплачено"}
    options = lead_field_specs()["payment_status"]["enums"]
    assert options == [
        {"value": "Не оплачено", "sort": 10},
        {"value": "Предоплата", "sort": 20},
        {"value": "Оплачено", "sort": 30},
    ]
