"""Resetting a share group's start offsets: form, preview, confirm and undo, as consumer-group resets do."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from groups import audit
from groups.forms import ConfirmForm
from groups.forms_share import SHARE_VALUE_HINTS, ShareResetForm
from groups.kafka import ConsoleError, client_for, share_client_for
from groups.models import Cluster, Operation
from groups.operations import lifecycle, share_resets
from groups.planning import resets as planning
from groups.snapshot import queries
from groups.views.common import (
    PREVIEW_EXPIRED,
    get_cluster,
    load_preview,
    preview_nonce,
    recent_operations,
    render_page,
    undo_target,
)
from groups.views.form_errors import form_with_errors
from groups.views.resets import previewed, previewed_again

TOKEN_SALT = "groups.share-reset.confirm"
TEMPLATE = "groups/share_reset.html"


def _context(cluster: Cluster, group: str, **extra) -> dict:
    return {
        "cluster": cluster,
        "group_id": group,
        "hints": SHARE_VALUE_HINTS,
        "recent_operations": recent_operations(cluster, group),
        **extra,
    }


def _page(request: HttpRequest, context: dict, status: int = 200) -> HttpResponse:
    return render_page(request, TEMPLATE, "preview", context, status)


def preview_share_group_reset(
    cluster: Cluster, group: str, fields: dict, undo_of: Operation | None = None
) -> share_resets.SharePreview:
    """The start-offset reset a form's `fields` ask for (raises PlanningError, ConsoleError)."""
    return share_resets.preview_share_reset(
        share_client_for(cluster),
        client_for(cluster),
        group,
        fields["strategy"],
        fields["value"],
        fields["scope"],
        undo_of=undo_of,
    )


def request_share_group_reset(
    request: HttpRequest, cluster: Cluster, group: str, signed: dict, reason: str, *, via: str
) -> Operation:
    """The start-offset reset a confirmed preview token asks for, requested by the signed-in user."""
    return share_resets.request_share_reset(
        cluster=cluster,
        group_id=group,
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
    )


def undo_refusal(undo_of: Operation) -> str | None:
    """Why `undo_of` cannot be undone, if it cannot."""
    if undo_of.can_be_undone:
        return None
    if undo_of.undo is not None:
        return (
            f"Operation #{undo_of.pk} was already undone by operation #{undo_of.undo.pk}: an operation is undone once."
        )
    if undo_of.status == Operation.Status.SUCCEEDED and undo_of.kind == Operation.Kind.SHARE_RESET:
        return (
            f"Operation #{undo_of.pk} set start offsets on share-partitions that had none before: there is nothing "
            "to put back, so it cannot be undone. To move them again, preview a new reset."
        )
    return (
        f"Operation #{undo_of.pk} cannot be undone: only a start-offset reset that succeeded and found start "
        "offsets to put back can."
    )


def _preview_page(
    request: HttpRequest,
    cluster: Cluster,
    group: str,
    form: ShareResetForm,
    fields: dict,
    undo_of: Operation | None = None,
) -> HttpResponse:
    context = _context(cluster, group, form=form, undo_of=undo_of)
    try:
        preview = preview_share_group_reset(cluster, group, fields, undo_of)
    except planning.PlanningError as error:
        return _page(request, {**context, "error": str(error)}, 400)
    except ConsoleError as error:
        return _page(request, {**context, "error": error.message}, 404 if error.not_found else 503)
    return _page(request, {**context, **previewed(preview, TOKEN_SALT, cluster, group, fields, undo_of)})


def _no_share_group(request: HttpRequest, cluster: Cluster, group: str) -> HttpResponse | None:
    """The form's answer when Kafka holds no share group by this id (a consumer or streams group's, or none):
    the preview's refusal, before anything is typed, with the way to the group's own page when the collector
    saw it. None when there is one, or when Kafka cannot say now (the preview then tells what failed)."""
    try:
        share_client_for(cluster).describe(group)
    except ConsoleError as error:
        if not error.not_found:
            return None
        _, row = queries.served_group(cluster, group)
        return render(
            request, TEMPLATE, _context(cluster, group, error=error.message, missing=True, row=row), status=404
        )
    return None


@require_GET
def share_reset_form(request: HttpRequest, cluster: str, group: str) -> HttpResponse:
    cluster_row = get_cluster(request, cluster, "reset", group)
    if "undo" not in request.GET:
        return _no_share_group(request, cluster_row, group) or render(
            request, TEMPLATE, _context(cluster_row, group, form=ShareResetForm())
        )
    undo = request.GET["undo"]
    undo_of = undo_target(cluster_row, group, undo, [Operation.Kind.SHARE_RESET])
    error = undo_refusal(undo_of)
    if error:
        return _page(request, _context(cluster_row, group, undo_of=undo_of, error=error), 400)
    fields = {"strategy": "undo", "value": "", "scope": ""}
    return _preview_page(request, cluster_row, group, ShareResetForm(), fields, undo_of=undo_of)


@require_POST
def share_reset_preview(request: HttpRequest, cluster: str, group: str) -> HttpResponse:
    cluster_row = get_cluster(request, cluster, "reset", group)
    form = ShareResetForm(request.POST)
    if not form.is_valid():
        context = _context(cluster_row, group, form=form)
        return form_with_errors(request, "groups/share_reset.html", "reset-entry", context)
    return _preview_page(request, cluster_row, group, form, form.request_fields())


@require_POST
def share_reset_confirm(request: HttpRequest, cluster: str, group: str) -> HttpResponse:
    cluster_row = get_cluster(request, cluster, "reset", group)
    signed = load_preview(request.POST.get("token", ""), TOKEN_SALT, cluster=cluster_row.name, group=group)
    if signed is None:
        context = _context(cluster_row, group, form=ShareResetForm(), error=PREVIEW_EXPIRED)
        return render(request, TEMPLATE, context, status=400)
    undo_of = get_object_or_404(Operation, pk=signed["undo_of"]) if signed["undo_of"] else None
    confirm = ConfirmForm(request.POST)
    if not confirm.is_valid():
        form = ShareResetForm.for_request(signed["strategy"], signed["value"], signed["scope"])
        context = _context(cluster_row, group, undo_of=undo_of, form=form, **previewed_again(signed, confirm))
        return render(request, TEMPLATE, context, status=400)
    try:
        operation = request_share_group_reset(
            request, cluster_row, group, signed, confirm.cleaned_data["reason"], via="web"
        )
    except lifecycle.AlreadyRequested as done:  # a double click: show what the first one asked for
        return redirect("operation_page", pk=done.operation_id)
    return redirect("operation_page", pk=operation.pk)
