"""Outgoing webhooks: amoCRM's form-encoded v2-style bodies, delivered off the request thread.

``Dispatcher.emit`` encodes one body per event and subscribed destination and queues it; one background
thread posts due jobs in order (2 s timeout by default), records every answer, schedules retries of invalid
answers from ``config["webhook_retry_delays"]`` and disables a destination after more than
``webhook_disable_after`` invalid answers within ``webhook_disable_window`` seconds (the latest one invalid).
"""

from __future__ import annotations

import heapq
import http.client
import itertools
import threading
import time
import uuid
from collections import deque
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

if TYPE_CHECKING:
    from .app import Sandbox

USER_AGENT = "amoCRM-Webhooks/3.0"


def flatten(prefix: str, value: Any, out: list[tuple[str, str]]) -> None:
    """PHP-style nested keys with string values; None becomes an empty string."""
    if isinstance(value, dict):
        for key, item in value.items():
            flatten(f"{prefix}[{key}]", item, out)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            flatten(f"{prefix}[{i}]", item, out)
    elif isinstance(value, bool):
        out.append((prefix, "1" if value else "0"))
    else:
        out.append((prefix, "" if value is None else str(value)))


def encode_body(group: str, action: str, items: list[dict[str, Any]], account: dict[str, Any]) -> str:
    """``{group}[{action}][{i}][field]=...&account[subdomain]=...``, encoded like PHP's http_build_query."""
    pairs: list[tuple[str, str]] = []
    for i, item in enumerate(items):
        flatten(f"{group}[{action}][{i}]", item, pairs)
    flatten("account", account, pairs)
    return urlencode(pairs)


class Dispatcher:
    """Queue, background sender, delivery log and auto-disable bookkeeping."""

    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb
        self._cv = threading.Condition()
        self._heap: list[tuple[float, int, dict[str, Any]]] = []
        self._seq = itertools.count()
        self._busy = False
        self._generation = 0
        self.deliveries: list[dict[str, Any]] = []
        self._invalid: dict[str, deque[float]] = {}
        self._thread = threading.Thread(target=self._run, name="sandbox-webhooks", daemon=True)
        self._thread.start()

    def reset(self) -> None:
        """Forget queued jobs, the delivery log and the invalid-answer counters."""
        with self._cv:
            self._generation += 1
            self._heap.clear()
            self.deliveries = []
            self._invalid.clear()

    def pending(self) -> int:
        """Jobs queued or being sent."""
        with self._cv:
            return len(self._heap) + (1 if self._busy else 0)

    def emit(self, event: str, group: str, action: str, items: list[dict[str, Any]]) -> None:
        """Queue ``event`` (e.g. ``status_lead``) for every enabled subscription that lists it."""
        if not items or not self.sb.config["webhooks_enabled"]:
            return
        subs = [w for w in self.sb.store.all("webhook") if event in w["settings"] and not w["disabled"]]
        if not subs:
            return
        body = encode_body(group, action, items, self.sb.account_ref())
        now = time.time()
        with self._cv:
            for sub in subs:
                job = {
                    "destination": sub["destination"],
                    "event": event,
                    "body": body,
                    "attempt": 1,
                    "generation": self._generation,
                }
                heapq.heappush(self._heap, (now, next(self._seq), job))
            self._cv.notify()

    def _next_job(self) -> dict[str, Any]:
        with self._cv:
            while True:
                if self._heap:
                    due = self._heap[0][0]
                    wait = due - time.time()
                    if wait <= 0:
                        self._busy = True
                        return heapq.heappop(self._heap)[2]
                    self._cv.wait(wait)
                else:
                    self._cv.wait()

    def _run(self) -> None:
        while True:
            job = self._next_job()
            try:
                self._deliver(job)
            except Exception as exc:  # the sender thread must survive anything a receiver does
                self._record(job, None, "", repr(exc), 0.0)
            finally:
                with self._cv:
                    self._busy = False

    def _deliver(self, job: dict[str, Any]) -> None:
        sub = self.sb.store.get("webhook", job["destination"])
        if sub is None or sub["disabled"]:
            return
        url = urlsplit(job["destination"])
        conn_cls = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
        started = time.time()
        status: int | None = None
        answer, error = "", ""
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": USER_AGENT,
            "X-Amocrm-Requestid": str(uuid.uuid4()),
            "Accept": "*/*",
        }
        job["request_id"] = headers["X-Amocrm-Requestid"]
        try:
            conn = conn_cls(url.hostname or "", url.port, timeout=float(self.sb.config["webhook_timeout"]))
            try:
                target = (url.path or "/") + (f"?{url.query}" if url.query else "")
                conn.request("POST", target, body=job["body"].encode(), headers=headers)
                resp = conn.getresponse()
                status = resp.status
                answer = resp.read(2000).decode("utf-8", "replace")
            finally:
                conn.close()
        except Exception as exc:  # timeouts, refused connections, resets: all invalid answers
            error = f"{type(exc).__name__}: {exc}"
        self._record(job, status, answer, error, time.time() - started)

    def _record(self, job: dict[str, Any], status: int | None, answer: str, error: str, took: float) -> None:
        ok = status is not None and 100 <= status < 300
        entry = {
            "id": len(self.deliveries) + 1,
            "destination": job["destination"],
            "event": job["event"],
            "attempt": job["attempt"],
            "request_id": job.get("request_id"),
            "body": job["body"],
            "status": status,
            "answer": answer,
            "error": error,
            "ok": ok,
            "sent_at": time.time(),
            "duration": round(took, 4),
        }
        with self._cv:
            if job.get("generation") != self._generation:
                return
            self.deliveries.append(entry)
        if ok:
            return
        self._count_invalid(job["destination"])
        delays = list(self.sb.config["webhook_retry_delays"])
        if job["attempt"] <= len(delays):
            retry = dict(job, attempt=job["attempt"] + 1)
            with self._cv:
                heapq.heappush(
                    self._heap, (time.time() + float(delays[job["attempt"] - 1]), next(self._seq), retry)
                )
                self._cv.notify()

    def _count_invalid(self, destination: str) -> None:
        now = time.time()
        window = float(self.sb.config["webhook_disable_window"])
        marks = self._invalid.setdefault(destination, deque())
        marks.append(now)
        while marks and marks[0] < now - window:
            marks.popleft()
        if len(marks) > int(self.sb.config["webhook_disable_after"]):
            with self.sb.store.atomic():
                sub = self.sb.store.get("webhook", destination)
                if sub and not sub["disabled"]:
                    sub["disabled"] = True
                    self.sb.store.put("webhook", destination, sub)
            marks.clear()

    def enable(self, destination: str) -> None:
        """A re-save of the subscription re-enables it and clears its invalid-answer history."""
        self._invalid.pop(destination, None)
