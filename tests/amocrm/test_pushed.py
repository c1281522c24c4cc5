"""``OrderSync.pushed``: what the deal last got from us, one JSON object written part by part."""

from __future__ import annotations

from typing import Any

import pytest

from console.amocrm.models import OrderSync

pytestmark = pytest.mark.django_db


def test_writing_one_part_keeps_the_others_and_replaces_its_own_value(make_order: Any) -> None:
    sync = OrderSync.objects.create(order=make_order(), payload_hash="abc", pushed_products={"1": 2, "3": 4})
    rows = OrderSync.objects.filter(pk=sync.pk)
    # Two writers, each with its own part (the engine's hash, a webhook's payment), in separate UPDATEs.
    rows.update(pushed_payment={"paid_amount": "10.00", "payment_status": "paid"})
    rows.update(pushed_products={"5": 1}, pushed_status_id=142, note_added=True)
    sync.refresh_from_db()
    assert sync.payload_hash == "abc"
    assert sync.pushed_payment == {"paid_amount": "10.00", "payment_status": "paid"}
    assert sync.pushed_products == {"5": 1}  # replaced, not merged into the old one
    assert (sync.pushed_status_id, sync.note_added, sync.pushed_pipeline_id) == (142, True, None)
    rows.update(pushed_status_id=None, pushed_summary={})
    sync.refresh_from_db()
    assert sync.pushed_status_id is None and sync.pushed_summary == {}


def test_a_row_without_any_pushed_part_reads_the_defaults(make_order: Any) -> None:
    sync = OrderSync.objects.create(order=make_order())
    sync.refresh_from_db()
    parts = (sync.payload_hash, sync.pushed_products, sync.note_added, sync.contact_id)
    assert parts == ("", {}, False, None)
