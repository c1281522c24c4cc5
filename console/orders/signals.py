"""Domain signals of the orders app. Listeners (the AmoCRM integration) subscribe; this app knows none
of them.

``order_changed`` is sent once per committed operation (from ``transaction.on_commit``) with:

- ``order_id``: int
- ``action``: "created" | "updated" | "cancelled" | "deleted"
- ``changed``: frozenset of changed field names ("status", "items", "customer", "installation_date", ...)
- ``origin``: "storefront" | "manager" | "amocrm" | "system"
- ``actor``: who did it (user name, "storefront", "amocrm", ...)
"""

from django.dispatch import Signal

order_changed = Signal()
