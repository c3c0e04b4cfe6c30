"""The operation page (status, plan or ranges, progress) and what is done from it: approve, reject,
withdraw a request, stop a replay; and the list of requests awaiting a user's approval."""

from __future__ import annotations

from collections.abc import Callable

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from groups import access, audit
from groups.models import Operation
from groups.operations import approvals, offset_deletions, replays, resets
from groups.planning.inputs import offsets_csv
from groups.planning.replays import ReplayError
from groups.views.common import is_partial, render_page, with_outcome
from groups.views.resets import stored_plan


def get_operation(request: HttpRequest, pk: int) -> Operation:
    """The operation, if the user may view its group (an operation on no group, a replay: its cluster)."""
    operation = Operation.objects.select_related("cluster", "requester", "undo_of", "decided_by").filter(pk=pk).first()
    if operation is None:
        raise Http404(f"Operation #{pk} does not exist.")
    access.require(request, "view", operation.cluster, operation.group_id or None)
    return operation


def _reset_part(request: HttpRequest, operation: Operation) -> dict:
    plan = stored_plan(operation.plan)
    return {
        "plan": plan,
        "rows": with_outcome(plan, operation.outcome),
        "undone_by": operation.undone_by.select_related("requester").order_by("created"),
        "may_undo": access.allowed(request.user, "reset", operation.cluster, operation.group_id),
    }


def _deletion_part(request: HttpRequest, operation: Operation) -> dict:
    plan = offset_deletions.stored_plan(operation.plan)  # the offsets it deletes (none before they were recorded)
    return {
        "plan": plan,
        "rows": with_outcome(plan),
        # What kafka-consumer-groups --reset-offsets --from-file takes: Kafka keeps nothing of a deleted group.
        "restore_file": offsets_csv((r.topic, r.partition, r.before) for r in plan.rows if r.before is not None),
    }


def _group_deletion_part(request: HttpRequest, operation: Operation) -> dict:
    """A group deletion's part, with its undo (committing the deleted offsets again), or why it has none."""
    finished = operation.status == Operation.Status.SUCCEEDED and operation.undo is None
    return {
        **_deletion_part(request, operation),
        "undone_by": operation.undone_by.order_by("created"),
        "may_undo": access.allowed(request.user, "reset", operation.cluster, operation.group_id),
        "undo_refusal": resets.undo_refusal(operation) if finished else None,
    }


def _offset_deletion_part(request: HttpRequest, operation: Operation) -> dict:
    plan = offset_deletions.stored_plan(operation.plan)
    return {
        "plan": plan,
        "rows": with_outcome(plan, operation.outcome),
        "undone_by": operation.undone_by.order_by("created"),
        "may_undo": access.allowed(request.user, "reset", operation.cluster, operation.group_id),
    }


def _replay_part(request: HttpRequest, operation: Operation) -> dict:
    return {"may_cancel_replay": replays.may_cancel(request.user, operation)}


# Each kind's part of the page: the template whose partials (heading, facts, body, review_note) show
# it, and what they need. The one place the page dispatches on kind.
KIND_PARTS: dict[str, tuple[str, Callable[[HttpRequest, Operation], dict]]] = {
    Operation.Kind.RESET: ("groups/operation_reset.html", _reset_part),
    Operation.Kind.DELETE_GROUP: ("groups/operation_deletion.html", _group_deletion_part),
    Operation.Kind.DELETE_OFFSETS: ("groups/operation_offset_deletion.html", _offset_deletion_part),
    Operation.Kind.REPLAY: ("groups/operation_replay.html", _replay_part),
    Operation.Kind.SHARE_RESET: ("groups/operation_share_reset.html", _reset_part),
    Operation.Kind.SHARE_DELETE: ("groups/operation_share_deletion.html", _deletion_part),
}


def _approval_context(request: HttpRequest, operation: Operation) -> dict:
    if not operation.is_awaiting_approval:
        return {}
    cannot_decide = approvals.refusal_to_decide(request.user, operation)
    # Only the full page checks Kafka: the polled status area must stay cheap.
    check = cannot_decide is None and not operation.approval_lapsed and not is_partial(request)
    return {
        "cannot_decide": cannot_decide,
        "review": approvals.review(operation) if check else None,
        "may_cancel": operation.requester_id == request.user.pk,
    }


def render_operation(request: HttpRequest, operation: Operation, *, status: int = 200, **extra) -> HttpResponse:
    """The operation page (or its polled status area), with `extra` such as a refused decision's message."""
    part, part_context = KIND_PARTS[operation.kind]
    context = {
        "operation": operation,
        "cluster": operation.cluster,
        "part": part,
        **part_context(request, operation),
        **_approval_context(request, operation),
        **extra,
    }
    return render_page(request, "groups/operation.html", "status", context, status)


@require_GET
def operation_page(request: HttpRequest, pk: int) -> HttpResponse:
    return render_operation(request, get_operation(request, pk))


@require_GET
def approval_list(request: HttpRequest) -> HttpResponse:
    access.require(request, "approve")
    operations = approvals.awaiting_for(request.user)
    rows = [(operation, approvals.requester_refusal(operation)) for operation in operations]
    return render(request, "groups/approvals.html", {"operations": operations, "rows": rows})


def _decide(request: HttpRequest, pk: int, decide: Callable[..., Operation], **arguments) -> HttpResponse:
    operation = get_operation(request, pk)
    try:
        decide(operation, request.user, **arguments, source_ip=audit.source_ip(request))
    except approvals.CommentMissing as error:
        return render_operation(request, operation, status=400, decision_error=str(error))
    except approvals.DecisionRefused as error:
        return render_operation(
            request, operation, status=409, decision_error=str(error), comment=arguments.get("comment", "")
        )
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


def not_a_replay(operation: Operation) -> str:
    return f"Operation #{operation.pk} is not a replay: only a replay can be stopped while it runs."


@require_POST
def cancel_replay(request: HttpRequest, pk: int) -> HttpResponse:
    operation = get_operation(request, pk)
    if operation.kind != Operation.Kind.REPLAY:
        return render_operation(request, operation, status=400, decision_error=not_a_replay(operation))
    try:
        # Who may cancel is cancel_replay's rule; a refusal is recorded there and raised as PermissionDenied.
        replays.cancel_replay(operation, request.user, source_ip=audit.source_ip(request))
    except ReplayError as error:
        return render_operation(request, operation, status=409, decision_error=str(error))
    return redirect("operation_page", pk=operation.pk)
