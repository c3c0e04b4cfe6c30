"""Pages that change a group: offset resets (preview, confirm, undo), group deletion, operation status."""

from __future__ import annotations

from django.core import signing
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from groups import access
from groups.operations import approvals, replays, resets
from groups.planning import resets as planning
from groups.forms import VALUE_HINTS, ConfirmForm, ReasonForm, ResetForm, error_text
from groups.kafka import ConsoleError, client_for
from groups.models import Cluster, Operation
from groups.views import _get_cluster, _is_partial, _recent_operations, _render

TOKEN_SALT = "groups.reset.confirm"
# Long enough to read a plan and write a reason; short enough that offsets rarely drift meanwhile
# (the worker refuses a drifted plan anyway).
TOKEN_MAX_AGE = 900
EXPIRED = "The preview expired (or was altered), so nothing was requested: preview again."


def _reset_context(cluster: Cluster, group: str, **extra) -> dict:
    return {"cluster": cluster, "group_id": group, "hints": VALUE_HINTS,
            "recent_operations": _recent_operations(cluster, group), **extra}


def _reset_page(request: HttpRequest, context: dict, status: int = 200) -> HttpResponse:
    return _render(request, "groups/reset.html", "preview", context, status)


def _stored_plan(rows: list[dict], warnings: list[str] = ()) -> planning.ResetPlan:
    return planning.ResetPlan(rows=tuple(planning.PlannedPartition(**row) for row in rows), warnings=tuple(warnings))


def _with_outcome(plan: planning.ResetPlan, outcome: list[dict] = ()) -> list[tuple]:
    results = {(o["topic"], o["partition"]): o for o in outcome}
    return [(row, results.get((row.topic, row.partition))) for row in plan.rows]


def _load_token(token: str, cluster: Cluster, group: str) -> dict | None:
    try:
        signed = signing.loads(token, salt=TOKEN_SALT, max_age=TOKEN_MAX_AGE)
    except signing.BadSignature:
        return None
    # A genuine token for another group must not move this one.
    if signed.get("cluster") != cluster.name or signed.get("group") != group:
        return None
    return signed


def _preview_page(request: HttpRequest, cluster: Cluster, group: str, form: ResetForm, fields: dict,
                  undo_of: Operation | None = None) -> HttpResponse:
    context = _reset_context(cluster, group, form=form, undo_of=undo_of)
    if fields["strategy"] == "from-group":
        # Copying shows the other group's offsets, so the user must be allowed to see that group too.
        # The refusal is shown in the form (htmx would not swap a 403 in: Preview would seem dead).
        try:
            access.require(request, "view", cluster, fields["value"].strip())
        except PermissionDenied as refusal:
            return _reset_page(request, {**context, "error": str(refusal)}, 403)
    try:
        preview = resets.preview_reset(client_for(cluster), group, fields["strategy"], fields["value"],
                                       fields["scope"], undo_of=undo_of)
    except planning.PlanningError as error:
        return _reset_page(request, {**context, "error": str(error)}, 400)
    except ConsoleError as error:
        return _reset_page(request, {**context, "error": error.message}, 503)
    confirm = None
    if not preview.blocked_reason:
        token = signing.dumps(
            {"cluster": cluster.name, "group": group, **fields, "undo_of": undo_of.pk if undo_of else None,
             "zone_assumed": preview.zone_assumed, "plan": resets.plan_rows(preview.plan),
             "warnings": list(preview.plan.warnings)},
            salt=TOKEN_SALT, compress=True,
        )
        confirm = ConfirmForm(initial={"token": token})
    return _reset_page(request, {
        **context, "previewed": True, "group": preview.group, "plan": preview.plan,
        "rows": _with_outcome(preview.plan), "zone_assumed": preview.zone_assumed,
        "blocked_reason": preview.blocked_reason, "confirm": confirm,
    })


@require_GET
def reset_form(request: HttpRequest, cluster: str, group: str) -> HttpResponse:
    cluster_row = _get_cluster(request, cluster, "reset", group)
    if "undo" not in request.GET:
        return render(request, "groups/reset.html", _reset_context(cluster_row, group, form=ResetForm()))
    undo_of = get_object_or_404(Operation, cluster=cluster_row, group_id=group,
                                pk=request.GET["undo"] if request.GET["undo"].isascii() and request.GET["undo"].isdecimal() else None)
    if not undo_of.can_be_undone:
        error = f"Operation #{undo_of.pk} cannot be undone: only an offset reset that succeeded can."
        return _reset_page(request, _reset_context(cluster_row, group, undo_of=undo_of, error=error), 400)
    return _preview_page(request, cluster_row, group, ResetForm(), {"strategy": "undo", "value": "", "scope": ""},
                         undo_of=undo_of)


@require_POST
def reset_preview(request: HttpRequest, cluster: str, group: str) -> HttpResponse:
    cluster_row = _get_cluster(request, cluster, "reset", group)
    form = ResetForm(request.POST, request.FILES)
    if not form.is_valid():
        return _reset_page(request, _reset_context(cluster_row, group, form=form, error=error_text(form)), 400)
    return _preview_page(request, cluster_row, group, form, form.request_fields())


