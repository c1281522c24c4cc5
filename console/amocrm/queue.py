"""Enqueueing django-q2 tasks through one broker per process.

django-q2's ``async_task`` builds a new broker for every call unless it is given one; with the Redis broker
that is a new Redis client, connection and handshake per task (redis-py also reads its package metadata for
the handshake): about 1.5 ms of a webhook delivery's 4 ms in the scale-out mode. The broker is made once per
process (and per broker setting, which only tests change) and reused; redis-py's clients are thread-safe and
reset their connections in a forked child.
"""

from __future__ import annotations

import os
from typing import Any

_brokers: dict[tuple[int, Any], Any] = {}


def process_broker() -> Any:
    """This process's django-q2 broker (the one ``async_task`` would build for the current settings)."""
    from django_q.brokers import get_broker
    from django_q.conf import Conf

    key = (os.getpid(), Conf.ORM)
    broker = _brokers.get(key)
    if broker is None:
        _brokers.clear()
        broker = _brokers[key] = get_broker()
    return broker


def task_enqueue(func: str, *args: Any, **options: Any) -> str:
    """``async_task(func, *args, **options)`` through :func:`process_broker`; returns the task id."""
    from django_q.tasks import async_task

    return async_task(func, *args, broker=process_broker(), **options)
