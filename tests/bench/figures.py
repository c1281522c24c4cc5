"""The figures benchmarks report: each ``run(...)`` returns a list of :func:`figure` dicts, and
``python -m tests.bench`` puts every benchmark's figures in one table."""

from __future__ import annotations

from typing import Any


def figure(name: str, measured: Any, target: str, passed: bool | None, *, mode: str = "embedded",
           unit: str = "") -> dict[str, Any]:  # fmt: skip
    """One measured figure: what, its target (``"<= 0.35"``, ``"-"`` for none), whether it met it."""
    shown = f"{measured:.3g}" if isinstance(measured, float) else str(measured)
    return {"figure": name, "measured": f"{shown}{unit}", "target": target, "passed": passed, "mode": mode}
