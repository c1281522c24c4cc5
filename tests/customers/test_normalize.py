from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from console.customers.normalize import is_valid_inn, normalize_email, normalize_phone, validate_ogrn


@pytest.mark.parametrize(
    "raw",
    [
        "8 (999) 123-45-67",
        "+7 999 123 45 67",
        "9991234567",
        "+7(999)1234567",
        "89991234567",
        " 8-999-123-45-67 ",
    ],
)
def test_every_usual_spelling_of_a_russian_number_normalises_to_the_same_e164(raw: str) -> None:
    assert normalize_phone(raw) == "+79991234567"


def test_a_foreign_number_with_its_country_code_is_kept() -> None:
    assert normalize_phone("+1 202 555 0143") == "+12025550143"


@pytest.mark.parametrize("raw", ["12345", "not a phone", "+7 999", "8" * 30, "📞"])
def test_text_that_is_not_a_phone_number_is_rejected(raw: str) -> None:
    with pytest.raises(ValidationError):
        normalize_phone(raw)


def test_an_empty_phone_normalises_to_empty() -> None:
    assert normalize_phone("  ") == ""


def test_emails_are_stripped_and_lower_cased() -> None:
    assert normalize_email("  Anna.Smirnova@Example.COM ") == "anna.smirnova@example.com"


@pytest.mark.parametrize("inn", ["7707083893", "7736207543", "500100732259", "7830002293"])
def test_real_inns_pass_the_checksum(inn: str) -> None:
    assert is_valid_inn(inn)


@pytest.mark.parametrize("inn", ["7707083894", "500100732258", "123", "77070838931", "abcdefghij", ""])
def test_inns_with_a_wrong_checksum_or_length_fail(inn: str) -> None:
    assert not is_valid_inn(inn)


def test_ogrn_check_digit_is_verified() -> None:
    validate_ogrn("1027700132195")
    with pytest.raises(ValidationError):
        validate_ogrn("1027700132196")
