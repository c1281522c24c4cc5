"""The installation's amoCRM rate limiter: Redis when ``settings.REDIS_URL`` is set, else the database (one
``RateLimitWindow`` row, locked for each turn: SQLite's ``IMMEDIATE`` transactions, PostgreSQL's
``SELECT ... FOR UPDATE``). The window arithmetic and the Redis backend: ``console.amocrm.api.ratelimit``.

amoCRM allows 7 requests per second and blocks an account that keeps exceeding it:
https://www.amocrm.ru/developers/content/api/recommendations
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import transaction

from console.amocrm.api.ratelimit import (
    IN_FLIGHT_HOLD,
    SAFETY_MARGIN,
    RateLimiter,
    RedisRateLimiter,
    SlidingLog,
)
from console.amocrm.models import RateLimitWindow


class DatabaseRateLimiter(SlidingLog):
    """Sliding log in a database row, locked for each turn (every process sharing the database). The row's
    ``starts`` hold the unix time of each answer in the window, and "now + hold" for each request out."""

    def __init__(self, name: str, rate: float, window: float) -> None:
        self.name = name
        self.rate = max(1, int(rate))
        self.window = window

    def _try(self) -> tuple[str, float]:
        """Record a request in flight and return its place, or return how long to wait before trying again."""
        with self._locked() as (row, now, starts):
            if len(starts) >= self.rate:
                return "", max(0.001, starts[-self.rate] + self.window - now)
            place = now + IN_FLIGHT_HOLD
            RateLimitWindow.objects.filter(pk=row.pk).update(starts=[*starts, place][-self.rate :])
            return repr(place), 0.0

    def _answered(self, place: str) -> None:
        with self._locked() as (row, now, starts):
            if float(place) in starts:
                starts = sorted([s for s in starts if s != float(place)] + [now])
                RateLimitWindow.objects.filter(pk=row.pk).update(starts=starts[-self.rate :])

    @contextmanager
    def _locked(self) -> Iterator[tuple[RateLimitWindow, float, list[float]]]:
        """The locked row, the time, and its stamps still in the window (sorted; a stamp further ahead than a
        request may be held is dropped: a clock set back must not hold every request back)."""
        locked = RateLimitWindow.objects.select_for_update().filter(name=self.name)
        with transaction.atomic():
            row = locked.first()
            if row is None:
                # The first turn ever: create the row (or meet the one another process just created), then
                # lock it like any other turn.
                RateLimitWindow.objects.get_or_create(name=self.name)
                row = locked.get()
            now = time.time()
            limit = now + IN_FLIGHT_HOLD + 0.001
            yield row, now, sorted(s for s in row.starts if now - self.window < s <= limit)


def get_rate_limiter(*, name: str = "amocrm", rate: float | None = None) -> RateLimiter:
    """The installation's limiter for ``name`` at ``rate`` requests/s (``settings.AMOCRM_RATE_LIMIT``)."""
    rate = float(rate if rate is not None else settings.AMOCRM_RATE_LIMIT)
    if rate <= 0:
        raise ValueError("AMOCRM_RATE_LIMIT must be positive")
    # ``count`` answers per ``window``: 7/s -> 7 per 1.02 s; 0.5/s -> 1 per 2.02 s; 7.5/s -> 7 per ~0.95 s.
    count = max(1, int(rate))
    window = count / rate + SAFETY_MARGIN
    if settings.REDIS_URL:
        return RedisRateLimiter(settings.REDIS_URL, f"ratelimit:{name}", count, window)
    return DatabaseRateLimiter(name, count, window)
