"""Seed data: the main pipeline with Russian stage names, a second pipeline, custom fields, the products
catalog and the integration given on the command line."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .api.catalogs import new_catalog, write_element
from .api.custom_fields import new_custom_field
from .api.loss_reasons import seed_loss_reasons

if TYPE_CHECKING:
    from .app import Sandbox

MAIN_STAGES = [
    ("Неразобранное", 1, "#c1c1c1"),
    ("Новая заявка", 0, "#99ccff"),
    ("Бронь", 0, "#ffff99"),
    ("В аренде", 0, "#ffcc66"),
    ("Монтаж/демонтаж", 0, "#ccc8f9"),
    ("Завершено", 0, "#87f2c0"),
]
REPAIR_STAGES = [("Неразобранное", 1, "#c1c1c1"), ("Приёмка", 0, "#99ccff"), ("В ремонте", 0, "#ffcc66")]
PHONE_ENUMS = ["WORK", "WORKDD", "MOB", "FAX", "HOME", "OTHER"]
EMAIL_ENUMS = ["WORK", "PRIV", "OTHER"]
PRODUCTS = [
    ("Стул Кьявари белый", "CH-01", 350),
    ("Стол банкетный 180 см", "T-180", 900),
    ("Шатёр 5×5 м", "TN-55", 7000),
]


def _pipeline(sb: Sandbox, name: str, stages: list[tuple[str, int, str]], is_main: bool, sort: int) -> None:
    pid = sb.store.next_id("pipeline", 7000001)
    account_id = sb.config["account_id"]
    statuses: list[dict[str, Any]] = []
    for i, (title, stype, color) in enumerate(stages):
        sid = sb.store.next_id("status", 7100001)
        statuses.append(
            {
                "id": sid,
                "name": title,
                "sort": (i + 1) * 10,
                "is_editable": stype == 0,
                "pipeline_id": pid,
                "color": color,
                "type": stype,
                "account_id": account_id,
            }
        )
    for sid, title, color in (
        (142, "Успешно реализовано", "#CCFF66"),
        (143, "Закрыто и не реализовано", "#D5D8DB"),
    ):
        statuses.append(
            {
                "id": sid,
                "name": title,
                "sort": 10000 if sid == 142 else 11000,
                "is_editable": False,
                "pipeline_id": pid,
                "color": color,
                "type": 0,
                "account_id": account_id,
            }
        )
    pipe = {
        "id": pid,
        "name": name,
        "sort": sort,
        "is_main": is_main,
        "is_unsorted_on": True,
        "is_archive": False,
        "account_id": account_id,
        "statuses": statuses,
    }
    sb.store.put("pipeline", pid, pipe)


def seed(sb: Sandbox) -> None:
    """Fill an empty store."""
    sb.store.put("integration", sb.integration["client_id"], dict(sb.integration, name="Консоль аренды"))
    _pipeline(sb, "Аренда", MAIN_STAGES, True, 1)
    _pipeline(sb, "Ремонт", REPAIR_STAGES, False, 2)
    seed_loss_reasons(sb)
    for entity in ("contacts", "companies"):
        new_custom_field(
            sb,
            entity,
            {
                "name": "Телефон",
                "type": "multitext",
                "code": "PHONE",
                "sort": 4,
                "enums": [{"value": v} for v in PHONE_ENUMS],
            },
        )
        new_custom_field(
            sb,
            entity,
            {
                "name": "Email",
                "type": "multitext",
                "code": "EMAIL",
                "sort": 6,
                "enums": [{"value": v} for v in EMAIL_ENUMS],
            },
        )
    new_custom_field(sb, "contacts", {"name": "Должность", "type": "text", "code": "POSITION", "sort": 2})
    new_custom_field(sb, "companies", {"name": "Web", "type": "url", "code": "WEB", "sort": 8})
    new_custom_field(sb, "companies", {"name": "Адрес", "type": "textarea", "code": "ADDRESS", "sort": 10})
    new_custom_field(sb, "leads", {"name": "Номер заказа", "type": "text", "sort": 510})
    new_custom_field(sb, "leads", {"name": "Дата мероприятия", "type": "date", "sort": 520})
    new_custom_field(
        sb,
        "leads",
        {
            "name": "Способ получения",
            "type": "select",
            "sort": 530,
            "enums": [{"value": "Доставка"}, {"value": "Самовывоз"}],
        },
    )
    new_custom_field(sb, "leads", {"name": "Адрес доставки", "type": "textarea", "sort": 540})
    catalog = new_catalog(sb, "Товары", "products")
    kind = f"catalog:{catalog['id']}"
    sku = new_custom_field(sb, kind, {"name": "Артикул", "type": "text", "code": "SKU", "sort": 1})
    price = new_custom_field(sb, kind, {"name": "Цена", "type": "price", "code": "PRICE", "sort": 2})
    new_custom_field(sb, kind, {"name": "Описание", "type": "textarea", "code": "DESCRIPTION", "sort": 3})
    for name, code, amount in PRODUCTS:
        errors: list[dict[str, str]] = []
        item = {
            "name": name,
            "custom_fields_values": [
                {"field_id": sku["id"], "values": [{"value": code}]},
                {"field_id": price["id"], "values": [{"value": amount}]},
            ],
        }
        doc = write_element(sb, catalog["id"], item, None, 0, errors)
        doc["id"] = sb.store.next_id("element", 8100001)
        sb.store.put("element", doc["id"], doc)
