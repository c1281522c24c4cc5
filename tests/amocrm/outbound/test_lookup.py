"""Finding a customer's contact and company in the sandbox: one search each, confirmed in the fields."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from console.amocrm.outbound.lookup import find_company_id, find_contact_id


def customer(phone: str = "", email: str = "") -> SimpleNamespace:
    return SimpleNamespace(phone=phone, phone_normalized="", email=email)


def _searches(sandbox, entity: str) -> int:
    return sandbox.requests()["counts"].get(f"GET /api/v4/{entity}", 0)


@pytest.mark.parametrize("stored", ["+79991234567", "89991234567", "9991234567"])
def test_find_contact_by_phone_confirms_the_phone_field(amo_client, sandbox, stored):
    decoy = amo_client.create_contacts([{"name": "Decoy 9991234567"}])[0]
    wanted = amo_client.create_contacts(
        [{"name": "Ivan", "custom_fields_values": [{"field_code": "PHONE", "values": [{"value": stored}]}]}]
    )[0]
    sandbox.control("POST", "/_sandbox/requests/clear")
    assert find_contact_id(amo_client, customer(phone="+7 999 123-45-67")) == wanted != decoy
    assert _searches(sandbox, "contacts") == 1


def test_find_contact_by_email_is_case_insensitive(amo_client):
    contact_id = amo_client.create_contacts(
        [
            {
                "name": "Olga",
                "custom_fields_values": [{"field_code": "EMAIL", "values": [{"value": "Olga@Example.ru"}]}],
            }
        ]
    )[0]
    assert find_contact_id(amo_client, customer(email="olga@example.ru")) == contact_id
    assert find_contact_id(amo_client, customer(phone="+70000000000")) is None


def test_find_company_by_inn_then_by_name(amo_client):
    fields = amo_client.list_custom_fields("companies")
    inn_field = next((f for f in fields if f.get("code") == "INN"), None)
    if inn_field is None:
        inn_field = amo_client.create_custom_fields(
            "companies", [{"name": "ИНН", "type": "text", "code": "INN"}]
        )[0]
    by_inn, by_name = amo_client.create_companies(
        [
            {
                "name": "ООО Ромашка",
                "custom_fields_values": [{"field_id": inn_field["id"], "values": [{"value": "7701234567"}]}],
            },
            {"name": "ИП Лютик"},
        ]
    )
    assert find_company_id(amo_client, inn="7701234567") == by_inn
    assert find_company_id(amo_client, inn="0000000000", name="ип  лютик") == by_name
    assert find_company_id(amo_client, inn="0000000000", name="ИП Ромашка") is None
