"""Replay pages: copy a range of a topic's records into another topic (form, preview, confirm)."""

from __future__ import annotations

import contextlib

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from groups import access, audit
from groups.forms import ConfirmForm, ReplayForm
from groups.kafka import ClusterClient, ConsoleError, client_for
from groups.models import Cluster, Operation
from groups.operations import lifecycle, replays
from groups.planning.replays import ReplayError, ReplayPreview, ReplayRequest, internal_topic_refusal
from groups.planning.time_text import format_duration_ms, format_time_ms
from groups.views.common import (
    PREVIEW_EXPIRED,
    get_cluster,
    is_partial,
    load_preview,
    preview_nonce,
    render_page,
    sign_preview,
)
from groups.views.form_errors import form_with_errors

TOKEN_SALT = "groups.replay.confirm"
SAMPLE_SIZE = 10


def _page(request: HttpRequest, context: dict, status: int = 200) -> HttpResponse:
    return render_page(request, "groups/replay.html", "preview", context, status)


def topic_replay_form(client: ClusterClient, topic: str, data=None) -> ReplayForm:
    return ReplayForm(
        data,
        topic=topic,
        topics=client.topic_names(),
        partition_count=lambda: client.topic_partition_counts([topic]).get(topic),
    )


def _shown(preview: ReplayPreview) -> dict:
    """What the preview partial shows, with times and durations as a person reads them."""
    sample = [{**row, "time": format_time_ms(row["timestamp_ms"], sep=" ", missing="")} for row in preview.sample]
    return {"preview": preview, "sample": sample, "retention": format_duration_ms(preview.target.get("retention_ms"))}


def _preview_page(request: HttpRequest, cluster: Cluster, client: ClusterClient, form: ReplayForm) -> HttpResponse:
    wanted, zone_assumed = form.cleaned_data["request"], form.cleaned_data["zone_assumed"]
    context = {"cluster": cluster, "topic": wanted.topic, "form": form, "wanted": wanted}
    try:
        preview = replays.preview_replay(client, wanted, sample_size=SAMPLE_SIZE)
    except ReplayError as error:
        return _page(request, {**context, "error": str(error)}, 400)
    except ConsoleError as error:
        return _page(request, {**context, "error": error.message}, 503)
    token = replay_token(cluster, wanted, zone_assumed, preview)
    confirm = ConfirmForm(initial={"token": token})
    return _page(
        request, {**context, **_shown(preview), "previewed": True, "zone_assumed": zone_assumed, "confirm": confirm}
    )


def replay_token(cluster: Cluster, wanted: ReplayRequest, zone_assumed: bool, preview: ReplayPreview) -> str:
    """The signed token that confirms exactly this preview (pages and the API)."""
    # preview_replay refuses a range without records, so every preview can be confirmed.
    return sign_preview(
        TOKEN_SALT,
        {
            "cluster": cluster.name,
            "topic": wanted.topic,
            "request": wanted.to_json(),
            "ranges": preview.ranges,
            "total": preview.total,
            "warnings": list(preview.warnings),
            "target": preview.target,
            "zone_assumed": zone_assumed,
        },
    )


def request_signed_replay(request: HttpRequest, cluster: Cluster, signed: dict, reason: str, *, via: str) -> Operation:
    """The replay a confirmed preview token asks for, requested by the signed-in user."""
    return replays.request_replay(
        cluster=cluster,
        request=ReplayRequest.from_json(signed["request"]),
        preview=_signed_preview(signed),
        reason=reason,
        actor=request.user.get_username(),
        requester=request.user,
        via=via,
        source_ip=audit.source_ip(request),
        preview_nonce=preview_nonce(signed),
    )


def _signed_preview(signed: dict) -> ReplayPreview:
    # The sample is not carried in the token: it only illustrates, and nothing runs from it.
    return ReplayPreview(
        ranges=signed["ranges"], total=signed["total"], sample=[], warnings=signed["warnings"], target=signed["target"]
    )


