"""Every string in Russian and English: the Russian catalog is complete and compiled, the console's pages in
Russian hold no English left over from the source strings and no raw codes or internal ids, and money and
times are shown in the one format (console/web/templatetags/console_format.py), in Moscow time.

The .po is read by a small parser here (no extra dependency); the compiled .mo by Python's own ``gettext``.
"""

from __future__ import annotations

import ast
import datetime as dt
import gettext
import re
from dataclasses import dataclass, field
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import translation

from console.amocrm.models import ConfigChange, SyncLog, WebhookInbox
from console.orders.models import Order
from console.web.templatetags.console_format import format_when
from tests.legacy_reasons import from_prose
from tests.web.orders_world import PIPELINE, connect, create_order, deal_at, map_stages, sync_row

LOCALE = Path(settings.BASE_DIR) / "console" / "locale" / "ru" / "LC_MESSAGES"
PO, MO = LOCALE / "django.po", LOCALE / "django.mo"
RU_PLURALS = 4  # the catalog's Plural-Forms (Django's own Russian catalogs use the same four)
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdr]")


# --- the catalog -------------------------------------------------------------------------------------------


@dataclass
class Entry:
    msgid: str = ""
    msgctxt: str | None = None
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    obsolete: bool = False

    @property
    def key(self) -> str:
        return f"{self.msgctxt}\x04{self.msgid}" if self.msgctxt is not None else self.msgid


_KEYWORD = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(".*")$')


def read_po(path: Path) -> list[Entry]:
    """The entries of a .po file (header included, obsolete ones marked), as GNU gettext writes them."""
    entries: list[Entry] = []
    entry: Entry | None = None
    target: tuple[str, int] = ("", 0)
    for raw in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        line, obsolete = (raw[2:].lstrip(), True) if raw.startswith("#~") else (raw, False)
        if not line.strip():
            if entry is not None and target[0]:
                entries.append(entry)
            entry, target = None, ("", 0)
            continue
        entry = entry or Entry()
        entry.obsolete |= obsolete
        if line.startswith("#,"):
            entry.flags |= {flag.strip() for flag in line[2:].split(",")}
        elif line.startswith("#"):
            continue
        elif match := _KEYWORD.match(line):
            keyword, index, value = match.groups()
            target = ("msgstr", int(index or 0)) if keyword.startswith("msgstr") else (keyword, 0)
            _append(entry, target, ast.literal_eval(value), start=True)
        else:
            _append(entry, target, ast.literal_eval(line), start=False)
    return entries


def _append(entry: Entry, target: tuple[str, int], text: str, *, start: bool) -> None:
    name, index = target
    if name == "msgstr":
        entry.msgstr[index] = ("" if start else entry.msgstr[index]) + text
    else:
        setattr(entry, name, ("" if start else getattr(entry, name)) + text)


@pytest.fixture(scope="module")
def catalog() -> list[Entry]:
    return [entry for entry in read_po(PO) if entry.msgid]


def test_the_catalog_has_no_empty_fuzzy_or_obsolete_entry(catalog: list[Entry]) -> None:
    assert catalog
    assert [e.msgid for e in catalog if "fuzzy" in e.flags] == []
    assert [e.msgid for e in catalog if e.obsolete] == []
    assert [e.msgid for e in catalog if not all(e.msgstr.values())] == []
    plural = [e for e in catalog if e.msgid_plural is not None]
    assert [e.msgid for e in plural if sorted(e.msgstr) != list(range(RU_PLURALS))] == []


def test_every_translation_keeps_the_placeholders_of_its_source(catalog: list[Entry]) -> None:
    wrong = []
    for entry in catalog:
        sources = set(PLACEHOLDER.findall(entry.msgid + (entry.msgid_plural or "")))
        for text in entry.msgstr.values():
            if not set(PLACEHOLDER.findall(text)) <= sources:
                wrong.append((entry.msgid, text))
        if entry.msgid_plural is None and sources != set(PLACEHOLDER.findall(entry.msgstr[0])):
            wrong.append((entry.msgid, entry.msgstr[0]))
    assert wrong == []


def test_the_committed_mo_is_compiled_from_the_po(catalog: list[Entry]) -> None:
    """The same entries as msgfmt makes of the .po (untranslated and fuzzy ones are left out of a .mo)."""
    expected: dict[object, str] = {}
    for entry in catalog:
        if entry.obsolete or "fuzzy" in entry.flags:
            continue
        if entry.msgid_plural is None:
            if entry.msgstr[0]:
                expected[entry.key] = entry.msgstr[0]
        elif all(entry.msgstr.values()):
            expected |= {(entry.key, index): text for index, text in entry.msgstr.items()}
    with MO.open("rb") as mo:
        compiled = dict(gettext.GNUTranslations(mo)._catalog)  # noqa: SLF001 (the parsed .mo, as it is)
    compiled.pop("", None)  # the header
    assert compiled == expected, "run: manage.py compilemessages -l ru --ignore=.venv"


