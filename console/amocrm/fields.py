"""The custom fields the sync fills in amoCRM, and the words it writes there: the one home of both.

- ``LEAD_FIELDS`` / ``COMPANY_FIELDS``: our key -> the field the account setup creates when it is missing
  (found again by ``code``, else by exact name); the setup stores the ids under these keys and the payloads
  fill the fields by them.
- ``LEAD_SELECTS``: the lead fields whose value is one option of a list; the options are the labels of the
  order model's choices, in Russian (:func:`select_options`).
- :func:`amo_label`: the word amoCRM is told for a choice value (a delivery method, a payment status): the
  model's own label, in Russian, the account's language. The console shows the same label in the manager's
  language, so both say the same words.

Custom fields: https://www.amocrm.ru/developers/content/crm_platform/custom-fields
"""

from __future__ import annotations

from typing import Any

from django.db.models import Choices
from django.utils import translation

from console.orders.models import Order

# The language of what the integration writes in amoCRM (field values, select options, notes).
ACCOUNT_LANGUAGE = "ru"

LEAD_FIELDS: dict[str, dict[str, Any]] = {
    "order_number": {"name": "Номер заказа", "type": "text", "code": "ORDER_NUMBER"},
    "installation_date": {"name": "Дата монтажа", "type": "date", "code": "INSTALLATION_DATE"},
    "dismantle_date": {"name": "Дата демонтажа", "type": "date", "code": "DISMANTLE_DATE"},
    "delivery_method": {"name": "Способ доставки", "type": "text", "code": "DELIVERY_METHOD"},
    "delivery_address": {"name": "Адрес доставки", "type": "text", "code": "DELIVERY_ADDRESS"},
    "source": {"name": "Источник заказа", "type": "text", "code": "ORDER_SOURCE"},
    "comment": {"name": "Комментарий к заказу", "type": "textarea", "code": "ORDER_COMMENT"},
    "paid_amount": {"name": "Оплачено, ₽", "type": "numeric", "code": "PAID_AMOUNT"},
    "payment_status": {"name": "Статус оплаты", "type": "select", "code": "PAYMENT_STATUS"},
}
# Select fields: our key -> the choices whose Russian labels are its options (in this order).
LEAD_SELECTS: dict[str, type[Choices]] = {"payment_status": Order.PaymentStatus}
# The lead fields that take a value of their own (a select field takes an option's enum id instead).
LEAD_VALUE_KEYS = tuple(key for key in LEAD_FIELDS if key not in LEAD_SELECTS)

# A business customer's requisites, as company fields.
COMPANY_FIELDS: dict[str, dict[str, Any]] = {
    "company_legal_name": {"name": "Юридическое название", "type": "text", "code": "LEGAL_NAME"},
    "company_inn": {"name": "ИНН", "type": "text", "code": "INN"},
    "company_kpp": {"name": "КПП", "type": "text", "code": "KPP"},
    "company_ogrn": {"name": "ОГРН", "type": "text", "code": "OGRN"},
    "company_legal_address": {"name": "Юридический адрес", "type": "textarea", "code": "LEGAL_ADDRESS"},
}


def amo_label(choices: type[Choices], value: str) -> str:
    """The label of ``value`` in ``choices`` in the account's language (Russian); an unknown value as it
    is."""
    if value not in choices.values:
        return value
    with translation.override(ACCOUNT_LANGUAGE):
        return str(choices(value).label)


def select_options(key: str) -> dict[str, str]:
    """``{our value: the option's text in amoCRM}`` of the select field ``key`` (found again by text)."""
    choices = LEAD_SELECTS[key]
    return {value: amo_label(choices, value) for value in choices.values}


def lead_field_specs() -> dict[str, dict[str, Any]]:
    """``LEAD_FIELDS`` as the account setup creates them: each select field with its options."""
    specs = {key: dict(spec) for key, spec in LEAD_FIELDS.items()}
    for key in LEAD_SELECTS:
        texts = select_options(key).values()
        specs[key]["enums"] = [{"value": text, "sort": 10 * n} for n, text in enumerate(texts, start=1)]
    return specs
