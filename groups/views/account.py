"""Signing in and out, changing one's password, one's API token and one's preferences.

Django's auth views do the work (including keeping `next` within this site); these add the
lockout, the audit events and the console's templates.
"""

from __future__ import annotations

from typing import cast

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.models import User
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from groups import audit, logins
from groups.forms import LoginForm, PreferencesForm
from groups.models import ApiToken, AuditEvent, UserPreferences


class _LoginView(auth_views.LoginView):
    authentication_form = LoginForm

    def form_valid(self, form):
        logins.record_success(form.get_user().get_username(), audit.source_ip(self.request))
        return super().form_valid(form)


class _LogoutView(auth_views.LogoutView):
    def post(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            audit.record(
                AuditEvent.Action.LOGOUT,
                actor=request.user.get_username(),
                source_ip=audit.source_ip(request),
                outcome="succeeded",
            )
        return super().post(request, *args, **kwargs)


class _PasswordChangeView(auth_views.PasswordChangeView):
    def form_valid(self, form):
        audit.record(
            AuditEvent.Action.PASSWORD_CHANGED,
            actor=self.request.user.get_username(),
            source_ip=audit.source_ip(self.request),
            outcome="succeeded",
        )
        return super().form_valid(form)


login = _LoginView.as_view()
logout = _LogoutView.as_view()
password_change = _PasswordChangeView.as_view()
password_change_done = auth_views.PasswordChangeDoneView.as_view()


@login_not_required
@require_GET
def admin_login(request: HttpRequest) -> HttpResponse:
    """Django admin signs in through the console's own page, so one lockout and one audit trail cover both."""
    return redirect_to_login(request.GET.get("next", reverse("admin:index")), reverse("login"))


@never_cache
@require_http_methods(["GET", "POST"])
def api_token(request: HttpRequest) -> HttpResponse:
    """Create (or replace) and revoke one's key for the JSON API; a new key is shown on this answer only."""
    user = cast(User, request.user)  # every page needs a signed-in user (LoginRequiredMiddleware)
    key = None
    if request.method == "POST" and request.POST.get("action") == "revoke":
        ApiToken.objects.filter(user=user).delete()
        audit.record(
            AuditEvent.Action.API_TOKEN_REVOKED,
            actor=user.get_username(),
            source_ip=audit.source_ip(request),
            outcome="succeeded",
        )
    elif request.method == "POST":
        key = ApiToken.issue(user)
        audit.record(
            AuditEvent.Action.API_TOKEN_CREATED,
            actor=user.get_username(),
            source_ip=audit.source_ip(request),
            outcome="succeeded",
        )
    token = ApiToken.objects.filter(user=user).first()
    return render(request, "registration/api_token.html", {"token": token, "key": key})


@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    """How times are shown to this user: in the browser's time zone (the default) or in UTC."""
    user = cast(User, request.user)
    current = UserPreferences.objects.filter(user=user).first() or UserPreferences(user=user)
    form = PreferencesForm.for_user(current, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        form.save(current)
        return redirect(f"{reverse('preferences')}?saved=1")
    context = {"form": form, "saved": "saved" in request.GET, "in_utc": current.times_in_utc}
    return render(request, "registration/preferences.html", context, status=400 if form.errors else 200)