def test_no_module_hides_gettext_from_makemessages() -> None:
    """makemessages (xgettext) finds ``_``, ``gettext``, ``gettext_lazy``, ``ngettext``... but not a call
    through another alias: its strings would never reach the catalog."""
    aliased = re.compile(r"from django\.utils\.translation import (\w*gettext\w*) as (?!_\b)(\w+)")
    found = [
        f"{path}: {match.group(0)}"
        for path in (Path(settings.BASE_DIR) / "console").rglob("*.py")
        if "sandbox" not in path.parts
        for match in aliased.finditer(path.read_text(encoding="utf-8"))
    ]
    assert found == []


# --- the pages in Russian -----------------------------------------------------------------------------------

# 21:05 UTC on 9 March is 00:05 on 10 March in Moscow.
MOMENT = dt.datetime(2026, 3, 9, 21, 5, tzinfo=dt.UTC)
MOSCOW = "10.03.2026 00:05"
NBSP = "\u00a0"
MONEY = re.compile(rf"-?\d{{1,3}}(?:{NBSP}\d{{3}})*,\d{{2}}{NBSP}₽")
# Codes stored in the rows of the world below: none may be shown as it is.
RAW_CODES = [
    "leads[status]",
    "amocrm_update",
    "link_to_lead",
    "manager:admin",
    "not_synced",
    "in_rent",
    f"{PIPELINE}/12",
    f"{PIPELINE}/13",
    f"{PIPELINE}:12",
]
MONTHS = (
    "января|февраля|марта|апреля|мая|июня|июля|августа|сентября|октября|ноября|декабря|"
    "January|February|March|April|June|July|August|September|October|November|December"
)


class VisibleText(HTMLParser):
    """What a person reads on a page: text, button and option labels, placeholders, aria labels and confirm
    questions, without scripts, styles, templates, and the raw material kept for support (``<details>``,
    ``<pre>``, ``<code>``)."""

    HIDDEN = {"script", "style", "template", "details", "pre", "code"}
    SPOKEN = {"placeholder", "aria-label", "data-confirm", "hx-confirm"}

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.HIDDEN:
            self.hidden += 1
        elif not self.hidden:
            self.parts += [value for name, value in attrs if name in self.SPOKEN and value]

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN and self.hidden:
            self.hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self.hidden and data.strip():
            self.parts.append(data)

    @classmethod
    def of(cls, html: str) -> str:
        parser = cls()
        parser.feed(html)
        return re.sub(r"[ \t\r\n]+", " ", " ".join(parser.parts))


def english_left(text: str, catalog: list[Entry]) -> list[str]:
    """Source strings (of two words or more) shown untranslated: the literal parts of each msgid between its
    placeholders, when they differ from their translation."""
    left = []
    for entry in catalog:
        if entry.msgstr.get(0) == entry.msgid:
            continue
        for source in filter(None, [entry.msgid, entry.msgid_plural]):
            for part in PLACEHOLDER.split(source)[::2]:
                part = part.strip(" .,:;()")
                if len(part) >= 8 and " " in part and part in text:
                    left.append(part)
    return sorted(set(left))


@pytest.fixture
def world(db, products) -> dict[str, object]:  # noqa: ANN001
    """A connected account with a named pipeline and a stage map; an order whose deal drifted (with a
    payment, sync log rows of every kind of trigger and a webhook); an order whose sync failed; set-up
    changes on the connection and the stage map."""
    connect()
    map_stages()
    order = create_order(status="reserved")
    Order.objects.filter(pk=order.pk).update(created_at=MOMENT, paid_amount=Decimal("1234.50"))
    sync = deal_at(order, 13)  # the deal sits at "В аренде": another status than the order's
    failed = create_order(phone="+79990001122", first_name="Olga")
    sync_row(failed, state="failed", attempts=8, last_error_title="Bad Request", last_error_kind="validation")
    logged = [
        ("webhook", "amocrm_update", "webhook", "ok", ""),
        ("link", "link_to_lead", "manager:admin", "ok", ""),
        ("updated", "update", "bulk:admin", "failed", "validation"),
    ]
    for event, action, trigger, outcome, kind in logged:
        SyncLog.objects.create(
            order=order,
            event=event,
            action=action,
            trigger=trigger,
            outcome=outcome,
            error_kind=kind,
            error_title="Bad Request" if kind else "",
            lead_id=sync.lead_id,
            started_at=MOMENT,
        )
    hook = WebhookInbox.objects.create(
        body=b"leads%5Bstatus%5D%5B0%5D%5Bid%5D=1",
        events="leads[status]",
        entity_ids=str(sync.lead_id),
        outcome="applied",
        reasons=from_prose(f"status reserved from stage {PIPELINE}/12"),
        order=order,
        received_at=MOMENT,
        processed_at=MOMENT,
        results=[{"entity": "leads", "action": "status", "id": sync.lead_id, "outcome": "applied"}],
    )
    ConfigChange.objects.create(
        area="stage_map",
        actor="admin",
        summary="Stage map changed",
        changed_at=MOMENT,
        before={"reserved": {"stage": f"{PIPELINE}:11", "name": "Аренда → Новая заявка", "active": True}},
        after={"reserved": {"stage": f"{PIPELINE}:12", "name": "Аренда → Бронь", "active": True}},
    )
    ConfigChange.objects.create(
        area="connection",
        actor="admin",
        summary="Sync paused",
        changed_at=MOMENT,
        before={"state": "connected", "long_lived": False},
        after={"state": "paused", "long_lived": True},
    )
    return {"order": order, "hook": hook}


