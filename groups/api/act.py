"""What the API changes, each through the page's own steps: a preview answers the plan and a signed token;
the request sends the token back with a reason and gets the operation (201), which a worker then runs or
an approver decides. A group's or a share group's deletion has no plan to sign: its preview says whether it
may be deleted, and the request takes the reason. Approve, reject, cancel and undo act on an operation.

Input is read by the pages' forms, so a script gets the words a person gets; rights, four-eyes approval
and the audit record are the domain's, as for the pages (`via` "api" tells the two apart in the record).
"""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile
from django.http import HttpRequest
from django.urls import reverse
from django.utils.datastructures import MultiValueDict
from ninja import Router, Status

from groups import audit
from groups.api import action_schemas, schemas
from groups.api.activity import operation_json
from groups.api.errors import COMMON_ERRORS, ApiError
from groups.forms import ReasonForm, ResetForm, error_text
from groups.forms_offset_deletion import OffsetDeletionForm
from groups.forms_share import ShareResetForm
from groups.kafka import client_for
from groups.models import Operation
from groups.operations import active_groups, approvals, offset_deletions, replays
from groups.operations import resets as reset_operations
from groups.operations.share_resets import SharePreview
from groups.planning.replays import ReplayError
from groups.planning.streams_topics import STALE_STATE_WARNING, InternalTopicsPlan
from groups.views import offset_deletion, resets, share_deletion, share_resets
from groups.views import replays as replay_views
from groups.views.common import PREVIEW_EXPIRED, get_cluster, load_preview
from groups.views.operations import get_operation, not_a_replay

router = Router(tags=["act"])
VIA = "api"
UNDO_FIELDS = {"strategy": "undo", "value": "", "scope": ""}


def answers(ok_status: int, ok, *more: int) -> dict:
    return {ok_status: ok, **dict.fromkeys((*COMMON_ERRORS, *more), schemas.Error)}


def _valid(form) -> dict:
    """The form's cleaned data, or a 400 with its errors as the page words them."""
    if not form.is_valid():
        raise ApiError(400, "BAD_REQUEST", error_text(form))
    return form.cleaned_data


def _signed(token: str, salt: str, **subject: str) -> dict:
    signed = load_preview(token, salt, **subject)
    if signed is None:
        raise ApiError(400, "PREVIEW_EXPIRED", PREVIEW_EXPIRED)
    return signed


def _reason(reason: str) -> str:
    """The reason as the confirmation form takes it (required, at most 2,000 characters)."""
    return _valid(ReasonForm({"reason": reason}))["reason"]


def _internal_topics(topics: InternalTopicsPlan | None) -> dict | None:
    """A streams group's internal topics as a preview answers them (None for other groups)."""
    if topics is None:
        return None
    kept = [{"topic": topic.name, "why": topic.why} for topic in topics.kept]
    return {"delete": topics.rows(), "kept": kept, "warning": STALE_STATE_WARNING}


def _reset_preview(
    preview: reset_operations.Preview | SharePreview,
    token: str | None,
    request_url: str,
    first_records: dict | None = None,
) -> dict:
    internal = preview.internal_topics if isinstance(preview, reset_operations.Preview) else None
    return {
        "internal_topics": _internal_topics(internal),
        "first_records": first_records,
        "group": preview.group.group_id,
        "state": preview.group.state,
        "plan": reset_operations.plan_rows(preview.plan),
        "warnings": list(preview.plan.warnings),
        "zone_assumed": preview.zone_assumed,
        "blocked_reason": preview.blocked_reason,
        "token": token,
        "request_url": request_url,
    }


def _group_reset_preview(request: HttpRequest, cluster, group: str, fields: dict, undo_of=None) -> dict:
    resets.require_source_group(request, cluster, fields)
    preview = resets.preview_group_reset(cluster, group, fields, undo_of)
    token = resets.preview_token(preview, resets.TOKEN_SALT, cluster, group, fields, undo_of)
    first = resets.first_records(request, cluster, group, preview.plan)
    return _reset_preview(preview, token, reverse("api:api_reset_request", args=[cluster.name, group]), first)


def _share_reset_preview(cluster, group: str, fields: dict, undo_of=None) -> dict:
    preview = share_resets.preview_share_group_reset(cluster, group, fields, undo_of)
    token = resets.preview_token(preview, share_resets.TOKEN_SALT, cluster, group, fields, undo_of)
    return _reset_preview(preview, token, reverse("api:api_share_reset_request", args=[cluster.name, group]))


