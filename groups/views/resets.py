"""Pages that change a group: offset resets (form, preview, confirm, undo) and group deletion."""

from __future__ import annotations

from collections.abc import Sequence

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from groups import access, audit, reading
from groups.forms import (
    DELETE_INTERNAL_TOPICS,
    VALUE_HINTS,
    ConfirmForm,
    DeleteGroupForm,
    ResetConfirmForm,
    ResetForm,
    internal_topics_text,
)
from groups.kafka import ConsoleError, GroupDescription, client_for, describe_group_to_change
from groups.models import Cluster, Operation
from groups.operations import internal_topics, lifecycle, offset_deletions, resets, share_resets
from groups.operations.first_records import first_records_after
from groups.planning import resets as planning
from groups.planning.deletions import DeletionPlan
from groups.planning.streams_topics import STALE_STATE_WARNING, InternalTopic, InternalTopicsPlan
from groups.snapshot import queries
from groups.views.common import (
    PREVIEW_EXPIRED,
    get_cluster,
    load_preview,
    preview_nonce,
    recent_operations,
    render_page,
    sign_preview,
    undo_target,
    with_outcome,
)
from groups.views.form_errors import form_with_errors

TOKEN_SALT = "groups.reset.confirm"


def stored_plan(rows: list[dict], warnings: Sequence[str] = ()) -> planning.ResetPlan:
    """A plan again from the rows an operation or a preview token kept."""
    return planning.ResetPlan(rows=tuple(planning.PlannedPartition(**row) for row in rows), warnings=tuple(warnings))


def preview_token(
    preview: resets.Preview | share_resets.SharePreview,
    salt: str,
    cluster: Cluster,
    group: str,
    fields: dict,
    undo_of: Operation | None,
) -> str | None:
    """The signed token that confirms exactly this preview (pages and the API), or None where it may not run."""
    if preview.blocked_reason:
        return None
    return sign_preview(
        salt,
        {
            "cluster": cluster.name,
            "group": group,
            **fields,
            "undo_of": undo_of.pk if undo_of else None,
            "zone_assumed": preview.zone_assumed,
            "plan": resets.plan_rows(preview.plan),
            "warnings": list(preview.plan.warnings),
            "internal_topics": internal_topic_rows(preview),
        },
    )


def internal_topic_rows(preview: resets.Preview | share_resets.SharePreview) -> list[dict]:
    """The internal topics a streams group's reset may delete too, as a token and an operation keep them."""
    planned = preview.internal_topics if isinstance(preview, resets.Preview) else None
    return planned.rows() if planned else []


def topics_context(topics: InternalTopicsPlan | None) -> dict:
    """What `_internal_topics_choice.html` shows of a streams group's internal topics, besides who may delete them."""
    return {
        "internal_topics": topics,
        "stale_state_warning": STALE_STATE_WARNING,
        "topics_label": DELETE_INTERNAL_TOPICS,
    }


def stored_internal_topics(group: str, rows: list[dict]) -> InternalTopicsPlan | None:
    """The internal topics a token kept, to be listed again (without the topics left alone, which it does not keep)."""
    if not rows:
        return None
    return InternalTopicsPlan(group, tuple(InternalTopic(r["topic"], r["partitions"], r["role"]) for r in rows), ())


def previewed(
    preview: resets.Preview | share_resets.SharePreview,
    salt: str,
    cluster: Cluster,
    group: str,
    fields: dict,
    undo_of: Operation | None,
) -> dict:
    """What a preview page shows of the plan, with a confirmation form signing it where it may run."""
    token = preview_token(preview, salt, cluster, group, fields, undo_of)
    return {
        "previewed": True,
        "group": preview.group,
        "plan": preview.plan,
        "rows": with_outcome(preview.plan),
        "zone_assumed": preview.zone_assumed,
        "blocked_reason": preview.blocked_reason,
        "confirm": ConfirmForm(initial={"token": token}) if token else None,
        **topics_context(preview.internal_topics if isinstance(preview, resets.Preview) else None),
    }


def previewed_again(signed: dict, confirm: ConfirmForm) -> dict:
    """The preview a confirmation token kept, shown again beside a confirmation that was not valid."""
    plan = stored_plan(signed["plan"], signed["warnings"])
    return {
        "previewed": True,
        "plan": plan,
        "rows": with_outcome(plan),
        "zone_assumed": signed["zone_assumed"],
        "confirm": confirm,
        **topics_context(stored_internal_topics(signed["group"], signed.get("internal_topics", []))),
    }


