"""URLs under /amocrm/: the webhook intake (the address amoCRM posts to)."""

from django.urls import path

from console.amocrm.inbound.views import webhook_intake

app_name = "amocrm"
urlpatterns = [
    path("webhook/<str:secret>/", webhook_intake, name="webhook"),
]
