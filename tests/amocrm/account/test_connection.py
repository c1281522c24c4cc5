"""The connection page and the OAuth callback, driven through Django's test client and the real sandbox."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.contrib.auth import get_user_model
from django.urls import reverse

from console.amocrm.models import AmoConnection, StageMapping


@pytest.fixture
def admin_client(client, db):
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(user)
    return client


@pytest.fixture
def sandbox_credentials(db, sandbox):
    connection = AmoConnection.get_solo()
    connection.base_url = sandbox.url
    connection.client_id = sandbox.client_id
    connection.client_secret = sandbox.client_secret
    connection.redirect_uri = sandbox.redirect_uri
    connection.save()
    return connection


def _consent(sandbox, authorize_url: str, decision: str = "allow") -> dict[str, str]:
    """Press Allow/Decline on the sandbox's consent page; the query of the redirect back to us."""
    query = {k: v[0] for k, v in parse_qs(urlsplit(authorize_url).query).items()}
    answer = requests.post(
        f"{sandbox.url}/oauth", data={**query, "decision": decision}, allow_redirects=False, timeout=10
    )
    return {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["Location"]).query).items()}


def test_the_page_needs_a_login(client, db):
    response = client.get(reverse("web:connection"))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_users_without_a_role_may_not_open_the_page_or_the_callback(client, db):
    user = get_user_model().objects.create_user("clerk", password="pw", is_staff=True)
    client.force_login(user)
    assert client.get(reverse("web:connection")).status_code == 403
    assert client.get(reverse("web:oauth_callback") + "?code=x&state=y").status_code == 403


def test_the_page_shows_the_status_and_never_renders_a_secret_or_token(admin_client, amo_setup):
    amo_connection = amo_setup
    page = admin_client.get(reverse("web:connection")).content.decode()
    assert "Connected" in page and amo_connection.account_name in page
    assert "Аренда" in page  # the cached main pipeline
    for secret in (
        amo_connection.client_secret,
        amo_connection.access_token,
        amo_connection.refresh_token,
        amo_connection.webhook_secret,
    ):
        assert secret not in page


def test_saving_credentials_keeps_the_stored_secret_when_left_empty(admin_client, sandbox_credentials):
    data = {
        "base_url": "https://shop.amocrm.ru",
        "client_id": "new-id",
        "client_secret": "",
        "redirect_uri": "https://console.example/amocrm/oauth/callback/",
    }
    assert admin_client.post(reverse("web:connection_save"), data).status_code == 302
    connection = AmoConnection.get_solo()
    assert connection.client_id == "new-id" and connection.base_url == "https://shop.amocrm.ru"
    assert connection.client_secret == "sandbox-client-secret"


def test_invalid_credentials_are_answered_400_on_the_whole_page(admin_client, amo_setup):
    data = {"base_url": "not a url", "client_id": "", "client_secret": "", "redirect_uri": ""}
    response = admin_client.post(reverse("web:connection_save"), data)
    assert response.status_code == 400
    page = response.content.decode()
    assert '<small class="error">' in page  # the field errors
    assert "Pipelines (local cache)" in page  # the cached pipelines are still shown, as on the page itself
    assert AmoConnection.get_solo().base_url == amo_setup.base_url  # nothing saved


def test_connect_goes_through_the_consent_page_and_the_callback(
    admin_client, sandbox, sandbox_credentials, django_capture_on_commit_callbacks
):
    response = admin_client.post(reverse("web:connection_connect"))
    assert response.status_code == 302 and response["Location"].startswith(f"{sandbox.url}/oauth?")
    back = _consent(sandbox, response["Location"])
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.get(reverse("web:oauth_callback"), back)
    assert response.status_code == 302 and response["Location"] == reverse("web:connection")
    connection = AmoConnection.get_solo()
    assert connection.state == "connected" and connection.oauth_state == ""
    # the enqueued account setup ran (the test cluster is synchronous)
    assert connection.setup_completed_at and StageMapping.objects.count() == 6