def _context(cluster: Cluster, group: str, **extra) -> dict:
    return {
        "cluster": cluster,
        "group_id": group,
        "hints": VALUE_HINTS,
        "recent_operations": recent_operations(cluster, group),
        **extra,
    }


def _may_delete_topics(request: HttpRequest, cluster: Cluster, group: str) -> dict:
    # Deleting internal topics is a deletion: only whoever may delete the group is offered it.
    return {"may_delete_topics": access.allowed(request.user, internal_topics.ACTION, cluster, group)}


def _page(request: HttpRequest, context: dict, status: int = 200) -> HttpResponse:
    return render_page(request, "groups/reset.html", "preview", context, status)


def require_source_group(request: HttpRequest, cluster: Cluster, fields: dict) -> None:
    """Copying shows the other group's offsets, so the user must be allowed to see that group too."""
    if fields["strategy"] == "from-group":
        access.require(request, "view", cluster, fields["value"].strip())


def preview_group_reset(cluster: Cluster, group: str, fields: dict, undo_of: Operation | None = None) -> resets.Preview:
    """The reset a form's `fields` ask for, planned from the cluster as it is (raises PlanningError, ConsoleError)."""
    return resets.preview_reset(
        client_for(cluster), group, fields["strategy"], fields["value"], fields["scope"], undo_of=undo_of
    )


def _preview_page(
    request: HttpRequest, cluster: Cluster, group: str, form: ResetForm, fields: dict, undo_of: Operation | None = None
) -> HttpResponse:
    context = _context(cluster, group, form=form, undo_of=undo_of, **_may_delete_topics(request, cluster, group))
    # The refusal is shown in the form (htmx would not swap a 403 in: Preview would seem dead).
    try:
        require_source_group(request, cluster, fields)
    except PermissionDenied as refusal:
        return _page(request, {**context, "error": str(refusal)}, 403)
    try:
        preview = preview_group_reset(cluster, group, fields, undo_of)
    except planning.PlanningError as error:
        return _page(request, {**context, "error": str(error)}, 400)
    except ConsoleError as error:
        return _page(request, {**context, "error": error.message}, 503)
    context["first_records"] = first_records(request, cluster, group, preview.plan)
    return _page(request, {**context, **previewed(preview, TOKEN_SALT, cluster, group, fields, undo_of)})


def first_records(request: HttpRequest, cluster: Cluster, group: str, plan: planning.ResetPlan) -> dict | None:
    """What a preview shows of the records the group will read first: {"rows"}, {"error"} (why not) or
    {"refused"} (the role that may see them); None for a plan without partitions. The page and the API
    show the same."""
    if not plan.rows:
        return None
    if not access.allowed(request.user, "read_records", cluster):
        return {"refused": access.ROLE_NEEDED["read_records"]}
    try:
        rows = first_records_after(
            client_for(cluster),
            plan,
            actor=request.user.get_username(),
            cluster=cluster.name,
            group_id=group,
            source_ip=audit.source_ip(request),
        )
    except ConsoleError as error:
        return {"error": error.message}
    return {"rows": rows}


def request_reset(
    request: HttpRequest,
    cluster: Cluster,
    group: str,
    signed: dict,
    reason: str,
    *,
    via: str,
    delete_internal_topics: bool = False,
) -> Operation:
    """The reset operation a confirmed preview token (`load_preview`) asks for, requested by the signed-in user;
    with `delete_internal_topics`, also deleting the streams group's internal topics the preview listed (a
    deletion: PermissionDenied unless the user may delete the group)."""
    topics = signed.get("internal_topics", []) if delete_internal_topics else []
    if topics:
        access.require(request, internal_topics.ACTION, cluster, group)
    return resets.request_operation(
        cluster=cluster,
        group_id=group,
        kind=Operation.Kind.RESET,
        plan=signed["plan"],
        reason=reason,
        actor=request.user.get_username(),
        requester=request.user,
        via=via,
        strategy=signed["strategy"],
        strategy_value=signed["value"],
        scope=signed["scope"],
        undo_of=get_object_or_404(Operation, pk=signed["undo_of"]) if signed["undo_of"] else None,
        source_ip=audit.source_ip(request),
        preview_nonce=preview_nonce(signed),
        delete_internal_topics=topics,
    )