@require_GET
def replay_action(request: HttpRequest, cluster: str, topic: str) -> HttpResponse:
    """The topic page's replay action: a link for who may replay on the cluster, otherwise what they lack.

    The topic page loads it through htmx; opened by itself it would be a bare fragment, so a browser is sent
    to the topic page that shows it."""
    cluster_row = get_cluster(request, cluster)
    if not is_partial(request):
        return redirect(f"{reverse('topic_page', args=[cluster_row.name, topic])}#replay-action")
    may = access.allowed(request.user, "replay", cluster_row)
    refusal = internal_topic_refusal(topic) or (None if may else access.refusal("replay", cluster_row))
    return render(
        request,
        "groups/replay.html#action",
        {"cluster": cluster_row, "topic": topic, "may_replay": refusal is None, "refusal": refusal},
    )


@require_GET
def replay_form(request: HttpRequest, cluster: str, topic: str) -> HttpResponse:
    cluster_row = get_cluster(request, cluster, "replay")
    context = {"cluster": cluster_row, "topic": topic}
    if refusal := internal_topic_refusal(topic):
        return render(request, "groups/replay.html", {**context, "error": refusal}, status=400)
    try:
        form = topic_replay_form(client_for(cluster_row), topic)
    except ConsoleError as error:
        return render(request, "groups/replay.html", {**context, "error": error.message}, status=503)
    if topic not in form.topics:
        missing = f"Topic '{topic}' does not exist on cluster '{cluster_row.name}': there is nothing to replay from it."
        return render(request, "groups/replay.html", {**context, "error": missing}, status=404)
    return render(request, "groups/replay.html", {**context, "form": form})


@require_POST
def replay_preview(request: HttpRequest, cluster: str, topic: str) -> HttpResponse:
    cluster_row = get_cluster(request, cluster, "replay")
    context = {"cluster": cluster_row, "topic": topic}
    try:
        client = client_for(cluster_row)
        form = topic_replay_form(client, topic, request.POST)
        valid = form.is_valid()
    except ConsoleError as error:
        return _page(request, {**context, "error": error.message}, 503)
    if not valid:
        return form_with_errors(request, "groups/replay.html", "replay-entry", {**context, "form": form})
    return _preview_page(request, cluster_row, client, form)


@require_POST
def replay_confirm(request: HttpRequest, cluster: str, topic: str) -> HttpResponse:
    cluster_row = get_cluster(request, cluster, "replay")
    signed = load_preview(request.POST.get("token", ""), TOKEN_SALT, cluster=cluster_row.name, topic=topic)
    context = {"cluster": cluster_row, "topic": topic}
    if signed is None:
        # The message below matters more than the form; the link leads back to it.
        with contextlib.suppress(ConsoleError):
            context["form"] = topic_replay_form(client_for(cluster_row), topic)
        return render(request, "groups/replay.html", {**context, "error": PREVIEW_EXPIRED}, status=400)
    wanted, preview = ReplayRequest.from_json(signed["request"]), _signed_preview(signed)
    confirm = ConfirmForm(request.POST)
    if not confirm.is_valid():
        try:
            topics = client_for(cluster_row).topic_names()
        except ConsoleError:
            topics = [wanted.target_topic]
        return render(
            request,
            "groups/replay.html",
            {
                **context,
                **_shown(preview),
                "form": ReplayForm.for_request(wanted, topics=topics),
                "wanted": wanted,
                "previewed": True,
                "zone_assumed": signed["zone_assumed"],
                "confirm": confirm,
            },
            status=400,
        )
    try:
        operation = request_signed_replay(request, cluster_row, signed, confirm.cleaned_data["reason"], via="web")
    except lifecycle.AlreadyRequested as done:  # a double click: show what the first one asked for
        return redirect("operation_page", pk=done.operation_id)
    return redirect("operation_page", pk=operation.pk)