@router.post(
    "/clusters/{cluster}/reset-preview/{group_id:group}/",
    response=answers(200, action_schemas.ResetPreview),
    url_name="api_reset_preview",
)
def reset_preview(request: HttpRequest, cluster: str, group: str, body: action_schemas.ResetIn):
    """Plan an offset reset as the reset page does; the token confirms exactly this plan for 15 minutes."""
    cluster_row = get_cluster(request, cluster, "reset", group)
    data = {
        "strategy": body.strategy,
        "value": body.value,
        "scope_mode": "topics" if body.scope.strip() else "all",
        "scope": body.scope,
    }
    # The file strategy reads a CSV upload on the page; here its text is the value.
    files: MultiValueDict[str, UploadedFile] = MultiValueDict()
    if body.strategy == "from-file":
        files["file"] = SimpleUploadedFile("offsets.csv", body.value.encode())
    form = ResetForm(data, files)
    _valid(form)
    return _group_reset_preview(request, cluster_row, group, form.request_fields())


@router.post(
    "/clusters/{cluster}/reset-request/{group_id:group}/",
    response=answers(201, schemas.Operation, 409),
    url_name="api_reset_request",
)
def reset_request(request: HttpRequest, cluster: str, group: str, body: action_schemas.ResetConfirm):
    """Request the previewed reset (or undo); on a cluster that requires approval it awaits an approver."""
    cluster_row = get_cluster(request, cluster, "reset", group)
    signed = _signed(body.token, resets.TOKEN_SALT, cluster=cluster_row.name, group=group)
    operation = resets.request_reset(
        request,
        cluster_row,
        group,
        signed,
        _reason(body.reason),
        via=VIA,
        delete_internal_topics=body.delete_internal_topics,
    )
    return Status(201, operation_json(operation))


@router.post(
    "/clusters/{cluster}/share-reset-preview/{group_id:group}/",
    response=answers(200, action_schemas.ResetPreview),
    url_name="api_share_reset_preview",
)
def share_reset_preview(request: HttpRequest, cluster: str, group: str, body: action_schemas.ShareResetIn):
    """Plan a share group's start-offset reset, as the share-reset page does."""
    cluster_row = get_cluster(request, cluster, "reset", group)
    data = {
        "strategy": body.strategy,
        "value": body.value,
        "scope_mode": "topics" if body.scope.strip() else "all",
        "scope": body.scope,
    }
    form = ShareResetForm(data)
    _valid(form)
    return _share_reset_preview(cluster_row, group, form.request_fields())


@router.post(
    "/clusters/{cluster}/share-reset-request/{group_id:group}/",
    response=answers(201, schemas.Operation, 409),
    url_name="api_share_reset_request",
)
def share_reset_request(request: HttpRequest, cluster: str, group: str, body: action_schemas.Confirm):
    cluster_row = get_cluster(request, cluster, "reset", group)
    signed = _signed(body.token, share_resets.TOKEN_SALT, cluster=cluster_row.name, group=group)
    reason = _reason(body.reason)
    operation = share_resets.request_share_group_reset(request, cluster_row, group, signed, reason, via=VIA)
    return Status(201, operation_json(operation))


@router.get(
    "/clusters/{cluster}/delete-group-preview/{group_id:group}/",
    response=answers(200, action_schemas.GroupDeletionPreview),
    url_name="api_delete_group_preview",
)
def delete_group_preview(request: HttpRequest, cluster: str, group: str):
    """The group as it would be deleted, and why it cannot be while it has active members."""
    cluster_row = get_cluster(request, cluster, "delete", group)
    description, offsets = resets.group_to_delete(cluster_row, group)
    return {
        "plan": offset_deletions.plan_rows(offsets),
        "group": description.group_id,
        "state": description.state,
        "members": len(description.members),
        "blocked_reason": active_groups.active_group_message(description, deleting=True)
        if description.is_active
        else None,
        "request_url": reverse("api:api_delete_group", args=[cluster_row.name, group]),
        "internal_topics": _internal_topics(resets.internal_topics_to_delete(cluster_row, description)),
    }


@router.post(
    "/clusters/{cluster}/delete-group/{group_id:group}/",
    response=answers(201, schemas.Operation, 409),
    url_name="api_delete_group",
)
def delete_group(request: HttpRequest, cluster: str, group: str, body: action_schemas.GroupDeletionIn):
    """Request the group's deletion (refused while it has active members, as the page refuses it); with
    `delete_internal_topics`, a streams group's internal topics, as its preview lists them now, go after it."""
    cluster_row = get_cluster(request, cluster, "delete", group)
    description, offsets = resets.group_to_delete(cluster_row, group)
    if description.is_active:
        raise ApiError(409, "GROUP_ACTIVE", active_groups.active_group_message(description, deleting=True))
    topics = resets.internal_topics_to_delete(cluster_row, description) if body.delete_internal_topics else None
    operation = resets.request_group_deletion(
        request,
        cluster_row,
        group,
        _reason(body.reason),
        via=VIA,
        offsets=offsets,
        group_type=description.type,
        delete_internal_topics=topics.rows() if topics else [],
    )
    return Status(201, operation_json(operation))


