"""REST endpoint /api/v1/orders/: the storefront checkout (anonymous POST), the order tracking link
(anonymous GET /api/v1/orders/track/<token>/) and the manager cabinet.

Anonymous callers may only create and track (throttled with the "storefront" scope). Everything else
follows the console's roles (``console.api_permissions.RolePermission``): reading needs a role, writing
``orders.edit`` (managers, admins). A caller who may not edit orders (support, a user without a role)
checks out as the storefront does: a storefront order, under the storefront's limits and throttle. Writes
go through ``console.orders.services``; DELETE is a soft delete.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle, ScopedRateThrottle

from console.api_base import ApiViewMixin
from console.api_permissions import RolePermission
from console.orders.filters import OrderFilter
from console.orders.models import Order
from console.orders.serializers import (
    OrderInputSerializer,
    OrderOutputSerializer,
    OrderTrackingSerializer,
    StorefrontOrderInputSerializer,
    StorefrontOrderOutputSerializer,
)
from console.orders.services import order_create, order_soft_delete, order_update
from console.roles import can


def is_manager(request: Request) -> bool:
    """True when the caller may write orders (the console's ``orders.edit``: a manager or an admin)."""
    return can(request.user, "orders.edit")


def actor_of(request: Request) -> str:
    return request.user.get_username() if is_manager(request) else "storefront"


STOREFRONT_ACTIONS = frozenset({"create", "track"})


class OrderViewSet(ApiViewMixin, viewsets.ModelViewSet):
    """Orders with nested lines. Filters: ``OrderFilter``; search: number, customer name, phone, e-mail."""

    queryset = Order.objects.select_related("customer", "customer__company").prefetch_related(
        "items__product"
    )
    serializer_class = OrderOutputSerializer
    filterset_class = OrderFilter
    search_fields = [
        "number",
        "customer__first_name",
        "customer__last_name",
        "customer__display_name",
        "customer__phone",
        "customer__phone_normalized",
        "customer__email",
    ]
    ordering_fields = ["created_at", "installation_date", "dismantle_date", "total_amount", "number", "id"]
    throttle_scope = "storefront"

    def get_permissions(self) -> list[BasePermission]:
        if self.action in STOREFRONT_ACTIONS:
            return [AllowAny()]
        return [RolePermission()]

    def get_throttles(self) -> list[BaseThrottle]:
        if self.action in STOREFRONT_ACTIONS and not is_manager(self.request):
            return [ScopedRateThrottle()]
        return []

    def _output(self, order: Order, *, staff: bool) -> dict:
        order = self.get_queryset().get(pk=order.pk)
        serializer = OrderOutputSerializer if staff else StorefrontOrderOutputSerializer
        return serializer(order).data

    @extend_schema(
        request=OrderInputSerializer,
        responses={201: OrderOutputSerializer},
        description="Storefront checkout (anonymous: the customer inline, source forced to storefront, "
        "payment and sync_to_crm not theirs, throttled; the answer carries the order's tracking_token) "
        "or a manager's order (a caller with the console's orders.edit: a manager or an admin).",
    )
    def create(self, request: Request, *args, **kwargs) -> Response:  # noqa: ANN002, ANN003
        staff = is_manager(request)
        serializer = (OrderInputSerializer if staff else StorefrontOrderInputSerializer)(data=request.data)
        serializer.is_valid(raise_exception=True)
        order = order_create(
            data=serializer.to_service_data(),
            origin="manager" if staff else "storefront",
            actor=actor_of(request),
            created_by=request.user if staff else None,
        )
        return Response(self._output(order, staff=staff), status=status.HTTP_201_CREATED)

    @extend_schema(request=OrderInputSerializer, responses={200: OrderOutputSerializer})
    def update(self, request: Request, *args, **kwargs) -> Response:  # noqa: ANN002, ANN003
        order = self.get_object()
        serializer = OrderInputSerializer(data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        order = order_update(
            order=order, data=serializer.to_service_data(), origin="manager", actor=actor_of(request)
        )
        return Response(self._output(order, staff=True))

    @extend_schema(request=OrderInputSerializer(partial=True), responses={200: OrderOutputSerializer})
    def partial_update(self, request: Request, *args, **kwargs) -> Response:  # noqa: ANN002, ANN003
        return super().partial_update(request, *args, **kwargs)

    @extend_schema(
        summary="Track an order",
        description="The storefront's tracking link (anonymous, throttled): the progress of the order with "
        "this tracking_token (given in the checkout's answer), nothing about the customer.",
        parameters=[OpenApiParameter("token", str, OpenApiParameter.PATH, description="tracking_token")],
        responses={
            200: OrderTrackingSerializer,
            404: OpenApiResponse(description="No order has this token."),
        },
    )
    @action(detail=False, methods=["get"], url_path=r"track/(?P<token>[A-Za-z0-9_\-]{1,64})")
    def track(self, request: Request, token: str) -> Response:
        """The public view of the active order with this tracking token; otherwise a JSON 404."""
        order = Order.objects.filter(tracking_token=token, is_active=True).first()
        if order is None:
            raise NotFound
        return Response(OrderTrackingSerializer(order).data)

    @extend_schema(description="Soft delete: sets is_active=false.", responses={204: None})
    def destroy(self, request: Request, *args, **kwargs) -> Response:  # noqa: ANN002, ANN003
        order_soft_delete(order=self.get_object(), origin="manager", actor=actor_of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
