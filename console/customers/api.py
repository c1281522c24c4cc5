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
    by_manager,
    company_create,
    company_delete,
    company_update,
    customer_create,
    customer_deactivate,
    customer_update,
)


class _WrittenByServices(ApiViewMixin, viewsets.ModelViewSet):
    """A viewset whose writes go through the services: ``input_serializer`` validates, ``create_service``,
    ``update_service`` and ``delete_service`` write (the last two get the row as ``instance_name``),
    ``serializer_class`` answers."""

    input_serializer: type[serializers.Serializer]
    instance_name: str
    create_service: Callable[..., Any]
    update_service: Callable[..., Any]
    delete_service: Callable[..., Any]

    def create(self, request: Request, *args, **kwargs) -> Response:  # noqa: ANN002, ANN003
        serializer = self.input_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        instance = self.create_service(data=serializer.validated_data, **by_manager(request.user))
        return Response(self.serializer_class(instance).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args, **kwargs) -> Response:  # noqa: ANN002, ANN003
        instance = self.get_object()
        serializer = self.input_serializer(data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        written = {self.instance_name: instance, "data": serializer.validated_data}
        instance = self.update_service(**written, **by_manager(request.user))
        return Response(self.serializer_class(instance).data)

    def destroy(self, request: Request, *args, **kwargs) -> Response:  # noqa: ANN002, ANN003
        self.delete_service(**{self.instance_name: self.get_object()})
        return Response(status=status.HTTP_204_NO_CONTENT)


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
    instance_name = "customer"
    create_service = staticmethod(customer_create)
    update_service = staticmethod(customer_update)

    def delete_service(self, *, customer: Customer) -> None:
        customer_deactivate(customer=customer, **by_manager(self.request.user))


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
    instance_name = "company"
    create_service = staticmethod(company_create)
    update_service = staticmethod(company_update)
    delete_service = staticmethod(company_delete)
