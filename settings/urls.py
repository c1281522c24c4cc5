"""URL map of the console: the storefront/manager API, the AmoCRM intake, health and metrics, the console and
the admin."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path

from console.web.views import health

urlpatterns = [
    path("api/v1/", include("console.orders.urls")),
    path("amocrm/", include("console.amocrm.urls")),
    re_path(r"^healthz/?$", health.healthz, name="healthz"),
    re_path(r"^metrics/?$", health.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("console.web.urls")),
]
