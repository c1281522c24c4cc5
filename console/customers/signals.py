"""Domain signals of the customers app. Listeners (the AmoCRM integration) subscribe; this app knows none
of them.

Each is sent once per committed operation (from ``transaction.on_commit``) of the services in
``console.customers.services``, and only when something changed, with ``sender`` the model class and:

``customer_changed``

- ``customer_id``: int
- ``changed``: frozenset of changed field names ("first_name", "last_name", "display_name", "email", "phone",
  "customer_type", "tags", "company", "is_active")
- ``origin``: "storefront" | "manager" | "amocrm" | "system"
- ``actor``: who did it (user name, "storefront", "amocrm", ...)
- ``action``: "created" | "updated" | "deactivated"

``company_changed``

- ``company_id``: int
- ``changed``: frozenset of changed field names ("name", "legal_name", "inn", "kpp", "ogrn",
  "legal_address", "email", "phone")
- ``origin``, ``actor``: as above
- ``action``: "created" | "updated"
"""

from django.dispatch import Signal

customer_changed = Signal()
company_changed = Signal()
