"""What every page may need: the signed-in user's links, and numbers the code owns (never typed twice)."""

from django.http import HttpRequest

from groups import access
from groups.views.common import PREVIEW_MAX_AGE


def console(request: HttpRequest) -> dict:
    return {
        # Callables, so the grants are read only by a template that shows the link.
        "may_approve": lambda: access.allowed(request.user, "approve"),
        "may_audit": lambda: access.allowed(request.user, "audit"),
        # The smallest role that allows each action, as refusals and hints name it.
        "needs": access.ROLE_NEEDED,
        "preview_minutes": PREVIEW_MAX_AGE // 60,
    }
