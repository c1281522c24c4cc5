from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError

from console.api_base import exception_handler


def test_a_service_validation_error_becomes_a_400_with_field_errors() -> None:
    response = exception_handler(ValidationError({"phone": ["bad"]}), {})
    assert (response.status_code, response.data) == (400, {"phone": ["bad"]})


def test_a_message_without_a_field_becomes_non_field_errors() -> None:
    response = exception_handler(ValidationError("This order is deleted."), {})
    assert response.status_code == 400
    assert response.data == {"non_field_errors": ["This order is deleted."]}


def test_a_lost_race_on_a_unique_value_is_a_409() -> None:
    assert exception_handler(IntegrityError("duplicate key"), {}).status_code == 409


def test_an_unexpected_error_is_a_json_500_without_details(caplog) -> None:
    response = exception_handler(RuntimeError("secret internals"), {})
    assert (response.status_code, response.data) == (500, {"detail": "Internal server error."})
    assert "secret internals" not in str(response.data)
