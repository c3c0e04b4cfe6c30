"""The record browser of a topic: a form in the query string, the records it reads, and links that page on."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from groups import audit, browse
from groups.forms_records import FIELDS, RecordsForm
from groups.kafka import ConsoleError, client_for
from groups.views.common import error_status, get_cluster

TEMPLATE = "groups/records.html"


def _link(query: QueryDict, **changes: str | None) -> str:
    """The query string of the form's fields with `changes` made (None removes one), in the form's order, empty
    ones left out; formats per record are dropped."""
    fields = {name: changes[name] if name in changes else query.get(name) for name in FIELDS if name != "show"}
    return "?" + urlencode({name: value for name, value in fields.items() if value})


def _links(query: QueryDict, result: browse.BrowseResult) -> dict:
    """Paging links that keep the position, and a link to this very read for each format."""
    request = result.request
    older = _link(query, seek="offset", offset=str(result.first_offset), direction="backward", time=None)
    newer = _link(query, seek="offset", offset=str(result.next_offset), direction="forward", time=None)
    # Switching formats reads the same offsets again, wherever the log end has moved meanwhile.
    same = {"seek": "offset", "offset": str(result.origin), "direction": request.direction, "time": None}
    pinned = _link(query, **same)
    return {
        "older": older,
        "newer": newer,
        "pinned": pinned,
        "formats": [(name, label, _link(query, **same, format=name)) for name, label in browse.FORMATS.items()],
    }


@require_GET
def records_page(request: HttpRequest, cluster: str, topic: str) -> HttpResponse:
    cluster_row = get_cluster(request, cluster, "read_records", topic=topic)
    limits = {"min": browse.MIN_COUNT, "max": browse.MAX_COUNT, "scan": browse.SCAN_LIMIT}
    context: dict = {"cluster": cluster_row, "topic": topic, "limits": limits}
    client = client_for(cluster_row)
    try:
        partitions = browse.partition_logs(client, topic)
    except ConsoleError as error:
        return render(request, TEMPLATE, {**context, "error": error}, status=error_status(error))
    form = RecordsForm.from_query(request.GET, partitions=partitions)
    context.update(form=form, partitions=partitions)
    if not form.is_bound:
        return render(request, TEMPLATE, context)
    if not form.is_valid():
        return render(request, TEMPLATE, context, status=400)
    try:
        result = browse.read(
            client,
            topic,
            form.browse_request(),
            partitions[form.cleaned_data["partition"]],
            actor=request.user.get_username(),
            cluster=cluster_row.name,
            source_ip=audit.source_ip(request),
        )
    except ConsoleError as error:
        return render(request, TEMPLATE, {**context, "error": error}, status=error_status(error))
    page_format = form.cleaned_data["format"]
    shown = [
        browse.show_record(record, form.record_formats.get(record.offset, page_format)) for record in result.records
    ]
    return render(
        request,
        TEMPLATE,
        {
            **context,
            "result": result,
            "records": shown,
            "page_format": page_format,
            "zone_assumed": form.zone_assumed,
            "links": _links(request.GET, result),
        },
    )
