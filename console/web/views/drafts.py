"""Drafts: orders made from deals created in amoCRM, which a manager confirms (then they sync as usual)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from console.orders.models import Order
from console.orders.services import order_confirm
from console.web.permissions import requires


@require_POST
@requires("orders.edit")
def draft_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    """Confirm a draft: it becomes a normal order, and its deal is updated from it in the background."""
    order = get_object_or_404(Order, pk=pk, is_active=True)
    if not order.is_draft:
        messages.info(request, _("Order %(order)s is confirmed already.") % {"order": order})
        return redirect("web:order_detail", pk=order.pk)
    order_confirm(order=order, actor=request.user.get_username())
    messages.success(
        request, _("Order %(order)s is confirmed; its deal in AmoCRM follows it now.") % {"order": order}
    )
    return redirect("web:order_detail", pk=order.pk)
