"""The installation's amoCRM rate limiter: Redis when ``settings.REDIS_URL`` is set, else the database (one
``RateLimitWindow`` row, locked for each turn: SQLite's ``IMMEDIATE`` transactions, PostgreSQL's
``SELECT ... FOR UPDATE``). The window arithmetic and the Redis backend: ``console.amocrm.api.ratelimit``.

amoCRM allows 7 requests per second and blocks an account that keeps exceeding it:
https://www.amocrm.ru/developers/content/api/recommendations
"""

from __future__ import annotations

import time

from django.conf import settings
from django.db import transaction

from console.amocrm.api.ratelimit import MAX_SLEEP, SAFETY_MARGIN, RateLimiter, RedisRateLimiter
from console.amocrm.models import RateLimitWindow


class DatabaseRateLimiter:
    """Sliding-log limiter in a database row, locked for each turn (every process sharing the database)."""

    def __init__(self, name: str, rate: float, window: float) -> None:
        self.name = name
        self.rate = max(1, int(rate))
        self.window = window

    def _try(self) -> float:
        """Record a start and return 0, or return how long to wait before trying again."""
        locked = RateLimitWindow.objects.select_for_update().filter(name=self.name)
        with transaction.atomic():
            row = locked.first()
            if row is None:
                # The first turn ever: create the row (or meet the one another process just created), then
                # lock it like any other turn.
                RateLimitWindow.objects.get_or_create(name=self.name)
                row = locked.get()
            now = time.time()
            # Keep the window's starts; drop stamps from the future (clock set back), or all would wait.
            starts = [s for s in row.starts if now - self.window < s <= now + 0.001]
            if len(starts) >= self.rate:
                return max(0.001, starts[-self.rate] + self.window - now)
            RateLimitWindow.objects.filter(pk=row.pk).update(starts=[*starts, now][-self.rate :])
            return 0.0

    def acquire(self) -> float:
        waited = 0.0
        while True:
            delay = self._try()
            if not delay:
                return waited
            # amoCRM asks clients to wait for their turn rather than send and be refused.
            delay = min(delay, MAX_SLEEP)
            time.sleep(delay)
            waited += delay


def get_rate_limiter(*, name: str = "amocrm", rate: float | None = None) -> RateLimiter:
    """The installation's limiter for ``name`` at ``rate`` requests/s (``settings.AMOCRM_RATE_LIMIT``)."""
    rate = float(rate if rate is not None else settings.AMOCRM_RATE_LIMIT)
    if rate <= 0:
        raise ValueError("AMOCRM_RATE_LIMIT must be positive")
    # ``count`` starts per ``window``: 7/s -> 7 per 1.1 s; 0.5/s -> 1 per 2.1 s; 7.5/s -> 7 per ~1.03 s.
    count = max(1, int(rate))
    window = count / rate + SAFETY_MARGIN
    if settings.REDIS_URL:
        return RedisRateLimiter(settings.REDIS_URL, f"ratelimit:{name}", count, window)
    return DatabaseRateLimiter(name, count, window)
