"""An order's payment as the deal's fields carry it, the same in both directions.

``OrderSync.pushed_payment`` records it when a push succeeds (``outbound``); a change seen in amoCRM is
compared with it (``inbound.payments``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def order_payment(order: Any) -> dict[str, str]:
    """``{"paid_amount": "1500.50", "payment_status": "prepaid"}`` of ``order``."""
    amount = Decimal(str(order.paid_amount or 0)).quantize(Decimal("0.01"))
    return {"paid_amount": str(amount), "payment_status": str(order.payment_status)}
