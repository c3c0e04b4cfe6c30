"""The 403, 404 and 500 answers, as a page or, under /api/, as JSON: what went wrong and where to go."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from groups.middleware import API_PREFIX


def came_from(request: HttpRequest, *, same_path: bool = False) -> str | None:
    """The page of this site the request came from (its Referer), unless it is the refused page itself
    (`same_path`: a form posted to its own address came from that page, which is worth going back to).

    Only a full URL of the same origin (scheme, host and port) is trusted: anything else is not a page
    of this console, or not a link to show.
    """
    referer = request.META.get("HTTP_REFERER", "")
    parts = urlsplit(referer)
    same_origin = (parts.scheme, parts.netloc) == (request.scheme, request.get_host())
    if (
        not same_origin
        or not url_has_allowed_host_and_scheme(referer, {request.get_host()})
        or parts.path == request.path
        and not same_path
    ):
        return None
    return referer


def forbidden(request: HttpRequest, exception: Exception) -> HttpResponse:
    """403 for pages and the JSON API alike, saying what is missing and whom to ask (from `access.require`),
    and leading back where the user came from."""
    reason = str(exception) or "You may not do this: ask an admin for a role that allows it."
    if request.path.startswith(API_PREFIX):
        return JsonResponse({"error": reason, "code": "FORBIDDEN"}, status=403)
    back = came_from(request)
    return render(
        request,
        "403.html",
        {"reason": reason, "back": back or reverse("cluster_list"), "came_back": bool(back)},
        status=403,
    )


CSRF_FAILED = "The form was stale or your session expired, so nothing was changed. Reload the page and try again."


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """403 for a form whose CSRF token is missing or no longer valid (CSRF_FAILURE_VIEW): in the console's
    layout, saying that nothing changed and what to do, and leading back to the form's page. Django logs
    `reason` (django.security.csrf); it is for developers, not for the person at the form."""
    if request.path.startswith(API_PREFIX):
        return JsonResponse({"error": CSRF_FAILED, "code": "CSRF_FAILED"}, status=403)
    back = came_from(request, same_path=True)
    return render(
        request,
        "403_csrf.html",
        {"reason": CSRF_FAILED, "back": back or reverse("cluster_list"), "came_back": bool(back)},
        status=403,
    )


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """404 for pages and the JSON API alike, saying what was not found and where to go back."""
    reason = exception.args[0] if exception.args and isinstance(exception.args[0], str) else "Nothing lives here."
    if request.path.startswith(API_PREFIX):
        return JsonResponse({"error": reason, "code": "NOT_FOUND"}, status=404)
    return render(request, "404.html", {"reason": reason}, status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith(API_PREFIX):
        return JsonResponse(
            {"error": "The console failed unexpectedly; the error was logged.", "code": "INTERNAL"}, status=500
        )
    return render(request, "500.html", status=500)
