"""Shared helpers of the sandbox conformance tests."""

from __future__ import annotations

import base64
import json

import requests


def create(sb, entity, items):
    resp = sb.api("POST", entity, json=items)
    assert resp.status_code == 200, resp.text
    return [row["id"] for row in resp.json()["_embedded"][entity]]


def main_pipeline(sb):
    pipes = sb.api("GET", "leads/pipelines").json()["_embedded"]["pipelines"]
    return next(p for p in pipes if p["is_main"])


def problem_body(status, title, detail):
    """amoCRM's ``application/problem+json`` body for an HTTP status."""
    return {"title": title, "type": f"https://httpstatus.es/{status}", "status": status, "detail": detail}


def errors_of(resp):
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert body["title"] == "Bad Request" and body["detail"] == "Request validation failed"
    assert body["type"] == "https://httpstatus.es/400" and body["status"] == 400
    return body["validation-errors"]


def token_request(sb, headers=None, **overrides):
    """``POST /oauth2/access_token`` with the seeded integration's credentials and ``overrides``."""
    body = {
        "client_id": sb.client_id,
        "client_secret": sb.client_secret,
        "redirect_uri": sb.redirect_uri,
        "grant_type": "authorization_code",
    }
    body.update(overrides)
    return requests.post(sb.url + "/oauth2/access_token", json=body, headers=headers, timeout=5)


def claims(jwt):
    """The payload of a JWT (signature not checked)."""
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
