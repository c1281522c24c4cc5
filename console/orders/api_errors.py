"""Error plumbing of the /api/v1/ API: every error is a JSON body, bad input is a 400, never an HTML page.

- ``exception_handler`` (settings ``REST_FRAMEWORK["EXCEPTION_HANDLER"]``): Django ``ValidationError`` from
  the services -> 400 with field errors; ``IntegrityError`` (a lost race on a unique value) -> 409; anything
  else unexpected -> a logged 500 with a JSON body.
- ``Safe*Parser``: whatever a parser raises on a malformed body (decode errors, bad boundaries...) is a 400.
- ``ApiViewMixin``: the parsers, filter backends and bounded pagination every viewset of the API uses.
- ``api_not_found``: the JSON 404 for any other path under /api/v1/.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import HttpRequest, JsonResponse
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError, ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

from console.customers.filters import PhoneAwareSearchFilter

logger = logging.getLogger(__name__)


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with a concurrent change; retry it."
    default_code = "conflict"


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's handler, extended so that no exception leaves the API as an HTML page."""
    if isinstance(exc, DjangoValidationError):
        exc = ValidationError(detail=as_serializer_error(exc))
    elif isinstance(exc, IntegrityError):
        exc = Conflict()
    response = drf_exception_handler(exc, context)
    if response is None:
        view = context.get("view")
        logger.exception("Unexpected error in %s", type(view).__name__ if view else "API", exc_info=exc)
        response = Response(
            {"detail": "Internal server error."}, status=status.HTTP_500_INTERNAL_SERVER_ERROR
        )
    return response


class _SafeParserMixin:
    def parse(self, stream, media_type=None, parser_context=None):  # noqa: ANN001, ANN201 (DRF signature)
        try:
            return super().parse(stream, media_type, parser_context)
        except ParseError:
            raise
        except Exception as exc:  # noqa: BLE001 (any failure to read the body is the client's bad input)
            raise ParseError(f"Malformed request body: {type(exc).__name__}.") from exc


class SafeJSONParser(_SafeParserMixin, JSONParser):
    pass


class SafeFormParser(_SafeParserMixin, FormParser):
    pass


class SafeMultiPartParser(_SafeParserMixin, MultiPartParser):
    pass


class BoundedPagination(LimitOffsetPagination):
    """Limit/offset pagination with a ceiling on both, so no query gets an out-of-range LIMIT/OFFSET."""

    default_limit = 50
    max_limit = 500
    max_offset = 2**31 - 1

    def get_offset(self, request) -> int:  # noqa: ANN001
        return min(super().get_offset(request), self.max_offset)


class ApiViewMixin:
    """Shared configuration of the API's viewsets."""

    parser_classes = [SafeJSONParser, SafeFormParser, SafeMultiPartParser]
    pagination_class = BoundedPagination
    filter_backends = [DjangoFilterBackend, PhoneAwareSearchFilter, OrderingFilter]
    lookup_value_regex = "[0-9]{1,18}"


def api_not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    """JSON 404 for paths under /api/v1/ that name no endpoint."""
    return JsonResponse({"detail": "Not found."}, status=404)