@require_POST
def reset_confirm(request: HttpRequest, cluster: str, group: str) -> HttpResponse:
    cluster_row = _get_cluster(request, cluster, "reset", group)
    signed = _load_token(request.POST.get("token", ""), cluster_row, group)
    if signed is None:
        return render(request, "groups/reset.html",
                      _reset_context(cluster_row, group, form=ResetForm(), error=EXPIRED), status=400)
    undo_of = get_object_or_404(Operation, pk=signed["undo_of"]) if signed["undo_of"] else None
    confirm = ConfirmForm(request.POST)
    if not confirm.is_valid():
        plan = _stored_plan(signed["plan"], signed["warnings"])
        return render(request, "groups/reset.html", _reset_context(
            cluster_row, group, undo_of=undo_of,
            form=ResetForm.for_request(signed["strategy"], signed["value"], signed["scope"]),
            previewed=True, plan=plan, rows=_with_outcome(plan), zone_assumed=signed["zone_assumed"], confirm=confirm,
        ), status=400)
    operation = resets.request_operation(
        cluster=cluster_row, group_id=group, kind=Operation.Kind.RESET, plan=signed["plan"],
        reason=confirm.cleaned_data["reason"], actor=request.user.username, requester=request.user, via="web",
        strategy=signed["strategy"], strategy_value=signed["value"], scope=signed["scope"], undo_of=undo_of,
        source_ip=request.META.get("REMOTE_ADDR"),
    )
    return redirect("operation_page", pk=operation.pk)


def get_operation(request: HttpRequest, pk: int) -> Operation:
    """The operation, if the user may view its group (for a replay: its cluster)."""
    operation = (Operation.objects.select_related("cluster", "requester", "undo_of", "decided_by")
                 .filter(pk=pk).first())
    if operation is None:
        raise Http404(f"Operation #{pk} does not exist.")
    # A replay's group is its private copy checkpoint: seeing the cluster is what matters.
    group_id = None if operation.kind == Operation.Kind.REPLAY else operation.group_id
    access.require(request, "view", operation.cluster, group_id)
    return operation


def _approval_context(request: HttpRequest, operation: Operation) -> dict:
    if not operation.is_awaiting_approval:
        return {}
    cannot_decide = approvals.refusal_to_decide(request.user, operation)
    # Only the full page checks Kafka: the polled status area must stay cheap.
    check = cannot_decide is None and not operation.approval_lapsed and not _is_partial(request)
    return {"cannot_decide": cannot_decide, "review": approvals.review(operation) if check else None,
            "may_cancel": operation.requester_id == request.user.pk}


def render_operation(request: HttpRequest, operation: Operation, *, status: int = 200, **extra) -> HttpResponse:
    """The operation page (or its polled status area), with `extra` such as a refused decision's message."""
    # A replay's plan holds copy ranges, not reset rows; its page shows them through its own block.
    plan = _stored_plan(operation.plan if operation.kind != Operation.Kind.REPLAY else [])
    context = {"operation": operation, "cluster": operation.cluster, "plan": plan,
               "rows": _with_outcome(plan, operation.outcome), "undone_by": operation.undone_by.order_by("created"),
               "may_undo": access.allowed(request.user, "reset", operation.cluster, operation.group_id),
               "needs": access.ROLE_NEEDED,
               "may_cancel_replay": operation.kind == Operation.Kind.REPLAY and replays.may_cancel(request.user, operation),
               **_approval_context(request, operation), **extra}
    return _render(request, "groups/operation.html", "status", context, status)


@require_GET
def operation_page(request: HttpRequest, pk: int) -> HttpResponse:
    return render_operation(request, get_operation(request, pk))


@require_http_methods(["GET", "POST"])
def delete_group(request: HttpRequest, cluster: str, group: str) -> HttpResponse:
    cluster_row = _get_cluster(request, cluster, "delete", group)
    form = ReasonForm(request.POST if request.method == "POST" else None)
    context = {"cluster": cluster_row, "group_id": group, "form": form}
    try:
        description = client_for(cluster_row).describe_groups([group])[group]
    except ConsoleError as error:
        return render(request, "groups/delete_group.html", {**context, "error": error.message}, status=503)
    context["group"] = description
    if request.method == "GET":
        return render(request, "groups/delete_group.html", context)
    # Checked here as well as by the worker, so an active group gets no operation at all.
    if description.is_active:
        return render(request, "groups/delete_group.html", context, status=409)
    if not form.is_valid():
        return render(request, "groups/delete_group.html", context, status=400)
    operation = resets.request_operation(
        cluster=cluster_row, group_id=group, kind=Operation.Kind.DELETE_GROUP, plan=[],
        reason=form.cleaned_data["reason"], actor=request.user.username, requester=request.user, via="web",
        source_ip=request.META.get("REMOTE_ADDR"),
    )
    return redirect("operation_page", pk=operation.pk)
