"""What the API reads of the console's own records: operations (filtered as a script needs), one
operation, the requests awaiting the user's approval, and the audit log with its exports, each with the
rights of the page that shows it."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.urls import reverse
from ninja import Field, Query, Router, Schema

from groups import access, audit
from groups.api import schemas
from groups.api.errors import COMMON_ERRORS, ApiError
from groups.api.read import answers
from groups.models import AuditEvent, Cluster, Operation
from groups.operations import approvals
from groups.views import audit as audit_views
from groups.views.common import BadQuery, query_page
from groups.views.filters import per_page
from groups.views.operations import get_operation

router = Router(tags=["read"])


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def operation_json(operation: Operation) -> dict:
    """An operation as the API shows it: what was asked, by whom, why, where it stands, and its plan."""
    return {
        "id": operation.pk,
        "kind": operation.kind,
        "status": operation.status,
        "cluster": operation.cluster.name,
        "group": operation.group_id,
        "strategy": operation.strategy,
        "value": operation.strategy_value,
        "scope": operation.scope,
        "reason": operation.reason,
        "requester": operation.requester.get_username() if operation.requester else None,
        "requested_via": operation.requested_via,
        "created": operation.created.isoformat(),
        "started": _when(operation.started),
        "finished": _when(operation.finished),
        "expires_at": _when(operation.expires_at),
        "decided_by": operation.decided_by.get_username() if operation.decided_by else None,
        "decided_at": _when(operation.decided_at),
        "decision_comment": operation.decision_comment,
        "undo_of": operation.undo_of_id,
        "error": operation.error,
        "plan": operation.plan,
        "outcome": operation.outcome,
        "internal_topics": operation.internal_topics,
        "page": reverse("operation_page", args=[operation.pk]),
    }


def _viewable_operations(request: HttpRequest) -> QuerySet[Operation]:
    """The operations whose group (a replay: whose cluster) the user may view, as `get_operation` allows one."""
    scope = Q(pk__in=[])
    for cluster in Cluster.objects.all():
        if not access.allowed(request.user, "view", cluster):
            continue
        groups_scope = access.view_scope(request.user, cluster)
        scope |= Q(cluster=cluster) & (Q() if groups_scope is None else groups_scope | Q(group_id=""))
    return Operation.objects.filter(scope).select_related("cluster", "requester", "decided_by")


def _choice(request: HttpRequest, name: str, choices: list[str]) -> str:
    value = request.GET.get(name, "").strip()
    if value and value not in choices:
        raise BadQuery(f"{name} must be one of {', '.join(choices)}, not '{value}'.")
    return value


def _known_filters(request: HttpRequest, filters: type[Schema]) -> None:
    """A query parameter the list does not know is refused, not ignored: ignored, a misspelt filter answered
    every item as if each matched it."""
    known = {field.alias or name for name, field in filters.model_fields.items()}
    unknown = sorted(set(request.GET) - known)
    if unknown:
        raise BadQuery(f"unknown field '{unknown[0]}': this list filters by {', '.join(sorted(known))}.")


class OperationFilters(Schema):
    cluster: str = Field("", description="A cluster's name.")
    group: str = Field("", description="A group id, exactly.")
    kind: str = Field("", description=", ".join(Operation.Kind.values) + ".")
    status: str = Field("", description="As each operation reports it: " + ", ".join(Operation.Status.values) + ".")
    state: str = Field("", description="The same as status (its earlier name).")
    requester: str = Field("", description="A username.")
    page: str = ""
    per_page: str = ""


@router.get("/operations/", response=answers(schemas.OperationsPage), url_name="api_operations")
def operations(request: HttpRequest, filters: Query[OperationFilters]):
    """Operations the user may view, newest first."""
    _known_filters(request, OperationFilters)
    found = _viewable_operations(request)
    kind = _choice(request, "kind", Operation.Kind.values)
    state = _choice(request, "status", Operation.Status.values) or _choice(request, "state", Operation.Status.values)
    wanted = {
        "cluster__name": request.GET.get("cluster", ""),
        "group_id": request.GET.get("group", ""),
        "kind": kind,
        "status": state,
        "requester__username": request.GET.get("requester", ""),
    }
    found = found.filter(**{field: value for field, value in wanted.items() if value}).order_by("-created", "-pk")
    page, size = query_page(request, api=True), per_page(request.GET, api=True)
    start = (page - 1) * size
    return {
        "total": found.count(),
        "page": page,
        "per_page": size,
        "operations": [operation_json(o) for o in found[start : start + size]],
    }


@router.get("/operations/{int:pk}/", response=answers(schemas.Operation), url_name="api_operation")
def operation(request: HttpRequest, pk: int):
    """One operation: where it stands, its plan and what the worker found."""
    return operation_json(get_operation(request, pk))


@router.get("/approvals/", response=answers(schemas.Approvals), url_name="api_approvals")
def approvals_waiting(request: HttpRequest):
    """Requests awaiting the user's approval (the approver role; never their own)."""
    access.require(request, "approve")
    return {"operations": [operation_json(o) for o in approvals.awaiting_for(request.user)]}


