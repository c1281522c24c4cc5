"""The field-by-field rule of contact and company edits (``amocrm.parties.judge``): the later side wins."""

from __future__ import annotations

from datetime import UTC, datetime

from console.amocrm.parties import Verdict, contact_values, judge, phone_text

EARLY = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
LATE = datetime(2026, 12, 1, 11, 0, tzinfo=UTC)


def rule(**given: object) -> Verdict:
    args = {"ours": "A", "theirs": "B", "agreed": "A", "pending": False, "console_at": None, "their_at": LATE}
    return judge(**(args | given))  # type: ignore[arg-type]


def test_an_amocrm_edit_of_a_field_the_console_did_not_touch_is_taken() -> None:
    assert rule() == Verdict.TAKE


def test_our_own_value_coming_back_changes_nothing() -> None:
    assert rule(theirs="A") == Verdict.SAME


def test_amocrm_still_holding_the_agreed_value_is_no_edit_of_its_own() -> None:
    assert rule(ours="C", theirs="A", agreed="A", pending=True) == Verdict.UNCHANGED


def test_an_edit_over_a_console_change_not_yet_sent_is_a_conflict() -> None:
    assert rule(ours="C", agreed="A", pending=True, console_at=EARLY) == Verdict.CONFLICT


def test_an_edit_older_than_the_console_change_is_a_conflict() -> None:
    assert rule(ours="C", agreed="C", console_at=LATE, their_at=EARLY) == Verdict.CONFLICT


def test_an_edit_later_than_a_sent_console_change_wins() -> None:
    assert rule(ours="C", agreed="C", console_at=EARLY, their_at=LATE) == Verdict.TAKE


def test_nothing_known_of_the_field_takes_amocrm_unless_an_edit_waits() -> None:
    assert rule(agreed=None) == Verdict.TAKE
    assert rule(agreed=None, pending=True) == Verdict.CONFLICT


def test_phones_and_emails_are_compared_normalised() -> None:
    doc = {
        "first_name": "Иван",
        "custom_fields_values": [
            {"field_code": "PHONE", "values": [{"value": "8 (999) 123-45-67"}]},
            {"field_code": "EMAIL", "values": [{"value": " Ivan@Example.RU "}]},
        ],
    }
    assert contact_values(doc) == {
        "first_name": "Иван",
        "last_name": "",
        "phone": "+79991234567",
        "email": "ivan@example.ru",
    }
    assert phone_text("not a phone") == "not a phone"
