"""Four-eyes approval pages: the list of requests a user may approve, and the decisions on one."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from groups import access
from groups.operations import approvals
from groups.models import Operation
from groups.views_reset import get_operation, render_operation


@require_GET
def approval_list(request: HttpRequest) -> HttpResponse:
    access.require(request, "approve")
    return render(request, "groups/approvals.html", {"operations": approvals.awaiting_for(request.user)})


def _decide(request: HttpRequest, pk: int, decide: Callable[..., Operation], **arguments) -> HttpResponse:
    operation = get_operation(request, pk)
    try:
        decide(operation, request.user, **arguments, source_ip=request.META.get("REMOTE_ADDR"))
    except approvals.CommentMissing as error:
        return render_operation(request, operation, status=400, decision_error=str(error))
    except approvals.DecisionRefused as error:
        return render_operation(request, operation, status=409, decision_error=str(error),
                                comment=arguments.get("comment", ""))
    return redirect("operation_page", pk=operation.pk)


@require_POST
def approve_operation(request: HttpRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, approvals.approve, comment=request.POST.get("comment", ""))


@require_POST
def reject_operation(request: HttpRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, approvals.reject, comment=request.POST.get("comment", ""))


@require_POST
def cancel_operation(request: HttpRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, approvals.cancel)
