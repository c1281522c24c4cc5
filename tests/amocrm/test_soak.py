"""The soak (``tests/bench/soak.py``) at its reduced scale: 60 orders, manager edits, deal moves in amoCRM and
150 more webhook deliveries, under 429s, 5xx, timeouts, lost answers, an expired token, a revoked and
reconnected connection and a killed cluster; everything settles and every invariant holds. Embedded in the
suite's embedded pass, scale-out (two clusters) in its scale-out pass."""

from __future__ import annotations

from typing import Any

import pytest

from tests.bench import soak
from tests.fixtures.stack import default_mode


@pytest.mark.cluster
def test_a_storm_of_orders_edits_hooks_and_faults_settles_with_every_invariant_holding(sandbox: Any) -> None:
    result = soak.run(default_mode(), soak.REDUCED, sandbox=sandbox)

    soak.report(result)
    assert result["passed"], result["checks"]
