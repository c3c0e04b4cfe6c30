"""Who is asking: every page needs a signed-in user, and the JSON API also takes an API token."""

from __future__ import annotations

from typing import cast

from django.contrib.auth import middleware as auth_middleware
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django_htmx.http import HttpResponseClientRedirect
from django_htmx.middleware import HtmxDetails

from groups.models import ApiToken

API_PREFIX = "/api/"
DOCS_HINT = "see /api/docs/ for what the API offers"


class HtmxHttpRequest(HttpRequest):
    """A request as django-htmx's middleware leaves it: what htmx asked for, if it did."""

    htmx: HtmxDetails


def _unauthorized(message: str) -> JsonResponse:
    response = JsonResponse({"error": message, "code": "UNAUTHENTICATED"}, status=401)
    response["WWW-Authenticate"] = 'Token realm="api"'
    return response


def _json_error_for(request: HttpRequest, response: HttpResponse) -> HttpResponse | None:
    """The JSON answer for an error Django gave under /api/ outside any route (an unknown URL, a method the
    route does not take, DEBUG's HTML pages), or None when the answer is already JSON or no error."""
    if response.status_code < 400 or response.get("Content-Type", "").startswith("application/json"):
        return None
    status = response.status_code
    if status == 404:
        code, message = "NOT_FOUND", f"No API endpoint at {request.path}: {DOCS_HINT}."
    elif status == 405:
        allowed = response.get("Allow", "")
        code, message = "METHOD_NOT_ALLOWED", f"{request.method} is not allowed on {request.path}: use {allowed}."
    elif status >= 500:
        code, message = "INTERNAL", "The console failed unexpectedly; the error was logged."
    elif status == 403:
        code, message = "FORBIDDEN", "Refused: sign in again, or send an API token as 'Authorization: Token <key>'."
    else:
        code, message = f"HTTP_{status}", f"The request was refused ({status}): {DOCS_HINT}."
    answer = JsonResponse({"error": message, "code": code}, status=status)
    if "Allow" in response:
        answer["Allow"] = response["Allow"]
    return answer


class ApiAuthenticationMiddleware:
    """`Authorization: Token <key>` signs an API request in; an API request without a valid key or a
    session gets a 401 in JSON, which a script can act on, rather than a redirect to a login page.
    Whatever error Django answers outside the API's routes (an unknown URL, a wrong method, DEBUG's
    HTML pages) reaches the script as JSON too.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        header = request.headers.get("Authorization")
        if header is not None:
            scheme, _, key = header.partition(" ")
            user = ApiToken.user_for(key.strip()) if scheme.lower() == "token" and key.strip() else None
            if user is None:
                return _unauthorized(
                    "The API token is not valid (revoked, replaced or mistyped): create one on "
                    "the console's API token page and send it as 'Authorization: Token <key>'."
                )
            request.user = user
        elif not request.user.is_authenticated:
            return _unauthorized("Sign in first, or send an API token as 'Authorization: Token <key>'.")
        response = self.get_response(request)
        return _json_error_for(request, response) or response


class LoginRequiredMiddleware(auth_middleware.LoginRequiredMiddleware):
    """Django's: every view needs a signed-in user unless marked `login_not_required`.

    An htmx refresh whose session has ended sends the whole page to the login, instead of
    swapping the login form into the fragment it was refreshing.
    """

    # An htmx client follows a 200 with HX-Redirect, which is no HttpResponseRedirect.
    def handle_no_permission(self, request: HttpRequest, view_func) -> HttpResponse:  # type: ignore[override]
        htmx = cast(HtmxHttpRequest, request).htmx
        if not htmx:
            return super().handle_no_permission(request, view_func)
        back_to = htmx.current_url_abs_path or request.get_full_path()
        return HttpResponseClientRedirect(redirect_to_login(back_to, self.get_login_url(view_func)).url)
