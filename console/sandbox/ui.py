"""The human UI: a leads board by pipeline stage and a lead page whose form moves the lead (fires webhooks).
Plain HTML forms, no JavaScript; every change goes through the same code as the control API."""

from __future__ import annotations

import re
from datetime import datetime
from html import escape
from typing import TYPE_CHECKING, Any

from .http import Request, Response, ValidationFailed, html_response, redirect
from .webhook_events import MOSCOW

if TYPE_CHECKING:
    from .app import Sandbox

_STYLE = """<style>body{font-family:sans-serif;margin:1em;background:#f4f6f8}
.board{display:flex;gap:.6em;align-items:flex-start;overflow-x:auto}.col{background:#fff;min-width:13em;
border-top:4px solid var(--c);padding:.4em}
.card{display:block;border:1px solid #ddd;margin:.3em 0;padding:.4em;
color:#123;text-decoration:none;background:#fafafa}.muted{color:#777;font-size:.85em}.err{color:#b00}</style>"""


# Field types whose values are Unix seconds (https://www.amocrm.ru/developers/content/crm_platform/custom-fields).
DATE_FIELDS = {"date", "date_time", "birthday"}


def moment(value: Any, *, date_only: bool = False) -> str:
    """Unix seconds as the account's local time (Moscow): "dd.mm.yyyy HH:MM"; ``date_only`` drops a midnight
    time ("dd.mm.yyyy", as amoCRM shows a date field). Anything else as it is."""
    try:
        local = datetime.fromtimestamp(int(value), MOSCOW)
    except (TypeError, ValueError, OverflowError, OSError):
        return str(value)
    midnight = (local.hour, local.minute, local.second) == (0, 0, 0)
    return local.strftime("%d.%m.%Y" if date_only and midnight else "%d.%m.%Y %H:%M")


def _field_text(cf: dict[str, Any]) -> str:
    kind = cf.get("field_type")
    values = [v["value"] for v in cf["values"]]
    if kind in DATE_FIELDS:
        values = [moment(v, date_only=kind != "date_time") for v in values]
    return ", ".join(str(v) for v in values)


def page(title: str, content: str, status: int = 200) -> Response:
    html = (
        '<!doctype html><html lang="ru"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title>{_STYLE}</head>"
        f'<body><p><a href="/_sandbox/board">Сделки</a> · песочница amoCRM</p>{content}</body></html>'
    )
    return html_response(status, html)


def board(sb: Sandbox, req: Request) -> Response:
    pipes = sb.store.all("pipeline")
    chosen = req.arg("pipeline_id")
    pipe = next((p for p in pipes if str(p["id"]) == chosen), None) or next(p for p in pipes if p["is_main"])
    leads = [d for d in sb.store.all("leads") if not d["is_deleted"] and d["pipeline_id"] == pipe["id"]]
    tabs = " | ".join(
        f'<a href="/_sandbox/board?pipeline_id={p["id"]}">{"<b>" if p is pipe else ""}{escape(p["name"])}'
        f"{'</b>' if p is pipe else ''}</a>"
        for p in pipes
    )
    cols = []
    for status in pipe["statuses"]:
        cards = "".join(
            f'<a class="card" href="/_sandbox/ui/leads/{d["id"]}">'
            f"{escape(d['name'] or 'Сделка #' + str(d['id']))}"
            f'<br><span class="muted">{d["price"] or 0} ₽ · #{d["id"]}</span></a>'
            for d in leads
            if d["status_id"] == status["id"]
        )
        cols.append(
            f'<div class="col" style="--c:{status["color"]}"><b>{escape(status["name"])}</b>'
            f'<div class="muted">{sum(1 for d in leads if d["status_id"] == status["id"])}</div>{cards}</div>'
        )
    elements = "".join(
        f'<option value="{el["id"]}">{escape(el["name"])}</option>' for el in sb.store.all("element")
    )
    create = (
        '<form method="post" action="/_sandbox/ui/leads">'
        f'<input type="hidden" name="pipeline_id" value="{pipe["id"]}">'
        '<input name="name" placeholder="Название сделки" required> <input name="price" placeholder="Бюджет" '
        'inputmode="numeric"> <input name="contact_name" placeholder="Контакт"> '
        '<input name="contact_phone" placeholder="Телефон контакта"> '
        f'<select name="element_id"><option value="">Без товара</option>{elements}</select> '
        '<input name="quantity" placeholder="Кол-во" inputmode="numeric" size="4"> '
        "<button>Добавить сделку</button></form>"
    )
    return page("Сделки", f'<h1>Сделки</h1><p>{tabs}</p>{create}<div class="board">{"".join(cols)}</div>')


