"""Every failure under /api/ as JSON `{"error", "code"}` with its status: the domain's refusals, bad input,
and what Django answers before a route runs (an unknown URL, a wrong method, an unhandled error)."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from groups.kafka import ConsoleError
from groups.middleware import DOCS_HINT
from groups.operations import approvals, lifecycle
from groups.planning.replays import ReplayError
from groups.planning.resets import PlanningError
from groups.views.common import BadQuery, error_status

logger = logging.getLogger(__name__)


# The statuses every route may answer besides its own, each with an Error body.
COMMON_ERRORS = (400, 401, 403, 404, 503)


class ApiError(Exception):
    """A refusal the API words itself (the domain's own exceptions are mapped below)."""

    def __init__(self, status: int, code: str, message: str, **extra):
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


def _validation_message(error: ValidationError) -> str:
    """Pydantic's complaints as one line naming each field ('body.reason: Field required')."""
    parts = []
    for item in error.errors:
        where = ".".join(str(part) for part in item.get("loc", ()) if part not in ("body", "payload"))
        if item.get("type") == "extra_forbidden":
            parts.append(f"unknown field '{where}'")
            continue
        message = str(item.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "The request is not valid: " + "; ".join(parts) + f" ({DOCS_HINT})."


def _failure(exc: Exception) -> tuple[int, str, str, dict]:
    """(status, code, message, extra keys) of a failure, worded as the pages word it."""
    if isinstance(exc, ApiError):
        return exc.status, exc.code, exc.message, exc.extra
    if isinstance(exc, ConsoleError):
        return error_status(exc), exc.code or "KAFKA", exc.message, {}
    if isinstance(exc, ValidationError):
        return 400, "BAD_REQUEST", _validation_message(exc), {}
    if isinstance(exc, AuthenticationError):
        return 401, "UNAUTHENTICATED", "Sign in, or send 'Authorization: Token <key>'.", {}
    if isinstance(exc, HttpError):
        return exc.status_code, f"HTTP_{exc.status_code}", str(exc), {}
    for kinds, status, code in _STATUSES:
        if isinstance(exc, kinds):
            return status, code, str(exc) or _DEFAULT_WORDS[status], {}
    return 500, "INTERNAL", "The console failed unexpectedly; the error was logged.", {}


_STATUSES: tuple[tuple[tuple[type[Exception], ...], int, str], ...] = (
    ((Http404,), 404, "NOT_FOUND"),
    ((PermissionDenied,), 403, "FORBIDDEN"),
    ((BadQuery, PlanningError, ReplayError, approvals.CommentMissing), 400, "BAD_REQUEST"),
    ((lifecycle.RequestRefused, approvals.DecisionRefused), 409, "CONFLICT"),
)
_DEFAULT_WORDS = {404: "Nothing lives here.", 403: "You may not do this.", 400: "Bad request.", 409: "Refused."}
# Ninja has its own handlers for some of these; each is replaced, the rest reach the one for Exception.
_HANDLED = (ApiError, ConsoleError, ValidationError, AuthenticationError, HttpError, Http404, Exception)


def install_handlers(api: NinjaAPI) -> None:
    """Answer each kind of failure with the status and words the pages use for it."""

    def handle(request: HttpRequest, exc: Exception) -> HttpResponse:
        status, code, message, extra = _failure(exc)
        if code == "INTERNAL":
            logger.error("API %s %s failed", request.method, request.path, exc_info=exc)
        elif status >= 500:
            # Kafka away, no snapshot yet: the answer says what to do; a traceback would only bury it.
            logger.warning("API %s %s answered %s: %s", request.method, request.path, status, message)
        return api.create_response(request, {"error": message, "code": code, **extra}, status=status)

    for kind in _HANDLED:
        # Ninja's hint allows the exception's class as well; it always passes the instance.
        api.add_exception_handler(kind, handle)  # type: ignore[arg-type]
