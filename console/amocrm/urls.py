"""URLs under /amocrm/: OAuth callback and webhook intake."""

from django.urls import path

from console.amocrm.oauth import oauth_callback
from console.amocrm.webhooks import webhook_intake

app_name = "amocrm"
urlpatterns: list = [
    path("webhook/<str:secret>/", webhook_intake, name="webhook"),
    path("oauth/callback/", oauth_callback, name="oauth_callback"),
]
