"""Shared helpers of the sandbox conformance tests."""

from __future__ import annotations


def create(sb, entity, items):
    resp = sb.api("POST", entity, json=items)
    assert resp.status_code == 200, resp.text
    return [row["id"] for row in resp.json()["_embedded"][entity]]


def main_pipeline(sb):
    pipes = sb.api("GET", "leads/pipelines").json()["_embedded"]["pipelines"]
    return next(p for p in pipes if p["is_main"])


def errors_of(resp):
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert body["title"] == "Bad Request" and body["detail"] == "Request validation failed"
    assert body["type"] == "https://httpstatus.es/400" and body["status"] == 400
    return body["validation-errors"]
