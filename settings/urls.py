"""URL map of the console: the storefront/manager API, the AmoCRM intake, the console and the admin."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

urlpatterns = [
    path("api/v1/", include("console.orders.urls")),
    path("amocrm/", include("console.amocrm.urls")),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("console.web.urls")),
]
