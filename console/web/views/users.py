"""The users page (admins): every console user with its role; change a role, create a user with a role and
an initial password, deactivate or reactivate; link it to an amoCRM user and mark it as taking storefront
orders. The rules live in ``console.web.services``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from console.amocrm.models import AmoUser
from console.roles import ROLE_LABELS, ROLES
from console.web.decorators import admin_required
from console.web.services import user_create as user_create_service
from console.web.services import user_link_amo, user_set_active, user_set_role, user_set_storefront
from console.web.services import user_list as user_list_selector
from console.web.services import user_role as role_of

ROLE_CHOICES = [(role, ROLE_LABELS[role]) for role in ROLES]


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=gettext_lazy("Role"), choices=ROLE_CHOICES)


class ActiveForm(forms.Form):
    active = forms.TypedChoiceField(choices=[("1", "1"), ("0", "0")], coerce=lambda value: value == "1")


class AmoLinkForm(forms.Form):
    amo_user = forms.ModelChoiceField(
        label=gettext_lazy("amoCRM user"), queryset=AmoUser.objects.all(), required=False
    )


class StorefrontForm(forms.Form):
    takes_orders = forms.TypedChoiceField(choices=[("1", "1"), ("0", "0")], coerce=lambda value: value == "1")


class UserCreateForm(forms.Form):
    username = forms.CharField(
        label=gettext_lazy("User name"), max_length=150, validators=[UnicodeUsernameValidator()]
    )
    first_name = forms.CharField(label=gettext_lazy("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=gettext_lazy("Last name"), max_length=150, required=False)
    email = forms.EmailField(label=gettext_lazy("Email"), required=False)
    role = forms.ChoiceField(label=gettext_lazy("Role"), choices=ROLE_CHOICES)
    password1 = forms.CharField(
        label=gettext_lazy("Initial password"),
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=gettext_lazy("Tell it to the user in person; they change it after the first login."),
    )
    password2 = forms.CharField(
        label=gettext_lazy("Initial password again"),
        strip=False,
        widget=forms.PasswordInput(render_value=False),
    )

    def clean_username(self) -> str:
        username = self.cleaned_data["username"]
        if get_user_model().objects.filter(username__iexact=username).exists():
            raise ValidationError(_("This user name is taken."))
        return username

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        password = data.get("password1")
        if password and password != data.get("password2"):
            self.add_error("password2", _("The two passwords differ."))
        elif password:
            candidate = get_user_model()(username=data.get("username", ""), email=data.get("email", ""))
            try:
                password_validation.validate_password(password, user=candidate)
            except ValidationError as exc:
                self.add_error("password1", exc)
        return data


def _amo_user_of(user: Any) -> AmoUser | None:
    try:
        return user.amo_user
    except AmoUser.DoesNotExist:
        return None


def _takes_storefront_orders(user: Any) -> bool:
    try:
        return user.storefront_manager.takes_orders
    except ObjectDoesNotExist:
        return False


def _row(
    user: Any, errors: list[str] | None = None, amo_users: list[AmoUser] | None = None
) -> dict[str, Any]:
    """One user's row: its role, its amoCRM user (or, unlinked, the one with its e-mail as the choice
    offered), whether it takes storefront orders."""
    linked = _amo_user_of(user)
    email = (user.email or "").strip().lower()
    offered = linked or next(
        (
            a
            for a in amo_users or []
            if email and a.console_user_id is None and a.email.strip().lower() == email
        ),
        None,
    )
    return {
        "user": user,
        "role": role_of(user),
        "errors": errors or [],
        "amo_user": linked,
        "amo_offered": offered,
        "storefront": _takes_storefront_orders(user),
    }


def _amo_users() -> list[AmoUser]:
    return list(AmoUser.objects.order_by("name", "amo_id"))


def _list_page(
    request: HttpRequest, errors: dict[int, list[str]] | None = None, status: int = 200
) -> HttpResponse:
    errors = errors or {}
    amo_users = _amo_users()
    context = {
        "rows": [_row(user, errors.get(user.pk), amo_users) for user in user_list_selector()],
        "role_choices": ROLE_CHOICES,
        "amo_users": amo_users,
    }
    return render(request, "users/list.html", context, status=status)


def _answer(request: HttpRequest, pk: int, errors: list[str], success: str) -> HttpResponse:
    """htmx gets the user's row (with the errors in it); a plain form the page: 400 with the errors, or a
    redirect with ``success``."""
    if request.htmx:
        user = get_user_model().objects.prefetch_related("groups").get(pk=pk)
        amo_users = _amo_users()
        context = {"row": _row(user, errors, amo_users), "role_choices": ROLE_CHOICES, "amo_users": amo_users}
        return render(request, "users/list.html#row", context)
    if errors:
        return _list_page(request, errors={pk: errors}, status=400)
    messages.success(request, success)
    return redirect("web:users")


def _errors(form: forms.Form) -> list[str]:
    return [error for errors in form.errors.values() for error in errors]


@require_GET
@admin_required
def user_list(request: HttpRequest) -> HttpResponse:
    """GET: every user with its role and the controls."""
    return _list_page(request)


def _change(
    request: HttpRequest,
    pk: int,
    form_class: type[forms.Form],
    service: Callable[..., object],
    success: Callable[[str, dict[str, Any]], str],
) -> HttpResponse:
    """Apply a valid form to user ``pk`` through ``service`` (called with ``user_id``, ``actor`` and the
    form's fields); ``success(user name, data)`` is the message. See :func:`_answer` for the answer."""
    user = get_object_or_404(get_user_model(), pk=pk)
    form = form_class(request.POST)
    errors = [] if form.is_valid() else _errors(form)
    if not errors:
        try:
            service(user_id=user.pk, actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            errors = exc.messages
    return _answer(
        request, user.pk, errors, "" if errors else success(user.get_username(), form.cleaned_data)
    )


def _role_changed(name: str, data: dict[str, Any]) -> str:
    return _("%(user)s is now %(role)s.") % {"user": name, "role": ROLE_LABELS[data["role"]]}


def _access_changed(name: str, data: dict[str, Any]) -> str:
    text = _("%(user)s is active again.") if data["active"] else _("%(user)s is deactivated.")
    return text % {"user": name}


def _change_view(
    form_class: type[forms.Form],
    service: Callable[..., object],
    success: Callable[[str, dict[str, Any]], str],
    doc: str,
) -> Callable[[HttpRequest, int], HttpResponse]:
    """An admin's POST changing one thing of user ``pk`` (see :func:`_change`)."""

    @require_POST
    @admin_required
    def view(request: HttpRequest, pk: int) -> HttpResponse:
        return _change(request, pk, form_class, service, success)

    view.__doc__ = doc
    return view


user_role = _change_view(RoleForm, user_set_role, _role_changed, "POST role: the user's new console role.")
user_active = _change_view(
    ActiveForm,
    user_set_active,
    _access_changed,
    "POST active=0 deactivates the user (no more logins), active=1 lets it log in again.",
)


def _amo_linked(name: str, data: dict[str, Any]) -> str:
    if data["amo_user"] is None:
        return _("%(user)s is linked to no amoCRM user.") % {"user": name}
    return _("%(user)s is linked to the amoCRM user %(amo_user)s.") % {
        "user": name,
        "amo_user": data["amo_user"].name or data["amo_user"].amo_id,
    }


def _storefront_changed(name: str, data: dict[str, Any]) -> str:
    if data["takes_orders"]:
        return _("%(user)s takes storefront orders.") % {"user": name}
    return _("%(user)s takes no storefront orders.") % {"user": name}


user_amo_link = _change_view(
    AmoLinkForm,
    user_link_amo,
    _amo_linked,
    "POST amo_user: the amoCRM user (``AmoUser`` id) the console user acts as; empty unlinks.",
)
user_storefront = _change_view(
    StorefrontForm,
    user_set_storefront,
    _storefront_changed,
    "POST takes_orders=1 makes the user take storefront orders in turn with the others; 0 stops it.",
)


@require_http_methods(["GET", "POST"])
@admin_required
def user_create(request: HttpRequest) -> HttpResponse:
    """GET the form; POST creates the user (errors stay on the form, answered 400)."""
    form = UserCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if k not in ("password1", "password2")}
        try:
            user = user_create_service(password=form.cleaned_data["password1"], actor=request.user, **data)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, _("User %(user)s created.") % {"user": user.get_username()})
            return redirect("web:users")
    status = 400 if request.method == "POST" else 200
    return render(request, "users/form.html", {"form": form}, status=status)
