"""Deleting a share group: the page that shows what would be deleted and takes the reason, and the request.
`share_group_to_delete`, `deletion_refusal` and `request_share_group_deletion` are the page's steps, which
the API takes as well."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from groups import audit
from groups.forms import ReasonForm
from groups.kafka import ConsoleError, ShareGroupState, share_client_for
from groups.models import Cluster, Operation
from groups.operations import share_deletions
from groups.views.common import get_cluster

TEMPLATE = "groups/share_delete_group.html"


def share_group_to_delete(cluster: Cluster, group: str) -> ShareGroupState:
    """The share group and its start offsets as Kafka holds them now (what a deletion drops)."""
    return share_client_for(cluster).read(group)


def deletion_refusal(state: ShareGroupState) -> str | None:
    """Why the share group cannot be deleted now, or None. Checked before a request as well as by the worker,
    so an active share group gets no operation at all."""
    if state.description.is_active:
        return share_deletions.active_share_group_deletion_message(state.description)
    return None


def request_share_group_deletion(
    request: HttpRequest, cluster: Cluster, group: str, reason: str, *, via: str
) -> Operation:
    return share_deletions.request_share_deletion(
        cluster=cluster,
        group_id=group,
        reason=reason,
        actor=request.user.get_username(),
        requester=request.user,
        via=via,
        source_ip=audit.source_ip(request),
    )


@require_http_methods(["GET", "POST"])
def share_group_delete(request: HttpRequest, cluster: str, group: str) -> HttpResponse:
    cluster_row = get_cluster(request, cluster, "delete", group)
    form = ReasonForm(request.POST if request.method == "POST" else None)
    context: dict = {"cluster": cluster_row, "group_id": group, "form": form}
    try:
        state = share_group_to_delete(cluster_row, group)
    except ConsoleError as error:
        status = 404 if error.not_found else 503
        return render(request, TEMPLATE, {**context, "error": error.message}, status=status)
    context.update(group=state.description, offsets=state.offsets)
    refusal = deletion_refusal(state)
    if refusal:
        context["blocked"] = refusal
        return render(request, TEMPLATE, context, status=409 if request.method == "POST" else 200)
    if request.method == "GET":
        return render(request, TEMPLATE, context)
    if not form.is_valid():
        return render(request, TEMPLATE, context, status=400)
    operation = request_share_group_deletion(request, cluster_row, group, form.cleaned_data["reason"], via="web")
    return redirect("operation_page", pk=operation.pk)
