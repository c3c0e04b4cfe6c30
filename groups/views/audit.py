"""The audit review: search the append-only event log, read one event, export what a search found.

Sign-ins, failed sign-ins and sign-outs are left out unless asked for (`signins=1`, or an action filter
naming one): they outnumber the changes a review is about. The exports hold what the list shows.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from groups import access, audit
from groups.models import AuditEvent, Cluster, Operation
from groups.views.common import BadQuery, query_page, render_page
from groups.views.describe import ACTION_NAMES, SIGN_IN_ACTIONS, EventLabel, event_label

EVENTS_PER_PAGE = 50
# Rows fetched per database round trip and written per chunk of an export: memory stays flat
# however many events match.
EXPORT_CHUNK = 2000
# How an event ended: mostly the operation's status after it ("awaiting_approval": "Awaiting approval"); a refusal
# of the access check is "denied", and a sign-in "refused" without a look at its password is a locked-out one.
OUTCOMES = {**dict(Operation.Status.choices), "denied": "Denied", "refused": "Locked out"}
FILTERS = ("actor", "cluster", "group", "action", "outcome", "from", "to", "q", "signins")
EXPORT_COLUMNS = (
    "id",
    "time",
    "actor",
    "source_ip",
    "action",
    "cluster",
    "group",
    "topics",
    "reason",
    "outcome",
    "error",
    "operation_id",
    "hash",
)


def filter_values(request: HttpRequest) -> dict[str, str]:
    return {name: request.GET.get(name, "").strip() for name in FILTERS}


def _day(values: dict[str, str], name: str) -> date | None:
    if not values[name]:
        return None
    try:
        return date.fromisoformat(values[name])
    except ValueError as error:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", values[name]):
            # Written right, but no such day: say which part is wrong ("month must be in 1..12").
            raise BadQuery(f"'{name}' is no date on the calendar: '{values[name]}' ({error}).") from None
        raise BadQuery(f"'{name}' must be a date written YYYY-MM-DD, not '{values[name]}'.") from None


def reviewable_events(request: HttpRequest) -> QuerySet[AuditEvent]:
    """The events this user may review: all of them, or those of the clusters and groups of their grants."""
    access.require(request, "audit")
    scope = access.audit_scope(request.user)
    return AuditEvent.objects.all() if scope is None else AuditEvent.objects.filter(scope)


@dataclass(frozen=True)
class Row:
    """One event as the pages show it: in words, with links to its cluster and group where they exist."""

    event: AuditEvent
    label: EventLabel
    outcome: str
    cluster_link: bool
    group_link: bool


def _rows(events) -> list[Row]:
    registered = set(Cluster.objects.values_list("name", flat=True))
    rows = []
    for event in events:
        known = event.cluster in registered
        # Alert rules, grants and their refusals record a group pattern, which has no page.
        group = bool(event.group_id) and not any(char in event.group_id for char in "*?[")
        rows.append(Row(event, event_label(event), _named(OUTCOMES, event.outcome), known, known and group))
    return rows


def _named(names: dict[str, str], value: str) -> str:
    """A recorded value in words; one the console no longer records (an older version's) in its own."""
    return names.get(value, value.replace("_", " ").capitalize())


def _choices(names: dict[str, str], recorded: QuerySet) -> list[tuple[str, str]]:
    """(value, words) for the filter's choices, by their words: every value the console records, and any other
    that reviewable events hold."""
    values = {*names, *recorded}
    return sorted(((value, _named(names, value)) for value in values), key=lambda choice: choice[1].lower())


def _known(name: str, names: dict[str, str], reviewable: QuerySet[AuditEvent], value: str) -> None:
    """Refuse a filter value no event could have: an unknown one would silently match nothing."""
    if not value or value in names or reviewable.filter(**{name: value}).exists():
        return
    listed = "; ".join(f"{words} ({key})" for key, words in sorted(names.items(), key=lambda item: item[1].lower()))
    raise BadQuery(f"{name} '{value}' is not one the audit log records. Choose one of these: {listed}.")


def _shows_sign_ins(values: dict[str, str]) -> bool:
    return values["signins"] == "1" or values["action"] in SIGN_IN_ACTIONS


def _found(request: HttpRequest, values: dict[str, str]) -> QuerySet[AuditEvent]:
    """The reviewable events the filters match, sign-ins included."""
    reviewable = reviewable_events(request)
    _known("action", ACTION_NAMES, reviewable, values["action"])
    _known("outcome", OUTCOMES, reviewable, values["outcome"])
    since, until = _day(values, "from"), _day(values, "to")
    if since and until and since > until:
        raise BadQuery(f"'from' ({since}) is after 'to' ({until}), so no event could match.")
    events = audit.find_events(
        actor=values["actor"],
        cluster=values["cluster"],
        group=values["group"],
        action=values["action"],
        outcome=values["outcome"],
        since=since,
        until=until,
        text=values["q"],
    )
    return events & reviewable


def matching_events(request: HttpRequest, values: dict[str, str]) -> QuerySet[AuditEvent]:
    """The events the list and the exports show: those found, without sign-ins unless asked for."""
    found = _found(request, values)
    return found if _shows_sign_ins(values) else found.exclude(action__in=SIGN_IN_ACTIONS)


def _query(values: dict[str, str], **changes: str) -> str:
    return urlencode({name: value for name, value in {**values, **changes}.items() if value})


@require_GET
def audit_list(request: HttpRequest) -> HttpResponse:
    reviewable = reviewable_events(request)
    values = filter_values(request)
    context = {
        "filters": values,
        "query": _query(values),
        "shows_sign_ins": _shows_sign_ins(values),
        "show_sign_ins_query": _query(values, signins="1"),
        "hide_sign_ins_query": _query(values, signins=""),
        # Called by the template's form only: an htmx refresh renders only the results and never runs these.
        "actions": lambda: _choices(ACTION_NAMES, reviewable.order_by().values_list("action", flat=True).distinct()),
        "outcomes": lambda: _choices(
            OUTCOMES, reviewable.exclude(outcome="").order_by().values_list("outcome", flat=True).distinct()
        ),
    }
    try:
        found = _found(request, values)
        page_number = query_page(request)
    except BadQuery as error:
        return render_page(request, "groups/audit_list.html", "results", {**context, "error": str(error)}, 400)
    events = found if context["shows_sign_ins"] else found.exclude(action__in=SIGN_IN_ACTIONS)
    if not context["shows_sign_ins"]:
        context["hidden_sign_ins"] = found.filter(action__in=SIGN_IN_ACTIONS).count()
    page = Paginator(events.select_related("operation", "operation__replay"), EVENTS_PER_PAGE).get_page(page_number)
    return render_page(
        request,
        "groups/audit_list.html",
        "results",
        {**context, "page": page, "asked_page": page_number, "rows": _rows(page.object_list)},
    )


@require_GET
def audit_event(request: HttpRequest, pk: int) -> HttpResponse:
    event = reviewable_events(request).select_related("operation", "operation__replay").filter(pk=pk).first()
    if event is None:
        if AuditEvent.objects.filter(pk=pk).exists():
            raise Http404(f"Audit event #{pk} is outside the clusters and groups you may review.")
        raise Http404(f"Audit event #{pk} does not exist.")
    previous = AuditEvent.objects.filter(id__lt=pk).order_by("-id").only("id", "hash").first()
    following = AuditEvent.objects.filter(id__gt=pk).order_by("id").values_list("id", flat=True).first()
    return render(
        request,
        "groups/audit_event.html",
        {
            "event": event,
            "row": _rows([event])[0],
            "previous": previous,
            "following": following,
            "hash_matches": audit.hash_matches(event),
            "link_matches": event.prev_hash == (previous.hash if previous else audit.GENESIS),
        },
    )


# What a spreadsheet runs as a formula when a cell starts with it (OWASP's list): reasons, comments, errors
# and group ids are typed by people, and Kafka allows a group id such as "=HYPERLINK(...)".
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> object:
    """A CSV cell a spreadsheet shows as the text it is: a leading ' before a formula's first character.
    Numbers stay numbers; the JSON export keeps every value exactly as recorded."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _csv_chunks(events: QuerySet[AuditEvent]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    for count, event in enumerate(events.iterator(chunk_size=EXPORT_CHUNK), 1):
        row = audit.export_fields(event)
        # Topic names cannot hold ';' (Kafka allows letters, digits, '.', '_' and '-').
        row["topics"] = ";".join(row["topics"])
        writer.writerow(_cell(row[name]) for name in EXPORT_COLUMNS)
        if count % EXPORT_CHUNK == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _json_chunks(events: QuerySet[AuditEvent]) -> Iterator[str]:
    """A JSON array written piece by piece; each element is one event with its plan."""
    pieces = ["["]
    for count, event in enumerate(events.iterator(chunk_size=EXPORT_CHUNK)):
        pieces.append(("," if count else "") + "\n" + json.dumps({**audit.export_fields(event), "plan": event.plan}))
        if len(pieces) >= EXPORT_CHUNK:
            yield "".join(pieces)
            pieces = []
    pieces.append("\n]\n")
    yield "".join(pieces)


EXPORTS: dict[str, tuple[str, Callable[[QuerySet[AuditEvent]], Iterator[str]]]] = {
    "csv": ("text/csv; charset=utf-8", _csv_chunks),
    "json": ("application/json", _json_chunks),
}


def export_response(events: QuerySet[AuditEvent], extension: str) -> StreamingHttpResponse:
    """`events` written out as a download in the format of `extension` (a key of EXPORTS)."""
    content_type, chunks = EXPORTS[extension]
    response = StreamingHttpResponse(chunks(events), content_type=content_type)
    filename = f"audit-{timezone.now():%Y%m%dT%H%M%SZ}.{extension}"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _export(request: HttpRequest, extension: str) -> HttpResponseBase:
    try:
        events = matching_events(request, filter_values(request))
    except BadQuery as error:
        return HttpResponseBadRequest(str(error), content_type="text/plain; charset=utf-8")
    return export_response(events, extension)


@require_GET
def audit_export_csv(request: HttpRequest) -> HttpResponseBase:
    return _export(request, "csv")


@require_GET
def audit_export_json(request: HttpRequest) -> HttpResponseBase:
    return _export(request, "json")
