"""The console's two broad view rules, kept as names the views already use (see ``console.web.permissions``
for the roles and every action)."""

from __future__ import annotations

from console.web.permissions import requires

# Any console role may read (managers, support, admins).
staff_required = requires("view")
# Admins only: the connection, the account setup, the stage map, secrets.
admin_required = requires("setup")
