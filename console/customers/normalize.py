"""Normalisation and validation of customer contact data: phones (E.164), e-mails, INN checksums."""

from __future__ import annotations

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

DEFAULT_REGION = "RU"


def normalize_phone(raw: str, region: str = DEFAULT_REGION) -> str:
    """E.164 form of ``raw`` ("8 (999) 123-45-67", "+7 999 123 45 67", "9991234567" -> "+79991234567").

    Empty input gives "". Raises ``ValidationError`` for text that is not a possible phone number.
    """
    raw = (raw or "").strip()
    if not raw:
        return ""
    digits = "".join(ch for ch in raw if ch.isdigit())
    candidate = raw
    # Russian habit: a leading 8 stands for +7 on 11-digit numbers.
    if region == "RU" and not raw.startswith("+") and len(digits) == 11 and digits[0] == "8":
        candidate = "+7" + digits[1:]
    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(_("Enter a valid phone number."), code="invalid_phone") from exc
    if not phonenumbers.is_possible_number(number) or not phonenumbers.is_valid_number(number):
        raise ValidationError(_("Enter a valid phone number."), code="invalid_phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(raw: str) -> str:
    """Lower-cased, stripped e-mail ("" for empty input)."""
    return (raw or "").strip().lower()


_INN10_WEIGHTS = (2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN12_WEIGHTS_1 = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN12_WEIGHTS_2 = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)


def _inn_digit(digits: list[int], weights: tuple[int, ...]) -> int:
    return sum(d * w for d, w in zip(digits, weights, strict=False)) % 11 % 10


def is_valid_inn(inn: str) -> bool:
    """True for a 10-digit (organisation) or 12-digit (individual entrepreneur) INN with correct checksums."""
    if not inn.isdigit() or len(inn) not in (10, 12):
        return False
    digits = [int(c) for c in inn]
    if len(inn) == 10:
        return _inn_digit(digits, _INN10_WEIGHTS) == digits[9]
    return (
        _inn_digit(digits, _INN12_WEIGHTS_1) == digits[10]
        and _inn_digit(digits, _INN12_WEIGHTS_2) == digits[11]
    )


def validate_inn(value: str) -> None:
    """Django validator: a valid INN or nothing."""
    if value and not is_valid_inn(value):
        raise ValidationError(_("INN is invalid: wrong length or checksum."), code="invalid_inn")


def validate_kpp(value: str) -> None:
    if value and not (len(value) == 9 and value[:4].isdigit() and value[6:].isdigit()):
        raise ValidationError(_("KPP must have 9 characters."), code="invalid_kpp")


def validate_ogrn(value: str) -> None:
    """OGRN (13 digits) or OGRNIP (15 digits) with its check digit."""
    if not value:
        return
    if not value.isdigit() or len(value) not in (13, 15):
        raise ValidationError(_("OGRN must have 13 or 15 digits."), code="invalid_ogrn")
    body, check = int(value[:-1]), int(value[-1])
    modulus = 11 if len(value) == 13 else 13
    if body % modulus % 10 != check:
        raise ValidationError(_("OGRN checksum is wrong."), code="invalid_ogrn")


def display_phone(value: str, region: str = DEFAULT_REGION) -> str:
    """A stored phone (E.164) in one national form for people: "8 (999) 123-45-67" for a Russian number,
    the international form for a foreign one; text that is no phone is returned as it is."""
    if not value:
        return ""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return value
    if not phonenumbers.is_possible_number(number):
        return value
    home = phonenumbers.region_code_for_number(number) == region
    kind = phonenumbers.PhoneNumberFormat.NATIONAL if home else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    return phonenumbers.format_number(number, kind)
