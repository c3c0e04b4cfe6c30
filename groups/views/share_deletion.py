"""Deleting a share group: the page that shows what would be deleted and takes the reason, and the request."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from groups import audit
from groups.forms import ReasonForm
from groups.kafka import ConsoleError, share_client_for
from groups.operations import share_deletions
from groups.views.common import get_cluster

TEMPLATE = "groups/share_delete_group.html"


@require_http_methods(["GET", "POST"])
def share_group_delete(request: HttpRequest, cluster: str, group: str) -> HttpResponse:
    cluster_row = get_cluster(request, cluster, "delete", group)
    form = ReasonForm(request.POST if request.method == "POST" else None)
    context: dict = {"cluster": cluster_row, "group_id": group, "form": form}
    try:
        share = share_client_for(cluster_row)
        description = share.describe(group)
        offsets = share.start_offsets(group)
    except ConsoleError as error:
        status = 404 if error.not_found else 503
        return render(request, TEMPLATE, {**context, "error": error.message}, status=status)
    context.update(group=description, offsets=offsets)
    if description.is_active:
        # Checked here as well as by the worker, so an active share group gets no operation at all.
        context["blocked"] = share_deletions.active_share_group_deletion_message(description)
        return render(request, TEMPLATE, context, status=409 if request.method == "POST" else 200)
    if request.method == "GET":
        return render(request, TEMPLATE, context)
    if not form.is_valid():
        return render(request, TEMPLATE, context, status=400)
    operation = share_deletions.request_share_deletion(
        cluster=cluster_row,
        group_id=group,
        reason=form.cleaned_data["reason"],
        actor=request.user.username,
        requester=request.user,
        via="web",
        source_ip=audit.source_ip(request),
    )
    return redirect("operation_page", pk=operation.pk)
