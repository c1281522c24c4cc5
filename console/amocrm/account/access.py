"""The connected account as the HTTP client sees it, and the one place a client is built.

``ConnectionAccess`` gives :class:`console.amocrm.api.transport.Transport` what it needs of the connection row
(host, a token refreshed before it expires, a refresh after a 401) and records what it learns (the circuit
opened, a credentials error, a successful call). Every read re-reads the row: another worker may have rotated
the tokens or opened the circuit since.
"""

from __future__ import annotations

import time
from typing import Any

from console.amocrm.account import oauth
from console.amocrm.account.connection import (
    connection_record_error,
    connection_record_success,
    connection_set_state,
)
from console.amocrm.account.ratelimit import get_rate_limiter
from console.amocrm.api.client import AmoCRMClient
from console.amocrm.api.errors import AuthError, CircuitOpen
from console.amocrm.api.transport import Credentials
from console.amocrm.models import AmoConnection

# Record last_success_at at most this often (seconds), so calls stay free of writes.
SUCCESS_WRITE_EVERY = 30.0
_ROW_FIELDS = [
    "state",
    "state_detail",
    "access_token",
    "refresh_token",
    "expires_at",
    "long_lived",
    "base_url",
]


class ConnectionAccess:
    """:class:`console.amocrm.api.transport.AccountAccess` over the installation's ``AmoConnection`` row."""

    def __init__(self, connection: AmoConnection, *, farewell: bool = False) -> None:
        """``farewell``: the last calls of a disconnected account (removing our webhook): the stored token is
        used as it is, whatever the state, and never refreshed."""
        self.connection = connection
        self.farewell = farewell
        self._success_written = 0.0

    def _credentials(self) -> Credentials:
        c = self.connection
        return Credentials(base_url=c.base_url, access_token=c.access_token, long_lived=c.long_lived)

    def credentials(self) -> Credentials:
        self.connection.refresh_from_db(fields=_ROW_FIELDS)
        c = self.connection
        if self.farewell and c.access_token:
            return self._credentials()
        if c.state != AmoConnection.State.CONNECTED:
            raise CircuitOpen(title=c.state_detail or "AmoCRM is not connected", state=c.state)
        if not c.access_token:
            raise CircuitOpen(title="AmoCRM is not connected", state=AmoConnection.State.NOT_CONNECTED)
        if not c.long_lived and c.token_expires_within(oauth.REFRESH_MARGIN):
            self.connection = oauth.token_refresh(connection_id=c.pk, expected_access_token=c.access_token)
        return self._credentials()

    def refresh(self, *, rejected_token: str) -> Credentials:
        if self.farewell:
            raise AuthError(title="The token of the disconnected account is no longer accepted")
        self.connection = oauth.token_refresh(
            connection_id=self.connection.pk, expected_access_token=rejected_token
        )
        return self._credentials()

    def circuit_open(self, error: CircuitOpen) -> None:
        if self.farewell:
            return
        connection_set_state(connection_id=self.connection.pk, state=error.state, detail=error.title)
        self.connection.state = error.state

    def auth_failed(self, title: str) -> None:
        connection_record_error(connection_id=self.connection.pk, text=title)

    def succeeded(self) -> None:
        now = time.monotonic()
        if now - self._success_written > SUCCESS_WRITE_EVERY:
            connection_record_success(connection_id=self.connection.pk)
            self._success_written = now

    def secrets(self) -> list[str]:
        c = self.connection
        return [c.access_token, c.refresh_token, c.client_secret, c.webhook_secret]


def account_client(
    connection: AmoConnection | None = None, *, farewell: bool = False, **options: Any
) -> AmoCRMClient:
    """A client for the installation's connection (or ``connection``); ``options`` tune retries for tests."""
    access = ConnectionAccess(connection or AmoConnection.get_solo(), farewell=farewell)
    return AmoCRMClient(access, limiter=options.pop("limiter", None) or get_rate_limiter(), **options)
