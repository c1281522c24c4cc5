"""URLs under /api/v1/ (the storefront and manager REST API). Unknown paths answer a JSON 404."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from console.api_base import api_not_found
from console.customers.api import CompanyViewSet, CustomerViewSet
from console.orders.api import OrderViewSet

app_name = "api"

router = DefaultRouter()
router.trailing_slash = (
    "/?"  # "/api/v1/orders" and "/api/v1/orders/" both work (no redirect that drops a POST)
)
router.register("orders", OrderViewSet, basename="order")
router.register("customers", CustomerViewSet, basename="customer")
router.register("companies", CompanyViewSet, basename="company")

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file: no inline script under the CSP.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    path("", include(router.urls)),
    re_path(r"^(?P<path>.*)$", api_not_found, name="not-found"),
]
