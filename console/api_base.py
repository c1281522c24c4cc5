"""The shared base of the /api/v1/ API (the orders' and the customers' viewsets both build on it): who may
call it, and error plumbing so that every error is a JSON body, bad input a 400, never an HTML page.

- who may call it: ``console.api_permissions.RolePermission``, the console's own rule (a module of its own:
  DRF reads ``DEFAULT_PERMISSION_CLASSES`` while ``rest_framework.views`` is still loading).

- ``exception_handler`` (settings ``REST_FRAMEWORK["EXCEPTION_HANDLER"]``): Django ``ValidationError`` from
  the services -> 400 with field errors; ``IntegrityError`` (a lost race on a unique value) -> 409; a body
  over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` -> 413; anything else unexpected -> a logged 500 with a JSON body.
- ``SafeJSONParser``: whatever the parser raises on a malformed body (decode errors...) is a 400. The API
  reads JSON only: no form or multipart parsing, so no upload is ever spooled.
- ``ApiViewMixin``: the parser, filter backends and bounded pagination every viewset of the API uses, and a
  gate that answers 415 (a body in another format) or 413 (too large) before authentication reads anything.
- ``api_not_found``: the JSON 404 for any other path under /api/v1/, whatever the method.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError, UnsupportedMediaType, ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

from console.customers.filters import PhoneAwareSearchFilter

logger = logging.getLogger(__name__)


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = gettext_lazy("The request conflicts with a concurrent change; retry it.")
    default_code = "conflict"


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = gettext_lazy("The request body is too large.")
    default_code = "payload_too_large"


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's handler, extended so that no exception leaves the API as an HTML page."""
    if isinstance(exc, DjangoValidationError):
        exc = ValidationError(detail=as_serializer_error(exc))
    elif isinstance(exc, IntegrityError):
        exc = Conflict()
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    response = drf_exception_handler(exc, context)
    if response is None:
        view = context.get("view")
        logger.exception("Unexpected error in %s", type(view).__name__ if view else "API", exc_info=exc)
        response = Response(
            {"detail": _("Internal server error.")}, status=status.HTTP_500_INTERNAL_SERVER_ERROR
        )
    return response


class _SafeParserMixin:
    def parse(self, stream, media_type=None, parser_context=None):  # noqa: ANN001, ANN201 (DRF signature)
        try:
            return super().parse(stream, media_type, parser_context)
        except ParseError:
            raise
        except Exception as exc:  # noqa: BLE001 (any failure to read the body is the client's bad input)
            raise ParseError(_("Malformed request body: %(error)s.") % {"error": type(exc).__name__}) from exc


class SafeJSONParser(_SafeParserMixin, JSONParser):
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

    parser_classes = [SafeJSONParser]
    pagination_class = BoundedPagination
    filter_backends = [DjangoFilterBackend, PhoneAwareSearchFilter, OrderingFilter]
    # At most 18 digits: below 2**63, so a longer id is a 404, never a database overflow.
    lookup_value_regex = "[0-9]{1,18}"

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        """Refuse a body we would not parse, by its headers alone, before authentication: a session's CSRF
        check would otherwise read a form or multipart body in full."""
        size, limit = _declared_size(request), settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and size > limit:
            raise PayloadTooLarge()
        if size and self.get_content_negotiator().select_parser(request, self.get_parsers()) is None:
            raise UnsupportedMediaType(request.content_type)
        super().initial(request, *args, **kwargs)  # type: ignore[misc]


def _declared_size(request: Request) -> int:
    try:
        return max(0, int(request.META.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0


@csrf_exempt
def api_not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    """JSON 404 for paths under /api/v1/ that name no endpoint (an over-long id included), for every method:
    exempt from the CSRF check, which would answer an unsafe method with Django's HTML 403 page; it reads
    nothing and changes nothing."""
    return JsonResponse({"detail": _("Not found.")}, status=404)