def test_the_callback_refuses_a_forged_state(admin_client, sandbox, sandbox_credentials):
    response = admin_client.post(reverse("web:connection_connect"))
    back = _consent(sandbox, response["Location"])
    back["state"] = "forged"
    response = admin_client.get(reverse("web:oauth_callback"), back, follow=True)
    assert "state mismatch" in response.content.decode()
    assert AmoConnection.get_solo().state == "not_connected"


def test_the_callback_reports_a_declined_consent(admin_client, sandbox, sandbox_credentials):
    response = admin_client.post(reverse("web:connection_connect"))
    back = _consent(sandbox, response["Location"], decision="decline")
    response = admin_client.get(reverse("web:oauth_callback"), back, follow=True)
    assert "not granted" in response.content.decode()
    assert AmoConnection.get_solo().state == "not_connected"


def test_connecting_with_a_long_lived_token(admin_client, sandbox, sandbox_credentials):
    token = sandbox.long_lived_token(lifetime=7200)
    data = {"base_url": sandbox.url, "token": token}
    assert admin_client.post(reverse("web:connection_long_lived"), data).status_code == 302
    connection = AmoConnection.get_solo()
    assert connection.long_lived and connection.state == "connected" and connection.expires_at


def test_disconnect_and_resume(admin_client, amo_connection, django_capture_on_commit_callbacks):
    AmoConnection.objects.filter(pk=amo_connection.pk).update(state="blocked", state_detail="blocked")
    page = admin_client.get(reverse("web:connection")).content.decode()
    assert "I resolved it, resume" in page and "support" in page
    admin_client.post(reverse("web:connection_resume"))
    assert AmoConnection.get_solo().state == "connected"
    with django_capture_on_commit_callbacks(execute=True):  # the cluster forgets the tokens
        admin_client.post(reverse("web:connection_disconnect"))
    connection = AmoConnection.get_solo()
    assert connection.state == "not_connected" and not connection.access_token


def test_the_setup_button_enqueues_account_setup(
    admin_client, amo_connection, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert admin_client.post(reverse("web:connection_setup")).status_code == 302
    assert AmoConnection.get_solo().setup_completed_at


def test_views_reject_get_for_actions(admin_client, db):
    assert admin_client.get(reverse("web:connection_disconnect")).status_code == 405


def test_a_failed_code_exchange_marks_a_new_connection_as_error(admin_client, sandbox, sandbox_credentials):
    response = admin_client.post(reverse("web:connection_connect"))
    back = _consent(sandbox, response["Location"])
    back["code"] = "def50200" + "0" * 40
    response = admin_client.get(reverse("web:oauth_callback"), back, follow=True)
    connection = AmoConnection.get_solo()
    assert connection.state == "error" and "decrypt" in connection.last_error
    assert "Connecting failed" in response.content.decode()


def test_the_long_lived_token_can_come_from_the_environment(
    admin_client, sandbox, sandbox_credentials, settings
):
    settings.AMOCRM_LONG_LIVED_TOKEN = sandbox.long_lived_token(lifetime=7200)
    assert admin_client.post(reverse("web:connection_long_lived"), {"token": ""}).status_code == 302
    connection = AmoConnection.get_solo()
    assert connection.long_lived and connection.access_token == settings.AMOCRM_LONG_LIVED_TOKEN


def test_secrets_at_rest_need_the_key(db, settings):
    from cryptography.fernet import Fernet
    from django.core.exceptions import ImproperlyConfigured

    connection = AmoConnection.get_solo()
    connection.client_secret = "top-secret"
    connection.save()
    old_key = settings.FIELD_ENCRYPTION_KEY
    settings.FIELD_ENCRYPTION_KEY = Fernet.generate_key().decode()
    with pytest.raises(ImproperlyConfigured):
        AmoConnection.objects.get(pk=connection.pk)
    settings.FIELD_ENCRYPTION_KEY = (
        f"{Fernet.generate_key().decode()},{old_key}"  # rotation: old key still reads
    )
    assert AmoConnection.objects.get(pk=connection.pk).client_secret == "top-secret"
