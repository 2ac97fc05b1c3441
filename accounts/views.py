"""Login, password pages and the account management pages of organiser staff.

The account pages are thin: check the permission (accounts/rules.py), find the account among those the
staff member manages (anything else is a 404), call a service, render."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from config.forms import add_service_errors

from . import selectors, services
from .forms import AccountFilterForm, FacilitatorAccountForm, OperatorAccountForm

MANAGE = "accounts.account.manage"
ACCOUNTS_PER_PAGE = 50


# ------------------------------------------------------------------------------------ login and passwords


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    """POST only (Django's LogoutView refuses GET)."""


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:password_change_done")


class PasswordChangeDoneView(auth_views.PasswordChangeDoneView):
    template_name = "accounts/password_change_done.html"


class PasswordResetView(auth_views.PasswordResetView):
    """Self-service reset by e-mail. Only useful where e-mail is configured; the page says so otherwise."""

    template_name = "accounts/password_reset.html"
    email_template_name = "accounts/password_reset_email.txt"
    subject_template_name = "accounts/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")

    def get_context_data(self, **kwargs):
        return super().get_context_data(email_enabled=settings.EMAIL_ENABLED, **kwargs)


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """The one-time set-password link, for new accounts as well as for resets."""

    template_name = "accounts/password_set.html"
    success_url = reverse_lazy("accounts:password_reset_complete")


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_set_done.html"


# -------------------------------------------------------------------------------------- account management


def _check_manage(request, account=None) -> None:
    if not request.user.has_perm(MANAGE, account):
        raise PermissionDenied


def _managed_account(request, pk: int):
    """The account with this id among those the staff member manages, else 404; then the object check.
    Someone who may not manage accounts at all gets a 403 before any lookup."""
    _check_manage(request)
    account = get_object_or_404(selectors.accounts_managed_by(request.user).select_related("kabupaten"), pk=pk)
    _check_manage(request, account)
    return account


def _render_link(request, account, *, created: bool):
    """Issue a set-password link, e-mail it where possible, and show it once."""
    url = services.account_set_password_link(user=account, request_or_base_url=request)
    emailed = services.account_email_password_link(user=account, url=url)
    response = render(
        request,
        "accounts/account_link.html",
        {
            "account": account,
            "url": url,
            "created": created,
            "emailed": emailed,
            "email_enabled": settings.EMAIL_ENABLED,
            "timeout_days": max(1, settings.PASSWORD_RESET_TIMEOUT // 86400),
        },
    )
    # The link is a secret: never keep this page in a cache or the browser's history.
    response["Cache-Control"] = "no-store, private"
    return response


@login_required
def account_list(request):
    _check_manage(request)
    filters = AccountFilterForm(request.GET or None)
    role = query = ""
    if filters.is_valid():
        role = filters.cleaned_data["role"]
        query = filters.cleaned_data["q"]
    accounts = selectors.account_list(staff=request.user, role=role, query=query)
    page = Paginator(accounts, ACCOUNTS_PER_PAGE).get_page(request.GET.get("page"))
    querystring = request.GET.copy()
    querystring.pop("page", None)
    return render(
        request,
        "accounts/account_list.html",
        {
            "filters": filters,
            "page": page,
            "accounts": page.object_list,
            "querystring": querystring.urlencode(),
        },
    )


@never_cache
@login_required
def account_create_operator(request):
    _check_manage(request)
    form = OperatorAccountForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            account = services.account_create_operator(created_by=request.user, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            return _render_link(request, account, created=True)
    return render(
        request,
        "accounts/account_form.html",
        {
            "form": form,
            "title": gettext_lazy("New Dinsos operator account"),
            "intro": gettext_lazy(
                "An operator nominates participants for the batches that give their regency or city a quota."
            ),
        },
    )


@never_cache
@login_required
def account_create_facilitator(request):
    _check_manage(request)
    form = FacilitatorAccountForm(request.POST or None, staff=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            account = services.account_create_facilitator(created_by=request.user, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            return _render_link(request, account, created=True)
    return render(
        request,
        "accounts/account_form.html",
        {
            "form": form,
            "title": gettext_lazy("New facilitator account"),
            "intro": gettext_lazy(
                "A facilitator records attendance for the sessions they teach. Add the facilitator in the "
                "reference data first if they are not in the list."
            ),
            "no_choices": not form.fields["facilitator"].queryset.exists(),
        },
    )


@login_required
@require_POST
def account_link(request, pk: int):
    account = _managed_account(request, pk)
    try:
        return _render_link(request, account, created=False)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
        return redirect("accounts:account_list")


@login_required
@require_POST
def account_deactivate(request, pk: int):
    """Switch the account off, or on again if it is off."""
    account = _managed_account(request, pk)
    account = services.account_set_active(actor=request.user, user=account, active=not account.is_active)
    name = account.get_full_name() or account.username
    if account.is_active:
        messages.success(request, _("The account of %(name)s is active again.") % {"name": name})
    else:
        messages.success(
            request, _("The account of %(name)s is deactivated; it can no longer log in.") % {"name": name}
        )
    return redirect("accounts:account_list")
