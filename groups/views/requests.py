"""My requests: the operations a user asked for, wherever they stand, and the requests they decided.

Every signed-in user has this page, whatever their role: an operator follows their resets and replays
(awaiting approval, pending or running, done), an approver the requests they approved or rejected.
Each row links to its operation's page, which checks the right to view it as always.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from django.contrib.auth.models import User
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from groups.group_links import group_url
from groups.models import Operation
from groups.views.common import BadQuery, bad_request, query_page
from groups.views.describe import operation_scope, operation_summary

DONE_PER_PAGE = 50
DECIDED_SHOWN = 50
WAITING_FOR_A_WORKER = (Operation.Status.PENDING, Operation.Status.RUNNING)


@dataclass(frozen=True)
class Request:
    """An operation as this page lists it: what it asks for and over what, in words."""

    operation: Operation
    what: str
    scope: str
    group_link: str  # its group's page ("" for a replay): a share group's is its own


SHARE_KINDS = (Operation.Kind.SHARE_RESET, Operation.Kind.SHARE_DELETE)


def _group_link(operation: Operation) -> str:
    if not operation.group_id:
        return ""
    return group_url(operation.cluster.name, operation.group_id, "share" if operation.kind in SHARE_KINDS else "")


def _listed(operations) -> list[Request]:
    return [
        Request(operation, operation_summary(operation), operation_scope(operation), _group_link(operation))
        for operation in operations
    ]


def _operations() -> QuerySet[Operation]:
    return Operation.objects.select_related("cluster", "replay", "requester", "decided_by")


@require_GET
def my_requests(request: HttpRequest) -> HttpResponse:
    try:
        page_number = query_page(request)
    except BadQuery as error:
        return bad_request(request, error)
    user = cast(User, request.user)  # every page needs a signed-in user (LoginRequiredMiddleware)
    mine = _operations().filter(requester=user)
    done = mine.filter(status__in=Operation.FINAL).order_by("-created")
    decided = _operations().filter(decided_by=user).exclude(requester=user).order_by("-decided_at")
    page = Paginator(done, DONE_PER_PAGE).get_page(page_number)
    return render(
        request,
        "groups/my_requests.html",
        {
            "awaiting": _listed(mine.filter(status=Operation.Status.AWAITING_APPROVAL).order_by("-created")),
            "working": _listed(mine.filter(status__in=WAITING_FOR_A_WORKER).order_by("-created")),
            "page": page,
            "asked_page": page_number,
            "done": _listed(page.object_list),
            "decided": _listed(decided[:DECIDED_SHOWN]),
        },
    )
