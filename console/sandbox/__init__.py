"""AmoCRM sandbox: a standalone amoCRM REST API v4 server for tests, benchmarks and the demo.

Pure standard library (WSGI on ``wsgiref`` + ``ThreadingMixIn``, state in SQLite); imports nothing from the
rest of ``console`` and not Django. Start it with ``python -m console.sandbox --port 8765``; it prints
``AmoCRM sandbox listening on http://HOST:PORT`` when ready (``--port 0`` picks a free port).

It follows amoCRM's public API v4 documentation,
https://www.amocrm.ru/developers/content/crm_platform/api-reference (the REST surface is the ``api``
package, one module per family). The account host is the sandbox root
(``/api/v4/...``, ``/oauth2/access_token``, ``/oauth``); HAL links are absolute URLs on the host the request
came to. Control endpoints live under ``/_sandbox/`` and the people's board at ``/`` (see ``control.py`` and
``ui.py``).

Decisions where the documentation is silent or unclear (we pick the stricter behaviour, the client must cope):

- OAuth status/hint mapping. An unknown ``client_id`` or a wrong ``client_secret`` is 401 "Некорректный
  клиент" / "Авторизация клиента не прошла" without a ``hint`` (as amoCRM answers). 400 for the rest of the
  request and the code: unknown ``grant_type`` ("Check the `grant_type` parameter"), ``redirect_uri`` not
  byte-equal to the registered one ("Check the `redirect_uri` parameter"), unknown code or a code of another
  client ("Cannot decrypt the authorization code"), reused code ("Authorization code has been revoked"), code
  older than ``code_lifetime`` (1200 s) ("Authorization code has expired"). 401 for refresh tokens: unknown
  ("Invalid refresh token"), revoked, reused after its successor was used, or older than ``refresh_lifetime``
  (90 days) ("Token has been revoked"). Bodies are ``OAuthProblemJson`` with the Russian title/detail.
- Moved accounts: with ``config["domain"]`` set, another ``Host`` gets 401 on the API and 404 "Account not
  found" on the token endpoint; ``/oauth2/account/current/subdomain`` tells where the account lives.
- Refresh reuse. R1 -> (A2, R2). R1 keeps working until R2 is used for a refresh **or A2 is used on the API**
  (the stricter reading); then R1 and every other token issued from R1 (e.g. R3 from a retried R1)
  are revoked.
  Old access tokens stay valid until their own ``exp``.
- ``limit > 250`` on a list is a 400 ``validation-errors`` (path ``limit``, code ``InvalidValue``),
  not a clamp.
- Batch writes are atomic: one invalid item fails the whole request with 400 and nothing is stored. More than
  250 items is 422 "Limit 250 per page"; ``/leads/complex`` above 50 items is 422 "Limit 50 per page"; more
  than one contact/company in a complex item or more than 40 CF values is 400 (code ``InvalidCount``).
- ``PATCH /{entity}/{id}`` answers ``{id, updated_at, _links}`` at the top level (as the SDK reads it);
  unknown ids in PATCH (single or batch) are 400 ``NotSupportedChoice`` at path ``id``.
- Mass ``POST /{entity}/link`` answers like the per-entity link: ``{_total_items, _links, _embedded.links[]}``
  with ``entity_id``/``entity_type``. Linking the first contact to a lead makes it the main one.
- A lead may not be put into an unsorted stage (type 1) through the API: 400 ``NotSupportedChoice``
  ``status_id``. A ``status_id`` outside the lead's pipeline (without ``pipeline_id``) is rejected the same
  way;
  142/143 without ``pipeline_id`` mean the lead's current pipeline (the main one on create).
- ``responsible_user_id`` must be a known user (``GET /api/v4/users``: 100001 admin, 100002 manager).
- ``custom_fields_values``: ``values: null`` and ``values: []`` both clear a field; ``null`` when
  nothing is left. ``custom_fields_values: []`` itself is refused (400 ``TooFew``, as amoCRM does);
  ``null`` or no key leaves the values alone.
- Empty list answers are 204 everywhere, including ``/{entity}/{id}/links`` and ``/webhooks``. A missing
  pipeline is 404 "Pipeline not found"; a missing catalog is 404 "Catalog not found"; other missing single
  ids are 204. ``DELETE /webhooks`` is 204 even for an unknown destination.
- Rate limit: a sliding 1-second window per integration (``client_id`` of the token), ``rate_limit`` requests
  (default 7, 0 = off); rejected requests do not use up the window. 429 body carries ``retry_after``
  (``config.retry_after``, default 1 s; real amoCRM has shown 300). More than ``block_after`` (20) 429s within
  ``block_window`` (60 s) block the client: every API and OAuth request then gets the nginx HTML 403 until
  ``POST /_sandbox/unblock``. ``/_sandbox/*``, ``/`` and ``/oauth`` are never limited.
- Webhooks: one POST per event and write (several entities of one batch share a body, indexed 0..n-1); a
  status change sends both ``status_lead`` and ``update_lead``; companies arrive under ``contacts[...]`` with
  ``type=company``. Deleting and restoring (control API, board) send ``delete_*``/``restore_*``; a note
  sends ``note_*`` with the v2 note fields under ``[note][i][note]``. ``last_modified`` is the lead's
  ``updated_at``, which never goes below the previous value (two changes in one second give equal, not
  decreasing, stamps). Retries of invalid answers (not 1xx/2xx, timeouts, refused connections) follow
  ``webhook_retry_delays`` (default 300, 900, 900, 3600 s); auto-disable after more than
  ``webhook_disable_after`` (100) invalid answers in ``webhook_disable_window`` (7200 s); re-posting the
  subscription does not re-enable it (whether amoCRM's does is unconfirmed: the stricter reading; config
  ``webhook_repost_enables`` true for the other), DELETE then POST does (a new subscription). Webhook
  timeout ``webhook_timeout`` (2 s).
- The consent page redirects with ``referer`` = the sandbox ``host:port`` (plain http); ``mode`` is accepted
  and ignored (no popup/postMessage).
"""
