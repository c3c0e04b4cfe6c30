"""What every page's header needs to know about the signed-in user."""

from django.http import HttpRequest

from groups import access


def navigation(request: HttpRequest) -> dict:
    # A callable, so the grants are read only by a template that shows the link.
    return {
        "may_approve": lambda: access.allowed(request.user, "approve"),
        "may_audit": lambda: access.allowed(request.user, "audit"),
    }