def _share_group_refusal(request: HttpRequest, cluster: Cluster, group: str) -> HttpResponse | None:
    """The 404 a share group's id gets at the consumer-group reset form, as its preview would refuse it
    (reading.refuse_share_group), with a link to the share reset form; None for any other group.

    The last round's type answers when that round saw the group; a group it did not see (created since, or
    no round yet) is asked of Kafka as a preview asks it (describe_group_to_change)."""
    _, seen = queries.served_group(cluster, group)
    if seen is not None:
        kind, source = seen.type, "as the last collection round saw it"
    else:
        try:
            kind, source = describe_group_to_change(client_for(cluster), group).type, "as Kafka describes it now"
        except ConsoleError:  # Kafka did not answer: the form opens, and its preview says what failed
            return None
    if kind != "share":
        return None
    reason = (
        f"Group '{group}' is a share group, {source}: its share-partitions have start offsets, not committed "
        "offsets, which a consumer-group reset would neither see nor move."
    )
    link = {"href": reverse("share_reset_form", args=[cluster.name, group]), "text": "Reset its start offsets"}
    return render(request, "404.html", {"reason": reason, "link": link}, status=404)


@require_GET
def reset_form(request: HttpRequest, cluster: str, group: str) -> HttpResponse:
    cluster_row = get_cluster(request, cluster, "reset", group)
    if "undo" not in request.GET:
        return _share_group_refusal(request, cluster_row, group) or render(
            request, "groups/reset.html", _context(cluster_row, group, form=ResetForm())
        )
    undo = request.GET["undo"]
    kinds = [Operation.Kind.RESET, Operation.Kind.DELETE_OFFSETS, Operation.Kind.DELETE_GROUP]
    undo_of = undo_target(cluster_row, group, undo, kinds)
    refused = resets.undo_refusal(undo_of)
    if refused:
        return _page(request, _context(cluster_row, group, undo_of=undo_of, error=refused), 400)
    return _preview_page(
        request, cluster_row, group, ResetForm(), {"strategy": "undo", "value": "", "scope": ""}, undo_of=undo_of
    )


@require_POST
def reset_preview(request: HttpRequest, cluster: str, group: str) -> HttpResponse:
    cluster_row = get_cluster(request, cluster, "reset", group)
    form = ResetForm(request.POST, request.FILES)
    if not form.is_valid():
        return form_with_errors(request, "groups/reset.html", "reset-entry", _context(cluster_row, group, form=form))
    return _preview_page(request, cluster_row, group, form, form.request_fields())


@require_POST
def reset_confirm(request: HttpRequest, cluster: str, group: str) -> HttpResponse:
    cluster_row = get_cluster(request, cluster, "reset", group)
    signed = load_preview(request.POST.get("token", ""), TOKEN_SALT, cluster=cluster_row.name, group=group)
    if signed is None:
        return render(
            request,
            "groups/reset.html",
            _context(cluster_row, group, form=ResetForm(), error=PREVIEW_EXPIRED),
            status=400,
        )
    undo_of = get_object_or_404(Operation, pk=signed["undo_of"]) if signed["undo_of"] else None
    confirm = ResetConfirmForm(request.POST)
    if not confirm.is_valid():
        form = ResetForm.for_request(signed["strategy"], signed["value"], signed["scope"])
        context = _context(
            cluster_row,
            group,
            undo_of=undo_of,
            form=form,
            **previewed_again(signed, confirm),
            **_may_delete_topics(request, cluster_row, group),
        )
        return render(request, "groups/reset.html", context, status=400)
    try:
        operation = request_reset(
            request,
            cluster_row,
            group,
            signed,
            confirm.cleaned_data["reason"],
            via="web",
            delete_internal_topics=confirm.cleaned_data["delete_internal_topics"],
        )
    except lifecycle.AlreadyRequested as done:  # a double click: show what the first one asked for
        return redirect("operation_page", pk=done.operation_id)
    except lifecycle.RequestRefused as refused:
        context = _context(cluster_row, group, undo_of=undo_of, form=ResetForm(), error=str(refused))
        return render(request, "groups/reset.html", context, status=409)
    return redirect("operation_page", pk=operation.pk)


