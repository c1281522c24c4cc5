"""Who may call the /api/v1/ API: the console's own rule (``console.roles.can``), for every viewset.

Settings ``REST_FRAMEWORK["DEFAULT_PERMISSION_CLASSES"]`` names :class:`RolePermission`; DRF imports it while
``rest_framework.views`` is still loading, so this module imports nothing of ``rest_framework.views``.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from console.roles import can, needs_role_message


class RolePermission(BasePermission):
    """The console's permission rule on the API: a safe method needs a role allowed ``view`` (manager,
    support, admin), any other ``orders.edit`` (manager, admin). ``is_staff`` alone grants nothing."""

    read_action = "view"
    write_action = "orders.edit"

    def has_permission(self, request: Request, view: Any) -> bool:
        action = self.read_action if request.method in SAFE_METHODS else self.write_action
        self.message = needs_role_message(action)
        return can(request.user, action)