PAGES = {
    "dashboard": lambda w: reverse("web:dashboard"),
    "orders": lambda w: reverse("web:orders"),
    "order": lambda w: reverse("web:order_detail", args=[w["order"].pk]),
    "stage map": lambda w: reverse("web:stage_map"),
    "connection": lambda w: reverse("web:connection"),
    "sync log": lambda w: reverse("web:sync_log"),
    "failed syncs": lambda w: reverse("web:sync_failed"),
    "webhooks": lambda w: reverse("web:webhooks"),
    "webhook": lambda w: reverse("web:webhook_detail", args=[w["hook"].pk]),
    "webhook stages": lambda w: reverse("web:webhook_stages"),
    "users": lambda w: reverse("web:users"),
}


def russian_html(client: Client, url: str) -> str:
    with translation.override("ru"):  # the language the middleware picks is undone after the request
        response = client.get(url, HTTP_ACCEPT_LANGUAGE="ru")
    assert response.status_code == 200, url
    assert response.headers["Content-Language"] == "ru"
    return response.content.decode()


def russian_page(client: Client, url: str) -> str:
    return VisibleText.of(russian_html(client, url))


@pytest.mark.parametrize("page", PAGES)
def test_a_page_in_russian_holds_no_english_source_string(
    page: str, world: dict, admin_client: Client, catalog: list[Entry]
) -> None:
    text = russian_page(admin_client, PAGES[page](world))
    assert english_left(text, catalog) == []


@pytest.mark.parametrize("page", PAGES)
def test_a_page_shows_no_raw_code_or_internal_id(page: str, world: dict, admin_client: Client) -> None:
    html = russian_html(admin_client, PAGES[page](world))
    text = VisibleText.of(html)
    assert [code for code in RAW_CODES if code in text] == []
    assert not re.search(r"(?<![/\w])webhook(?![/\w])", text)  # the trigger's code, not a word of the page
    order_url = reverse("web:order_detail", args=[world["order"].pk])
    assert not re.search(rf'href="{order_url}"[^>]*>\s*#?\d+\s*<', html)  # an order is named by its number


@pytest.mark.parametrize("page", PAGES)
def test_money_and_times_have_one_format_on_every_page(page: str, world: dict, admin_client: Client) -> None:
    text = russian_page(admin_client, PAGES[page](world))
    amounts = re.findall(rf"(?<![\d{NBSP}.,])\d[\d{NBSP}.,]*[ {NBSP}]?₽", text)
    assert [amount for amount in amounts if not MONEY.fullmatch(amount.strip())] == []
    assert not re.search(r"\d{4}-\d\d-\d\d", text)  # no ISO dates
    assert not re.search(rf"\d\s+(?:{MONTHS})", text)  # no dates in words (Django's DATE_FORMAT)
    assert not re.search(r"\b[ap]\.m\.", text)
    rest = re.sub(r"\b\d\d\.\d\d(?:\.\d{4})?\b", " ", MONEY.sub(" ", text))  # amounts and dates out
    assert re.findall(r"\d[.,]\d\d\b", rest) == []  # no amount without its format (a bare Decimal)


def test_the_order_page_shows_amounts_and_moments_in_the_console_format(
    world: dict, admin_client: Client
) -> None:
    text = russian_page(admin_client, PAGES["order"](world))
    assert f"1{NBSP}234,50{NBSP}₽" in text  # paid
    order = world["order"]
    total = f"{order.total_amount:,.2f}".replace(",", NBSP).replace(".", ",")
    assert f"{total}{NBSP}₽" in text
    assert MOSCOW in text  # created, and the sync log rows in the history (with seconds)
    assert f"{MOSCOW}:00" in text


@pytest.mark.parametrize("page", ["sync log", "webhooks", "webhook", "stage map", "connection"])
def test_moments_are_shown_in_moscow_time(page: str, world: dict, admin_client: Client) -> None:
    assert MOSCOW in russian_page(admin_client, PAGES[page](world))


def test_a_chart_day_is_day_and_month_of_moscow_time() -> None:
    assert format_when(MOMENT, "day") == "10.03"
    assert format_when(dt.date(2026, 3, 9), "day") == "09.03"