def group_to_delete(cluster: Cluster, group: str) -> tuple[GroupDescription, DeletionPlan]:
    """The group as Kafka describes it now, and the offsets deleting it deletes (one read of its offsets for
    both); a missing group is a ConsoleError saying there is nothing to delete."""
    client = client_for(cluster)
    description = describe_group_to_change(client, group)
    reading.refuse_share_group(description)
    committed = client.committed_offsets([group])[group]
    if reading.group_missing(description, committed):
        raise reading.NotFound(
            f"Consumer group '{group}' does not exist on cluster '{cluster.name}': there is nothing to delete.",
            code="GROUP_ID_NOT_FOUND",
        )
    return description, offset_deletions.whole_group_plan(client, committed)


def request_group_deletion(
    request: HttpRequest,
    cluster: Cluster,
    group: str,
    reason: str,
    *,
    via: str,
    offsets: DeletionPlan,
    group_type: str,
    delete_internal_topics: list[dict] | None = None,
) -> Operation:
    """The group's deletion, requested by the signed-in user, recording the `offsets` it deletes
    (group_to_delete's) and the group's type (which tells whether it can be undone); with
    `delete_internal_topics` (rows of `InternalTopicsPlan.rows`), a streams group's internal topics are deleted
    after it."""
    return resets.request_operation(
        cluster=cluster,
        group_id=group,
        kind=Operation.Kind.DELETE_GROUP,
        plan=offset_deletions.plan_rows(offsets),
        reason=reason,
        actor=request.user.get_username(),
        requester=request.user,
        via=via,
        source_ip=audit.source_ip(request),
        delete_internal_topics=delete_internal_topics,
        group_type=group_type,
    )


def internal_topics_to_delete(cluster: Cluster, group: GroupDescription) -> InternalTopicsPlan | None:
    """A streams group's internal topics that its deletion may delete too; None for other groups, and for an
    active group, which cannot be deleted anyway."""
    return None if group.is_active else internal_topics.preview_internal_topics(client_for(cluster), group)


TOPICS_CHANGED = (
    "The application's internal topics changed since this page was shown, so nothing was requested. "
    "Check the topics listed now, and confirm again."
)


@require_http_methods(["GET", "POST"])
def delete_group(request: HttpRequest, cluster: str, group: str) -> HttpResponse:
    cluster_row = get_cluster(request, cluster, "delete", group)
    data = request.POST if request.method == "POST" else None
    context: dict = {"cluster": cluster_row, "group_id": group, "form": DeleteGroupForm(data, group_id=group)}
    try:
        description, offsets = group_to_delete(cluster_row, group)
        topics = internal_topics_to_delete(cluster_row, description)
    except ConsoleError as error:
        status = 404 if error.not_found else 503
        return render(request, "groups/delete_group.html", {**context, "error": error.message}, status=status)
    seen = internal_topics_text(topics.rows()) if topics else ""
    form = DeleteGroupForm(data, group_id=group, initial={"internal_topics_seen": seen})
    context.update(group=description, form=form, plan=offsets, rows=with_outcome(offsets), **topics_context(topics))
    if request.method == "GET":
        return render(request, "groups/delete_group.html", context)
    # Checked here as well as by the worker, so an active group gets no operation at all.
    if description.is_active:
        return render(request, "groups/delete_group.html", context, status=409)
    if not form.is_valid():
        return render(request, "groups/delete_group.html", context, status=400)
    rows = topics.rows() if topics and form.cleaned_data["delete_internal_topics"] else []
    if rows and form.cleaned_data["internal_topics_seen"] != seen:
        # Shown again with the topics as they are now, which the next confirmation carries.
        context["form"] = DeleteGroupForm(initial={**form.cleaned_data, "internal_topics_seen": seen}, group_id=group)
        return render(request, "groups/delete_group.html", {**context, "topics_changed": TOPICS_CHANGED}, status=409)
    operation = request_group_deletion(
        request,
        cluster_row,
        group,
        form.cleaned_data["reason"],
        via="web",
        offsets=offsets,
        group_type=description.type,
        delete_internal_topics=rows,
    )
    return redirect("operation_page", pk=operation.pk)
