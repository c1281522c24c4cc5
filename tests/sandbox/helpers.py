"""Shared helpers of the sandbox conformance tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "amocrm-samples"


def sample(name: str) -> str:
    """A recorded amoCRM body from ../shared/amocrm-samples (skips when the folder is absent)."""
    path = SAMPLES / name
    if not path.exists():
        pytest.skip(f"recorded samples not available at {SAMPLES}")
    return path.read_text(encoding="utf-8")


def wait_until(check: Callable[[], Any], timeout: float = 5.0) -> Any:
    """Poll ``check`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.03)
    return check()


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