class AuditFilters(Schema):
    actor: str = ""
    cluster: str = ""
    group: str = ""
    action: str = ""
    outcome: str = ""
    from_: str = Field("", alias="from", description="A day, YYYY-MM-DD.")
    to: str = Field("", description="A day, YYYY-MM-DD (included).")
    q: str = Field("", description="Text in the reason or the error, ignoring case (group: the group filter).")
    signins: str = Field("", description="1 to include sign-ins, failed sign-ins and sign-outs.")
    page: str = ""
    per_page: str = ""


def _event_json(event: AuditEvent) -> dict:
    return {**audit.export_fields(event), "plan": event.plan}


@router.get("/audit/", response=answers(schemas.AuditPage), url_name="api_audit")
def audit_events(request: HttpRequest, filters: Query[AuditFilters]):
    """Audit events matching the filters of the /audit/ page, newest first."""
    _known_filters(request, AuditFilters)
    events = audit_views.matching_events(request, audit_views.filter_values(request))
    page, size = query_page(request, api=True), per_page(request.GET, api=True)
    start = (page - 1) * size
    return {
        "total": events.count(),
        "page": page,
        "per_page": size,
        "events": [_event_json(e) for e in events.order_by("-id")[start : start + size]],
    }


@router.get("/audit/{int:pk}/", response=answers(schemas.AuditEvent), url_name="api_audit_event")
def audit_event(request: HttpRequest, pk: int):
    event = audit_views.reviewable_events(request).filter(pk=pk).first()
    if event is None:
        raise ApiError(404, "NOT_FOUND", f"Audit event #{pk} does not exist or is outside what you may review.")
    return _event_json(event)


def _download(content_type: str) -> dict:
    return {"responses": {"200": {"description": "A download", "content": {content_type: {"schema": {}}}}}}


@router.get(
    "/audit/export.csv",
    response=dict.fromkeys(COMMON_ERRORS, schemas.Error),
    url_name="api_audit_export_csv",
    openapi_extra=_download("text/csv"),
)
def audit_export_csv(request: HttpRequest, filters: Query[AuditFilters]) -> HttpResponseBase:
    """The matching events as CSV, as the /audit/ page exports them."""
    return audit_views.export_response(audit_views.matching_events(request, audit_views.filter_values(request)), "csv")


@router.get(
    "/audit/export.json",
    response=dict.fromkeys(COMMON_ERRORS, schemas.Error),
    url_name="api_audit_export_json",
    openapi_extra=_download("application/json"),
)
def audit_export_json(request: HttpRequest, filters: Query[AuditFilters]) -> HttpResponseBase:
    """The matching events as a JSON array, each with its plan."""
    return audit_views.export_response(audit_views.matching_events(request, audit_views.filter_values(request)), "json")