@router.get(
    "/clusters/{cluster}/share-delete-preview/{group_id:group}/",
    response=answers(200, action_schemas.ShareDeletionPreview),
    url_name="api_share_delete_preview",
)
def share_delete_preview(request: HttpRequest, cluster: str, group: str):
    """The share group as it would be deleted, with the start offsets the deletion drops, and why it cannot
    be while it has members."""
    cluster_row = get_cluster(request, cluster, "delete", group)
    state = share_deletion.share_group_to_delete(cluster_row, group)
    d = state.description
    return {
        "group": d.group_id,
        "state": d.state,
        "members": len(d.members),
        "start_offsets": [
            {
                "topic": o.tp.topic,
                "partition": o.tp.partition,
                "start_offset": o.start_offset,
                "leader_epoch": o.leader_epoch,
                "lag": o.lag,
                "error": o.error,
            }
            for o in state.offsets
        ],
        "blocked_reason": share_deletion.deletion_refusal(state),
        "request_url": reverse("api:api_share_delete", args=[cluster_row.name, group]),
    }


@router.post(
    "/clusters/{cluster}/share-delete/{group_id:group}/",
    response=answers(201, schemas.Operation, 409),
    url_name="api_share_delete",
)
def share_delete(request: HttpRequest, cluster: str, group: str, body: action_schemas.ReasonIn):
    """Request the share group's deletion (refused while it has members, as the page refuses it); it drops
    the group's start offsets and cannot be undone."""
    cluster_row = get_cluster(request, cluster, "delete", group)
    refusal = share_deletion.deletion_refusal(share_deletion.share_group_to_delete(cluster_row, group))
    if refusal:
        raise ApiError(409, "GROUP_ACTIVE", refusal)
    reason = _reason(body.reason)
    operation = share_deletion.request_share_group_deletion(request, cluster_row, group, reason, via=VIA)
    return Status(201, operation_json(operation))


@router.post(
    "/clusters/{cluster}/delete-offsets-preview/{group_id:group}/",
    response=answers(200, action_schemas.OffsetDeletionPreview),
    url_name="api_delete_offsets_preview",
)
def delete_offsets_preview(request: HttpRequest, cluster: str, group: str, body: action_schemas.OffsetDeletionIn):
    """Plan deleting the group's committed offsets on some topics or partitions."""
    cluster_row = get_cluster(request, cluster, "delete", group)
    scope = _valid(OffsetDeletionForm({"scope": body.scope}))["scope_text"]
    preview = offset_deletions.preview_deletion(client_for(cluster_row), group, scope)
    return {
        "group": preview.group.group_id,
        "state": preview.group.state,
        "plan": offset_deletions.plan_rows(preview.plan),
        "blocked_reason": preview.blocked_reason,
        "token": offset_deletion.deletion_token(cluster_row, group, scope, preview),
        "request_url": reverse("api:api_delete_offsets_request", args=[cluster_row.name, group]),
    }


@router.post(
    "/clusters/{cluster}/delete-offsets-request/{group_id:group}/",
    response=answers(201, schemas.Operation, 409),
    url_name="api_delete_offsets_request",
)
def delete_offsets_request(request: HttpRequest, cluster: str, group: str, body: action_schemas.Confirm):
    cluster_row = get_cluster(request, cluster, "delete", group)
    signed = _signed(body.token, offset_deletion.TOKEN_SALT, cluster=cluster_row.name, group=group)
    reason = _reason(body.reason)
    operation = offset_deletion.request_offset_deletion(request, cluster_row, group, signed, reason, via=VIA)
    return Status(201, operation_json(operation))


