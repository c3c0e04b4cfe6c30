"""Pages that delete a group's committed offsets: the form (the topics and partitions it has offsets on),
the preview, and the confirmation that requests the operation."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_POST

from groups import audit, reading
from groups.forms import ConfirmForm
from groups.forms_offset_deletion import OffsetDeletionForm
from groups.kafka import ConsoleError, client_for
from groups.models import Cluster, Operation
from groups.operations import lifecycle, offset_deletions
from groups.planning.resets import PlanningError
from groups.views.common import (
    PREVIEW_EXPIRED,
    get_cluster,
    is_partial,
    load_preview,
    preview_nonce,
    recent_operations,
    render_page,
    sign_preview,
    with_outcome,
)
from groups.views.form_errors import form_with_errors

TOKEN_SALT = "groups.offset-deletion.confirm"
TEMPLATE = "groups/delete_offsets.html"


def deletion_token(cluster: Cluster, group: str, scope: str, preview: offset_deletions.Preview) -> str | None:
    """The signed token that confirms exactly this preview (pages and the API), or None where it may not run."""
    if preview.blocked_reason:
        return None
    return sign_preview(
        TOKEN_SALT,
        {"cluster": cluster.name, "group": group, "scope": scope, "plan": offset_deletions.plan_rows(preview.plan)},
    )


def request_offset_deletion(
    request: HttpRequest, cluster: Cluster, group: str, signed: dict, reason: str, *, via: str
) -> Operation:
    """The offset deletion a confirmed preview token asks for, requested by the signed-in user."""
    return offset_deletions.request_deletion(
        cluster=cluster,
        group_id=group,
        plan=signed["plan"],
        scope=signed["scope"],
        reason=reason,
        actor=request.user.get_username(),
        requester=request.user,
        via=via,
        source_ip=audit.source_ip(request),
        preview_nonce=preview_nonce(signed),
    )


def _offered(cluster: Cluster, group: str, data: QueryDict | None) -> dict:
    """The topics and partitions the group has offsets on, as boxes (ticked as `data` ticked them), or why not."""
    try:
        committed = client_for(cluster).committed_offsets([group])[group]
    except ConsoleError as error:
        return {"error": error.message, "offered": []}
    ticked_topics = set(data.getlist("topics")) if data else set()
    ticked = set(data.getlist("partitions")) if data else set()
    topics: dict[str, list[dict]] = {}
    for tp, offset in sorted(committed.items()):
        value = f"{tp.topic}:{tp.partition}"
        topics.setdefault(tp.topic, []).append(
            {"value": value, "partition": tp.partition, "offset": offset, "checked": value in ticked}
        )
    return {
        "offered": [
            {"topic": topic, "checked": topic in ticked_topics, "partitions": partitions}
            for topic, partitions in topics.items()
        ]
    }


def _whole_page(request: HttpRequest, cluster: Cluster, group: str, context: dict) -> dict:
    """What the whole page shows: the form's offered offsets as the person ticked them, and the recent operations."""
    full = {"cluster": cluster, "group_id": group, "recent_operations": recent_operations(cluster, group), **context}
    form_data = request.POST if request.method == "POST" else None
    if "offered" not in full:
        full = {**_offered(cluster, group, form_data), **full}
    full.setdefault("form", OffsetDeletionForm(form_data))
    return full


def _page(request: HttpRequest, cluster: Cluster, group: str, context: dict, status: int = 200) -> HttpResponse:
    """The whole page, or only its preview when htmx asks (the form stays as the person left it)."""
    if is_partial(request):
        full = {"cluster": cluster, "group_id": group, **context}
    else:
        full = _whole_page(request, cluster, group, context)
    return render_page(request, TEMPLATE, "preview", full, status)


@require_GET
def offsets_form(request: HttpRequest, cluster: str, group: str) -> HttpResponse:
    cluster_row = get_cluster(request, cluster, "delete", group)
    offered = _offered(cluster_row, group, None)
    return _page(request, cluster_row, group, offered, 503 if "error" in offered else 200)


@require_POST
def offsets_preview(request: HttpRequest, cluster: str, group: str) -> HttpResponse:
    cluster_row = get_cluster(request, cluster, "delete", group)
    form = OffsetDeletionForm(request.POST)
    if not form.is_valid():
        context = _whole_page(request, cluster_row, group, {"form": form})
        return form_with_errors(request, TEMPLATE, "delete-offsets-entry", context)
    scope = form.cleaned_data["scope_text"]
    try:
        preview = offset_deletions.preview_deletion(client_for(cluster_row), group, scope)
    except PlanningError as error:
        return _page(request, cluster_row, group, {"form": form, "preview_error": str(error)}, 400)
    except ConsoleError as error:
        status = 404 if isinstance(error, reading.NotFound) else 503
        return _page(request, cluster_row, group, {"form": form, "preview_error": error.message}, status)
    token = deletion_token(cluster_row, group, scope, preview)
    confirm = ConfirmForm(initial={"token": token}) if token else None
    context = {
        "form": form,
        "previewed": True,
        "preview": preview,
        "plan": preview.plan,
        "rows": with_outcome(preview.plan),
        "confirm": confirm,
    }
    return _page(request, cluster_row, group, context)


@require_POST
def offsets_confirm(request: HttpRequest, cluster: str, group: str) -> HttpResponse:
    cluster_row = get_cluster(request, cluster, "delete", group)
    signed = load_preview(request.POST.get("token", ""), TOKEN_SALT, cluster=cluster_row.name, group=group)
    if signed is None:
        return _page(request, cluster_row, group, {"form": OffsetDeletionForm(), "error": PREVIEW_EXPIRED}, 400)
    confirm = ConfirmForm(request.POST)
    if not confirm.is_valid():
        plan = offset_deletions.stored_plan(signed["plan"])
        context = {
            "form": OffsetDeletionForm(initial={"scope": signed["scope"]}),
            "previewed": True,
            "plan": plan,
            "rows": with_outcome(plan),
            "confirm": confirm,
        }
        return _page(request, cluster_row, group, context, 400)
    try:
        operation = request_offset_deletion(
            request, cluster_row, group, signed, confirm.cleaned_data["reason"], via="web"
        )
    except lifecycle.AlreadyRequested as done:  # a double click: show what the first one asked for
        return redirect("operation_page", pk=done.operation_id)
    return redirect("operation_page", pk=operation.pk)
