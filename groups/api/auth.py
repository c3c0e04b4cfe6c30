"""Who calls the API: an API token (no CSRF token needed: a script holds no cookie a page could ride on)
or the browser's session, whose changes need Django's CSRF token like a page's forms do.

`ApiAuthenticationMiddleware` has already signed the request in (or answered 401): these only tell
which way it came, check CSRF for the session, and describe both in the OpenAPI schema.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from ninja.security import APIKeyCookie, APIKeyHeader
from ninja.utils import check_csrf

from groups.api.errors import ApiError

CSRF_REFUSED = (
    "CSRF check failed: a request signed in by the session cookie must send the csrftoken cookie's value "
    "in an X-CSRFToken header; a script should send 'Authorization: Token <key>' instead."
)


class TokenAuth(APIKeyHeader):
    """`Authorization: Token <key>`, a key from the console's API token page."""

    param_name = "Authorization"

    def authenticate(self, request: HttpRequest, key: str | None):
        # The middleware refused a wrong key, so a key still here is the signed-in user's.
        return request.user if key else None


class SessionAuth(APIKeyCookie):
    """The session cookie of a signed-in browser; a change also needs the CSRF token."""

    param_name = settings.SESSION_COOKIE_NAME

    def _get_key(self, request: HttpRequest) -> str | None:
        if check_csrf(request) is not None:
            raise ApiError(403, "CSRF_FAILED", CSRF_REFUSED)
        return request.COOKIES.get(self.param_name)

    def authenticate(self, request: HttpRequest, key: str | None):
        return request.user if key and request.user.is_authenticated else None


AUTH = [TokenAuth(), SessionAuth()]