def lead_page(sb: Sandbox, lead_id: int, error: str = "") -> Response:
    lead = sb.store.get("leads", lead_id)
    if lead is None or lead["is_deleted"]:
        return page("Не найдено", "<h1>Сделка не найдена</h1>", 404)
    options = []
    for pipe in sb.store.all("pipeline"):
        for status in pipe["statuses"]:
            if status["type"] == 1:
                continue
            value = f"{pipe['id']}:{status['id']}"
            sel = (
                " selected" if (pipe["id"], status["id"]) == (lead["pipeline_id"], lead["status_id"]) else ""
            )
            options.append(
                f'<option value="{value}"{sel}>{escape(pipe["name"])} → {escape(status["name"])}</option>'
            )
    fields = "".join(
        f"<li>{escape(cf['field_name'])}: {escape(_field_text(cf))}</li>"
        for cf in lead.get("custom_fields_values") or []
    )
    contacts = [
        x for x in sb.store.all("link", prefix=f"leads:{lead_id}:") if x["to_entity_type"] == "contacts"
    ]
    names = []
    for link in contacts:
        contact = sb.store.get("contacts", link["to_entity_id"])
        if contact:
            phones = [
                v["value"]
                for cf in contact.get("custom_fields_values") or []
                if cf["field_code"] == "PHONE"
                for v in cf["values"]
            ]
            names.append(f"<li>{escape(contact['name'])} {escape(', '.join(phones))}</li>")
    err = f'<p class="err">{escape(error)}</p>' if error else ""
    content = (
        f"<h1>{escape(lead['name'] or 'Сделка')} <span class='muted'>#{lead['id']}</span></h1>{err}"
        f"<p>Бюджет: {lead['price'] or 0} ₽</p>"
        f"<p class='muted'>Создана {moment(lead.get('created_at'))} · "
        f"изменена {moment(lead.get('updated_at'))}</p>"
        f"<ul>{fields}</ul><h3>Контакты</h3><ul>{''.join(names)}</ul>"
        f'<form method="post" action="/_sandbox/ui/leads/{lead_id}/move"><label>Этап <select name="target">'
        f"{''.join(options)}</select></label> <button>Переместить</button></form>"
        f'<form method="post" action="/_sandbox/ui/leads/{lead_id}/delete" style="margin-top:2em">'
        "<button>Удалить сделку</button></form>"
    )
    return page(lead["name"] or "Сделка", content)


def _errors_text(exc: ValidationFailed) -> str:
    return "; ".join(f"{e['path']}: {e['detail']}" for g in exc.groups for e in g["errors"])


def _new_lead(sb: Sandbox, form: dict[str, str]) -> dict[str, Any]:
    """The board's "add a deal" form as a lead to create: its contact (created first, as a manager does in
    the card) and one product with its quantity, when given."""
    item: dict[str, Any] = {"name": form.get("name", "")}
    if form.get("price", "").strip().isdigit():
        item["price"] = int(form["price"])
    if form.get("pipeline_id", "").isdigit():
        item["pipeline_id"] = int(form["pipeline_id"])
    name, phone = form.get("contact_name", "").strip(), form.get("contact_phone", "").strip()
    if name or phone:
        contact: dict[str, Any] = {"name": name or phone}
        if phone:
            contact["custom_fields_values"] = [{"field_code": "PHONE", "values": [{"value": phone}]}]
        made = sb.create_by_manager("contacts", contact)
        item["_embedded"] = {"contacts": [{"id": made["id"], "is_main": True}]}
    if form.get("element_id", "").isdigit():
        quantity = int(form["quantity"]) if form.get("quantity", "").strip().isdigit() else 1
        item["catalog_elements"] = [{"id": int(form["element_id"]), "quantity": quantity}]
    return item


def handle(sb: Sandbox, req: Request) -> Response:
    """Route the UI pages."""
    path = req.path.rstrip("/") or "/"
    if path in ("/", "/_sandbox/board"):
        return board(sb, req)
    detail = re.fullmatch(r"/leads/detail/(\d+)", path)
    if detail:  # the address of a deal's card in amoCRM's own web interface
        return lead_page(sb, int(detail.group(1)))
    if path == "/_sandbox/ui/leads" and req.method == "POST":
        lead = sb.create_by_manager("leads", _new_lead(sb, req.form()))
        return redirect(f"/_sandbox/ui/leads/{lead['id']}", 303)
    match = re.fullmatch(r"/_sandbox/ui/leads/(\d+)(/move|/delete)?", path)
    if match is None:
        return page("Не найдено", "<h1>Страница не найдена</h1>", 404)
    lead_id = int(match.group(1))
    action = match.group(2)
    if action is None:
        return lead_page(sb, lead_id)
    if req.method != "POST":
        return page("Метод не поддерживается", "<h1>405</h1>", 405)
    if action == "/delete":
        sb.delete_entity("leads", lead_id)
        return redirect("/_sandbox/board", 303)
    target = req.form().get("target", "")
    pid, _, sid = target.partition(":")
    if not (pid.isdigit() and sid.isdigit()):
        return lead_page(sb, lead_id, "Выберите этап")
    try:
        sb.move_lead(lead_id, int(sid), int(pid))
    except ValidationFailed as exc:
        return lead_page(sb, lead_id, _errors_text(exc))
    return redirect(f"/_sandbox/ui/leads/{lead_id}", 303)