@router.post(
    "/clusters/{cluster}/replay-preview/{topic}/",
    response=answers(200, action_schemas.ReplayPreview),
    url_name="api_replay_preview",
)
def replay_preview(request: HttpRequest, cluster: str, topic: str, body: action_schemas.ReplayIn):
    """Plan copying a range of the topic's records into another topic, with a sample of the first records."""
    cluster_row = get_cluster(request, cluster, "replay", topic=topic)
    client = client_for(cluster_row)
    data = {name: "" if value is None else str(value) for name, value in body.dict().items()}
    cleaned = _valid(replay_views.topic_replay_form(client, topic, data))
    wanted, zone_assumed = cleaned["request"], cleaned["zone_assumed"]
    preview = replays.preview_replay(client, wanted, sample_size=replay_views.SAMPLE_SIZE)
    return {
        "topic": wanted.topic,
        "target_topic": wanted.target_topic,
        "ranges": preview.ranges,
        "total": preview.total,
        "warnings": list(preview.warnings),
        "target": preview.target,
        "sample": preview.sample,
        "zone_assumed": zone_assumed,
        "token": replay_views.replay_token(cluster_row, wanted, zone_assumed, preview),
        "request_url": reverse("api:api_replay_request", args=[cluster_row.name, topic]),
    }


@router.post(
    "/clusters/{cluster}/replay-request/{topic}/",
    response=answers(201, schemas.Operation, 409),
    url_name="api_replay_request",
)
def replay_request(request: HttpRequest, cluster: str, topic: str, body: action_schemas.Confirm):
    cluster_row = get_cluster(request, cluster, "replay", topic=topic)
    signed = _signed(body.token, replay_views.TOKEN_SALT, cluster=cluster_row.name, topic=topic)
    operation = replay_views.request_signed_replay(request, cluster_row, signed, _reason(body.reason), via=VIA)
    return Status(201, operation_json(operation))


@router.post(
    "/operations/{int:pk}/undo-preview/",
    response=answers(200, action_schemas.ResetPreview),
    url_name="api_undo_preview",
)
def undo_preview(request: HttpRequest, pk: int):
    """Plan putting back what a reset, a share-group reset, an offset deletion or a consumer group's deletion
    changed; confirm it at the `request_url` answered, like any reset."""
    undo_of = get_operation(request, pk)
    cluster = get_cluster(request, undo_of.cluster.name, "reset", undo_of.group_id)
    if undo_of.kind == Operation.Kind.SHARE_RESET:
        refused = share_resets.undo_refusal(undo_of)
    else:
        refused = reset_operations.undo_refusal(undo_of)
    if refused:
        raise ApiError(400, "CANNOT_UNDO", refused)
    if undo_of.kind == Operation.Kind.SHARE_RESET:
        return _share_reset_preview(cluster, undo_of.group_id, UNDO_FIELDS, undo_of)
    return _group_reset_preview(request, cluster, undo_of.group_id, UNDO_FIELDS, undo_of)


def _decide(request: HttpRequest, pk: int, decide, **arguments) -> dict:
    operation = get_operation(request, pk)
    decided = decide(operation, request.user, **arguments, source_ip=audit.source_ip(request))
    return operation_json(decided)


@router.post(
    "/operations/{int:pk}/approve/", response=answers(200, schemas.Operation, 409), url_name="api_approve_operation"
)
def approve(request: HttpRequest, pk: int, body: action_schemas.CommentIn):
    """Approve a request awaiting approval: an approver who is not its requester (four eyes)."""
    return _decide(request, pk, approvals.approve, comment=body.comment)


@router.post(
    "/operations/{int:pk}/reject/", response=answers(200, schemas.Operation, 409), url_name="api_reject_operation"
)
def reject(request: HttpRequest, pk: int, body: action_schemas.CommentIn):
    """Reject a request awaiting approval, saying why."""
    return _decide(request, pk, approvals.reject, comment=body.comment)


@router.post(
    "/operations/{int:pk}/cancel/", response=answers(200, schemas.Operation, 409), url_name="api_cancel_operation"
)
def cancel(request: HttpRequest, pk: int):
    """Withdraw one's own request while it awaits approval."""
    return _decide(request, pk, approvals.cancel)


@router.post(
    "/operations/{int:pk}/cancel-replay/",
    response=answers(200, schemas.Operation, 409),
    url_name="api_cancel_replay",
)
def cancel_replay(request: HttpRequest, pk: int):
    """Stop a running replay (what it copied stays copied; the operation says how far it got)."""
    operation = get_operation(request, pk)
    if operation.kind != Operation.Kind.REPLAY:
        raise ApiError(400, "NOT_A_REPLAY", not_a_replay(operation))
    try:
        # Who may cancel is cancel_replay's rule; a refusal is recorded there and raised as PermissionDenied.
        replays.cancel_replay(operation, request.user, source_ip=audit.source_ip(request))
    except ReplayError as error:
        raise ApiError(409, "CONFLICT", str(error)) from error
    operation.refresh_from_db()
    return operation_json(operation)
