"""OAuth 2.0 for the sandbox: the consent page, authorization codes, the token endpoint and bearer checks.

Access tokens are JWT-shaped (HS256 over a per-process secret) and also recorded in the store by ``jti`` so
that reset, revocation and the refresh-lineage rule can kill them. Refresh tokens are opaque ``def502…``
strings; each remembers the refresh token it was issued from (``parent``) to implement the reuse rule.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import secrets
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from .http import JSON, PROBLEM, HttpError, Request, Response, html_response, json_response, problem, redirect

if TYPE_CHECKING:
    from .app import Sandbox

OAUTH_TYPE = "https://developers.amocrm.ru/v3/errors/OAuthProblemJson"
OAUTH_TITLE = "Некорректный запрос"
OAUTH_DETAIL = "В запросе отсутствует ряд параметров или параметры невалидны"


def oauth_error(status: int, hint: str) -> HttpError:
    """An ``OAuthProblemJson`` answer."""
    body = {"hint": hint, "title": OAUTH_TITLE, "type": OAUTH_TYPE, "status": status, "detail": OAUTH_DETAIL}
    return HttpError(json_response(status, body, PROBLEM))


def invalid_client() -> HttpError:
    """401 for a wrong ``client_id`` or ``client_secret``: "Некорректный клиент", no ``hint``."""
    body = {
        "title": "Некорректный клиент",
        "type": OAUTH_TYPE,
        "status": 401,
        "detail": "Авторизация клиента не прошла",
    }
    return HttpError(json_response(401, body, PROBLEM))


def unauthorized() -> HttpError:
    """The 401 body for a bad, expired or revoked bearer token."""
    return HttpError(problem(401, "Invalid user name or password"))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_HEADER = _b64(json.dumps({"typ": "JWT", "alg": "HS256"}, separators=(",", ":")).encode())


def jwt_encode(secret: bytes, claims: dict[str, Any]) -> str:
    """``header.payload.signature`` signed with HMAC-SHA256."""
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signing = f"{_HEADER}.{payload}".encode()
    return f"{_HEADER}.{payload}.{_b64(hmac.new(secret, signing, hashlib.sha256).digest())}"


def jwt_decode(secret: bytes, token: str) -> dict[str, Any] | None:
    """The claims of a token signed by ``secret``, or None when malformed or forged (expiry not checked)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    expected = hmac.new(secret, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
    try:
        if not hmac.compare_digest(expected, _unb64(parts[2])):
            return None
        claims = json.loads(_unb64(parts[1]))
    except ValueError:
        return None
    return claims if isinstance(claims, dict) else None


def issue_access_token(
    sb: Sandbox, *, client_id: str, lifetime: int, refresh: str | None, long_lived: bool = False
) -> tuple[str, int]:
    """Mint an access token for an integration; returns the token and its expiry (Unix seconds)."""
    now = int(time.time())
    jti = secrets.token_hex(16)
    exp = now + int(lifetime)
    claims = {
        "aud": client_id,
        "jti": jti,
        "iat": now,
        "nbf": now,
        "exp": exp,
        "sub": str(sb.admin_user_id),
        "grant_type": "",
        "account_id": sb.config["account_id"],
        "client_id": client_id,
        "integration_id": client_id,
        "base_domain": "amocrm.ru",
        "api_domain": sb.api_domain,
        "version": 2,
        "scopes": ["crm", "notifications"],
        "long_lived": long_lived,
    }
    sb.store.put("access", jti, {"client_id": client_id, "exp": exp, "refresh": refresh, "revoked": False})
    return jwt_encode(sb.secret, claims), exp


def _issue_pair(sb: Sandbox, client_id: str, parent: str | None) -> dict[str, Any]:
    now = int(time.time())
    refresh = "def50200" + secrets.token_hex(48)
    sb.store.put(
        "refresh",
        refresh,
        {
            "token": refresh,
            "client_id": client_id,
            "parent": parent,
            "created_at": now,
            "exp": now + int(sb.config["refresh_lifetime"]),
            "revoked": False,
            "used": False,
        },
    )
    lifetime = int(sb.config["token_lifetime"])
    access, _ = issue_access_token(sb, client_id=client_id, lifetime=lifetime, refresh=refresh)
    return {
        "token_type": "Bearer",
        "expires_in": lifetime,
        "access_token": access,
        "refresh_token": refresh,
        "server_time": now,
    }


def retire_parent(sb: Sandbox, refresh: str) -> None:
    """The reuse rule: the first use of ``refresh`` (or of its access token) kills its parent and siblings."""
    doc = sb.store.get("refresh", refresh)
    if not doc or doc.get("used"):
        return
    doc["used"] = True
    sb.store.put("refresh", refresh, doc)
    parent = doc.get("parent")
    if not parent:
        return
    for key, other in [(parent, sb.store.get("refresh", parent)), *sb.refresh_children(parent)]:
        if other and key != refresh and not other["revoked"]:
            other["revoked"] = True
            sb.store.put("refresh", key, other)


def mint_code(sb: Sandbox, client_id: str, age: int = 0) -> dict[str, Any]:
    """Create an authorization code as if a user pressed Allow ``age`` seconds ago."""
    code = "def50200" + secrets.token_hex(64)
    created = int(time.time()) - int(age)
    sb.store.put("code", code, {"client_id": client_id, "created_at": created, "used": False})
    return {"code": code, "expires_at": created + int(sb.config["code_lifetime"])}


def token_endpoint(sb: Sandbox, req: Request) -> Response:
    """``POST /oauth2/access_token`` for the authorization_code and refresh_token grants."""
    data = req.form()
    client_id = str(data.get("client_id") or "")
    grant = data.get("grant_type")
    if grant not in ("authorization_code", "refresh_token"):
        raise oauth_error(400, "Check the `grant_type` parameter")
    integration = sb.store.get("integration", client_id) if client_id else None
    if integration is None or data.get("client_secret") != integration["client_secret"]:
        raise invalid_client()
    if data.get("redirect_uri") != integration["redirect_uri"]:
        raise oauth_error(400, "Check the `redirect_uri` parameter")
    with sb.store.atomic():
        if grant == "authorization_code":
            body = _grant_code(sb, client_id, str(data.get("code") or ""))
        else:
            body = _grant_refresh(sb, req, client_id, str(data.get("refresh_token") or ""))
    return json_response(200, body, JSON)


def _grant_code(sb: Sandbox, client_id: str, code: str) -> dict[str, Any]:
    doc = sb.store.get("code", code) if code else None
    if doc is None or doc["client_id"] != client_id:
        raise oauth_error(400, "Cannot decrypt the authorization code")
    if doc["used"]:
        raise oauth_error(400, "Authorization code has been revoked")
    if time.time() > doc["created_at"] + int(sb.config["code_lifetime"]):
        raise oauth_error(400, "Authorization code has expired")
    doc["used"] = True
    sb.store.put("code", code, doc)
    return _issue_pair(sb, client_id, parent=None)


def _grant_refresh(sb: Sandbox, req: Request, client_id: str, token: str) -> dict[str, Any]:
    doc = sb.store.get("refresh", token) if token else None
    if doc is None or doc["client_id"] != client_id:
        raise oauth_error(401, "Invalid refresh token")
    if sb.take_fault_refresh(req):
        doc["revoked"] = True
        sb.store.put("refresh", token, doc)
    if doc["revoked"] or time.time() > doc["exp"]:
        raise oauth_error(401, "Token has been revoked")
    retire_parent(sb, token)
    return _issue_pair(sb, client_id, parent=token)


def authenticate(sb: Sandbox, req: Request) -> dict[str, Any]:
    """Check ``Authorization: Bearer``; returns the stored token record or raises the 401 problem."""
    auth = req.environ.get("HTTP_AUTHORIZATION", "")
    if not auth.startswith("Bearer "):
        raise unauthorized()
    claims = jwt_decode(sb.secret, auth[7:].strip())
    if claims is None or claims.get("exp", 0) < time.time():
        raise unauthorized()
    record = sb.store.get("access", claims.get("jti"))
    if record is None or record["revoked"]:
        raise unauthorized()
    if record["refresh"] and not record.get("seen"):
        with sb.store.atomic():
            retire_parent(sb, record["refresh"])
            record["seen"] = True
            sb.store.put("access", claims["jti"], record)
    record["jti"] = claims["jti"]
    return record


def moved_answer(sb: Sandbox, req: Request) -> Response | None:
    """amoCRM's answer on a host the account no longer lives on (``config["domain"]`` set, ``Host`` another):
    401 for the API, 404 "Account not found" for the token endpoint; None when the host is right."""
    domain = str(sb.config["domain"] or "")
    if not domain or req.host.lower() == domain.lower():
        return None
    if req.path.startswith("/api/v4/"):
        return unauthorized().response
    if req.path == "/oauth2/access_token":
        return problem(404, "Account not found")
    return None


def subdomain_endpoint(sb: Sandbox, req: Request) -> Response:
    """``GET /oauth2/account/current/subdomain`` with ``X-Refresh-Token``: where the account lives now.

    The SDK calls it on the token's ``api_domain`` when a refresh answers 404/401 (the account moved), so it
    answers on any host: 200 with the account id, subdomain and ``domain`` (``config["domain"]``, else the
    request's host) for a live refresh token of the account, 401 otherwise.
    """
    token = req.header("X-Refresh-Token") or ""
    doc = sb.store.get("refresh", token) if token else None
    if doc is None or doc["revoked"] or time.time() > doc["exp"]:
        raise unauthorized()
    body = {
        "id": sb.config["account_id"],
        "subdomain": sb.config["subdomain"],
        "domain": sb.config["domain"] or req.host,
        "top_level_domain": "ru",
    }
    return json_response(200, body, JSON)


_CONSENT = """<!doctype html><html lang="ru"><head><meta charset="utf-8">
<title>Предоставить доступ</title></head>
<body style="font-family:sans-serif;max-width:36em;margin:3em auto">
<h1>Предоставить доступ</h1>
<p>Интеграция <b>{name}</b> запрашивает доступ к аккаунту <b>{subdomain}</b>.</p>
<form method="post" action="/oauth">
<input type="hidden" name="client_id" value="{client_id}">
<input type="hidden" name="state" value="{state}">
<input type="hidden" name="mode" value="{mode}">
<button type="submit" name="decision" value="allow">Разрешить</button>
<button type="submit" name="decision" value="decline">Отклонить</button>
</form></body></html>"""


def consent_page(sb: Sandbox, req: Request) -> Response:
    """``GET /oauth``: the Allow/Decline page; ``POST /oauth``: the redirect back to the integration."""
    params = req.form() if req.method == "POST" else dict(req.pairs)
    client_id = params.get("client_id", "")
    integration = sb.store.get("integration", client_id) if client_id else None
    if integration is None:
        return html_response(400, "<!doctype html><h1>Интеграция не найдена</h1><p>Check the client_id.</p>")
    state = params.get("state", "")
    if req.method == "GET":
        page = _CONSENT.format(
            name=html.escape(integration.get("name") or client_id),
            subdomain=html.escape(sb.config["subdomain"]),
            client_id=html.escape(client_id),
            state=html.escape(state),
            mode=html.escape(params.get("mode", "")),
        )
        return html_response(200, page)
    uri = integration["redirect_uri"]
    sep = "&" if "?" in uri else "?"
    if params.get("decision") == "allow":
        code = mint_code(sb, client_id)["code"]
        query = {"code": code, "state": state, "referer": req.host, "client_id": client_id}
    else:
        query = {"error": "access_denied", "client_id": client_id, "state": state}
    return redirect(uri + sep + urlencode(query))
