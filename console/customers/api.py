"""REST endpoints /api/v1/customers/ and /api/v1/companies/, under the console's roles
(``console.api_permissions.RolePermission``: reading needs a role, writing ``orders.edit``). Writes go
through the services."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from console.api_base import ApiViewMixin
from console.api_permissions import RolePermission
from console.customers.filters import CustomerFilter
from console.customers.models import Company, Customer
from console.customers.serializers import (
    CompanyInputSerializer,
    CompanyOutputSerializer,
    CustomerInputSerializer,
    CustomerOutputSerializer,
)
from console.customers.services import (
    company_create,
    company_delete,
    company_update,
    customer_create,
    customer_deactivate,
    customer_update,
)


def _who(request: Request) -> dict[str, str]:
    """``origin`` and ``actor`` of a write by the signed-in user (a manager or an admin: ``orders.edit``)."""
    return {"origin": "manager", "actor": request.user.get_username()}


class _WrittenByServices(ApiViewMixin, viewsets.ModelViewSet):
    """A viewset whose writes go through the services: ``input_serializer`` validates, ``create_service`` and
    ``update_service`` write (with who asked), ``serializer_class`` answers."""

    input_serializer: type[serializers.Serializer]
    create_service: Callable[..., Any]
    update_service: Callable[..., Any]

    def create(self, request: Request, *args, **kwargs) -> Response:  # noqa: ANN002, ANN003
        serializer = self.input_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        instance = self.create_service(data=serializer.validated_data, **_who(request))
        return Response(self.serializer_class(instance).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args, **kwargs) -> Response:  # noqa: ANN002, ANN003
        instance = self.get_object()
        serializer = self.input_serializer(data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        instance = self.update_service(instance, serializer.validated_data, **_who(request))
        return Response(self.serializer_class(instance).data)


@extend_schema_view(
    create=extend_schema(request=CustomerInputSerializer, responses={201: CustomerOutputSerializer}),
    update=extend_schema(request=CustomerInputSerializer, responses={200: CustomerOutputSerializer}),
    partial_update=extend_schema(request=CustomerInputSerializer, responses={200: CustomerOutputSerializer}),
    destroy=extend_schema(description="Deactivates the customer (is_active=false).", responses={204: None}),
)
class CustomerViewSet(_WrittenByServices):
    """Customers. DELETE deactivates (``is_active=false``): orders keep their customer."""

    queryset = Customer.objects.select_related("company")
    serializer_class = CustomerOutputSerializer
    permission_classes = [RolePermission]
    filterset_class = CustomerFilter
    search_fields = ["first_name", "last_name", "display_name", "email", "phone", "phone_normalized"]
    ordering_fields = ["created_at", "last_name", "id"]

    input_serializer = CustomerInputSerializer
    create_service = staticmethod(customer_create)

    @staticmethod
    def update_service(instance: Customer, data: dict, **who: str) -> Customer:
        return customer_update(customer=instance, data=data, **who)

    def destroy(self, request: Request, *args, **kwargs) -> Response:  # noqa: ANN002, ANN003
        customer_deactivate(customer=self.get_object(), **_who(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    create=extend_schema(request=CompanyInputSerializer, responses={201: CompanyOutputSerializer}),
    update=extend_schema(request=CompanyInputSerializer, responses={200: CompanyOutputSerializer}),
    partial_update=extend_schema(request=CompanyInputSerializer, responses={200: CompanyOutputSerializer}),
)
class CompanyViewSet(_WrittenByServices):
    """Companies (legal entities of business customers). DELETE refuses a company that still has customers."""

    queryset = Company.objects.all()
    serializer_class = CompanyOutputSerializer
    permission_classes = [RolePermission]
    filterset_fields = ["inn"]
    search_fields = ["name", "legal_name", "inn", "email"]
    ordering_fields = ["name", "created_at", "id"]

    input_serializer = CompanyInputSerializer
    create_service = staticmethod(company_create)

    @staticmethod
    def update_service(instance: Company, data: dict, **who: str) -> Company:
        return company_update(company=instance, data=data, **who)

    def destroy(self, request: Request, *args, **kwargs) -> Response:  # noqa: ANN002, ANN003
        company_delete(company=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
