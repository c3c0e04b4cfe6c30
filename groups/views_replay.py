"""Replay pages: copy a range of a topic's records into another topic (form, preview, confirm), and cancel a replay."""

from __future__ import annotations

from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from groups import access
from groups.operations import replays as replay
from groups.planning import replays as replay_plans
from groups.forms import ConfirmForm, error_text
from groups.forms_replay import ReplayForm
from groups.kafka import ClusterClient, ConsoleError, client_for
from groups.models import Cluster, Operation
from groups.views import _get_cluster, _render
from groups.views_reset import get_operation, render_operation

TOKEN_SALT = "groups.replay.confirm"
# As for resets: time to read the preview and write a reason, short enough that the ranges still hold.
TOKEN_MAX_AGE = 900
SAMPLE_SIZE = 10
EXPIRED = "The preview expired (or was altered), so nothing was requested: preview again."


def _replay_page(request: HttpRequest, context: dict, status: int = 200) -> HttpResponse:
    return _render(request, "groups/replay.html", "preview", context, status)


def _form(client: ClusterClient, topic: str, data=None) -> ReplayForm:
    return ReplayForm(data, topic=topic, topics=client.topic_names(),
                      partition_count=lambda: client.topic_partition_counts([topic]).get(topic))


def _shown(preview: replay_plans.ReplayPreview) -> dict:
    """What the preview partial shows, with times and durations as a person reads them."""
    sample = [{**row, "time": replay_plans.format_time_ms(row["timestamp_ms"], sep=" ", missing="")}
              for row in preview.sample]
    return {"preview": preview, "sample": sample,
            "retention": replay_plans.format_duration_ms(preview.target.get("retention_ms"))}


def _preview_page(request: HttpRequest, cluster: Cluster, client: ClusterClient, form: ReplayForm) -> HttpResponse:
    wanted, zone_assumed = form.cleaned_data["request"], form.cleaned_data["zone_assumed"]
    context = {"cluster": cluster, "topic": wanted.topic, "form": form, "wanted": wanted}
    try:
        preview = replay.preview_replay(client, wanted, sample_size=SAMPLE_SIZE)
    except replay_plans.ReplayError as error:
        return _replay_page(request, {**context, "error": str(error)}, 400)
    except ConsoleError as error:
        return _replay_page(request, {**context, "error": error.message}, 503)
    # preview_replay refuses a range without records, so every preview can be confirmed.
    token = signing.dumps(
        {"cluster": cluster.name, "topic": wanted.topic, "request": wanted.to_json(), "ranges": preview.ranges,
         "total": preview.total, "warnings": list(preview.warnings), "target": preview.target,
         "zone_assumed": zone_assumed},
        salt=TOKEN_SALT, compress=True,
    )
    confirm = ConfirmForm(initial={"token": token})
    return _replay_page(request, {**context, **_shown(preview), "previewed": True, "zone_assumed": zone_assumed,
                                  "confirm": confirm})


def _load_token(token: str, cluster: Cluster, topic: str) -> dict | None:
    try:
        signed = signing.loads(token, salt=TOKEN_SALT, max_age=TOKEN_MAX_AGE)
    except signing.BadSignature:
        return None
    # A genuine token for another topic must not copy this one.
    if signed.get("cluster") != cluster.name or signed.get("topic") != topic:
        return None
    return signed


def _signed_preview(signed: dict) -> replay_plans.ReplayPreview:
    # The sample is not carried in the token: it only illustrates, and nothing runs from it.
    return replay_plans.ReplayPreview(ranges=signed["ranges"], total=signed["total"], sample=[],
                                warnings=signed["warnings"], target=signed["target"])


@require_GET
def replay_action(request: HttpRequest, cluster: str, topic: str) -> HttpResponse:
    """The topic page's replay action: a link for who may replay on the cluster, otherwise what they lack."""
    cluster_row = _get_cluster(request, cluster)
    may = access.allowed(request.user, "replay", cluster_row)
    return render(request, "groups/replay.html#action", {
        "cluster": cluster_row, "topic": topic, "may_replay": may,
        "refusal": None if may else access.refusal("replay", cluster_row)})


@require_GET
def replay_form(request: HttpRequest, cluster: str, topic: str) -> HttpResponse:
    cluster_row = _get_cluster(request, cluster, "replay")
    context = {"cluster": cluster_row, "topic": topic}
    try:
        form = _form(client_for(cluster_row), topic)
    except ConsoleError as error:
        return render(request, "groups/replay.html", {**context, "error": error.message}, status=503)
    if topic not in form.topics:
        error = f"Topic '{topic}' does not exist on cluster '{cluster_row.name}': there is nothing to replay from it."
        return render(request, "groups/replay.html", {**context, "error": error}, status=404)
    return render(request, "groups/replay.html", {**context, "form": form})


@require_POST
def replay_preview(request: HttpRequest, cluster: str, topic: str) -> HttpResponse:
    cluster_row = _get_cluster(request, cluster, "replay")
    context = {"cluster": cluster_row, "topic": topic}
    try:
        client = client_for(cluster_row)
        form = _form(client, topic, request.POST)
        valid = form.is_valid()
    except ConsoleError as error:
        return _replay_page(request, {**context, "error": error.message}, 503)
    if not valid:
        return _replay_page(request, {**context, "form": form, "error": error_text(form)}, 400)
    return _preview_page(request, cluster_row, client, form)


@require_POST
def replay_confirm(request: HttpRequest, cluster: str, topic: str) -> HttpResponse:
    cluster_row = _get_cluster(request, cluster, "replay")
    signed = _load_token(request.POST.get("token", ""), cluster_row, topic)
    context = {"cluster": cluster_row, "topic": topic}
    if signed is None:
        try:
            context["form"] = _form(client_for(cluster_row), topic)
        except ConsoleError:
            pass  # the message below matters more than the form; the link leads back to it
        return render(request, "groups/replay.html", {**context, "error": EXPIRED}, status=400)
    wanted, preview = replay_plans.ReplayRequest.from_json(signed["request"]), _signed_preview(signed)
    confirm = ConfirmForm(request.POST)
    if not confirm.is_valid():
        try:
            topics = client_for(cluster_row).topic_names()
        except ConsoleError:
            topics = [wanted.target_topic]
        return render(request, "groups/replay.html", {
            **context, **_shown(preview), "form": ReplayForm.for_request(wanted, topics=topics), "wanted": wanted,
            "previewed": True,
            "zone_assumed": signed["zone_assumed"], "confirm": confirm,
        }, status=400)
    operation = replay.request_replay(
        cluster=cluster_row, request=wanted, preview=preview, reason=confirm.cleaned_data["reason"],
        actor=request.user.username, requester=request.user, via="web", source_ip=request.META.get("REMOTE_ADDR"),
    )
    return redirect("operation_page", pk=operation.pk)


@require_POST
def cancel_replay(request: HttpRequest, pk: int) -> HttpResponse:
    operation = get_operation(request, pk)
    if operation.kind != Operation.Kind.REPLAY:
        return render_operation(request, operation, status=400, decision_error=(
            f"Operation #{operation.pk} is not a replay: only a replay can be stopped while it runs."))
    try:
        # Who may cancel is cancel_replay's rule; a refusal is recorded there and raised as PermissionDenied.
        replay.cancel_replay(operation, request.user, source_ip=request.META.get("REMOTE_ADDR"))
    except replay_plans.ReplayError as error:
        return render_operation(request, operation, status=409, decision_error=str(error))
    return redirect("operation_page", pk=operation.pk)
