"""The sandbox's human UI (console/sandbox/ui.py): the deal card shows dates, not Unix seconds."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import requests

from tests.sandbox.helpers import create

MOSCOW = ZoneInfo("Europe/Moscow")


def _field_id(sb, kind):
    fields = sb.api("GET", "leads/custom_fields").json()["_embedded"]["custom_fields"]
    found = next((f["id"] for f in fields if f["type"] == kind), None)
    if found is None:
        made = sb.api("POST", "leads/custom_fields", json=[{"name": f"Поле {kind}", "type": kind}])
        found = made.json()["_embedded"]["custom_fields"][0]["id"]
    return found


def test_the_deal_card_shows_dates_as_day_month_year_and_time(sb):
    day = int(datetime(2026, 6, 12, tzinfo=MOSCOW).timestamp())
    meeting = int(datetime(2026, 6, 13, 18, 30, tzinfo=MOSCOW).timestamp())
    values = [
        {"field_id": _field_id(sb, "date"), "values": [{"value": day}]},
        {"field_id": _field_id(sb, "date_time"), "values": [{"value": meeting}]},
    ]
    (lead_id,) = create(sb, "leads", [{"name": "Свадьба", "custom_fields_values": values}])
    lead = sb.api("GET", f"leads/{lead_id}").json()

    page = requests.get(f"{sb.url}/leads/detail/{lead_id}").text

    assert "12.06.2026" in page and "13.06.2026 18:30" in page
    created = datetime.fromtimestamp(lead["created_at"], MOSCOW).strftime("%d.%m.%Y %H:%M")
    assert f"Создана {created}" in page
    for stamp in (day, meeting, lead["created_at"], lead["updated_at"]):
        assert str(stamp) not in page
