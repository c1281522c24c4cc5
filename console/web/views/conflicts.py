"""Resolving a customer's or company's conflict with amoCRM (``amocrm.inbound.conflicts``): POST only."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from console.amocrm.inbound.conflicts import conflict_resolve
from console.amocrm.models import PartyConflict
from console.web.decorators import staff_required


@require_POST
@staff_required
def conflict_resolve_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Keep ours (``keep=ours``, pushed again) or take amoCRM's value (``keep=theirs``); back to ``next``."""
    if not PartyConflict.objects.filter(pk=pk).exists():
        raise Http404("No such conflict.")
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "web:dashboard"
    keep = request.POST.get("keep")
    if keep not in ("ours", "theirs"):
        messages.error(request, _("Choose which value to keep."))
        return redirect(target)
    try:
        conflict_resolve(conflict_id=pk, keep_ours=keep == "ours", actor=request.user.get_username())
    except PartyConflict.DoesNotExist:
        messages.info(request, _("This conflict is already resolved."))
        return redirect(target)
    messages.success(request, _("Kept the console's value.") if keep == "ours" else _("Took amoCRM's value."))
    return redirect(target)
