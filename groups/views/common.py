"""What every page family shares: the cluster from the URL with its access check, htmx fragments,
query parameters, the signed preview a confirmation carries, and the recent operations of a group."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from functools import partial
from typing import cast

from django.core import signing
from django.core.paginator import Page
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from groups import access
from groups.kafka import ConsoleError
from groups.middleware import HtmxHttpRequest
from groups.models import Cluster, Operation
from groups.planning.deletions import DeletionPlan
from groups.planning.resets import ResetPlan

RECENT_OPERATIONS = 10
# How long a preview may be confirmed: long enough to read a plan and write a reason, short enough
# that offsets and ranges rarely change meanwhile (the worker refuses a drifted plan anyway).
PREVIEW_MAX_AGE = 900
PREVIEW_EXPIRED = "The preview expired (or was altered), so nothing was requested: preview again."


class BadQuery(Exception):
    """A query parameter the page cannot use; the message says what it takes."""


def get_cluster(
    request: HttpRequest, name: str, action: str = "view", group_id: str | None = None, *, topic: str = ""
) -> Cluster:
    """The cluster named in the URL, if the user may do `action` there (on `group_id`, when given;
    a refusal about `topic` names it)."""
    try:
        cluster = Cluster.objects.get(name=name)
    except Cluster.DoesNotExist:
        raise Http404(f"Cluster '{name}' is not registered in this console.") from None
    if group_id is not None and "\x00" in group_id:
        # librdkafka passes ids as C strings: it would read the text before the NUL as the id.
        raise Http404(
            "This console cannot read a group whose id holds a NUL character (its Kafka client ends ids "
            "there); use Kafka's own tools for it."
        )
    access.require(request, action, cluster, group_id, topic=topic)
    return cluster


def visible(request: HttpRequest, cluster: Cluster) -> Callable[[list[str]], list[str]]:
    """The filter that keeps, of some group ids, those the user may view on `cluster`."""
    return partial(access.visible_groups, request.user, cluster)


def recent_operations(cluster: Cluster, group_id: str) -> QuerySet[Operation]:
    return Operation.objects.filter(cluster=cluster, group_id=group_id).select_related("requester")[:RECENT_OPERATIONS]


def undo_target(cluster: Cluster, group_id: str, value: str, kinds: Sequence[str]) -> Operation:
    """The operation `?undo=` names, of one of `kinds` on this group; a 404 in words for any other value."""
    found = (
        Operation.objects.filter(cluster=cluster, group_id=group_id, kind__in=kinds, pk=value).first()
        if value.isascii() and value.isdecimal()
        else None
    )
    if found is None:
        raise Http404(
            f"'{value}' names no reset of group '{group_id}' on cluster '{cluster.name}' to undo: open the "
            "operation to undo from the group's page (Recent operations) and use its Undo button."
        )
    return found


def is_partial(request: HttpRequest) -> bool:
    """Whether htmx asks for a page's live fragment rather than the whole page."""
    htmx = cast(HtmxHttpRequest, request).htmx
    return bool(htmx) and not htmx.history_restore_request


def htmx_target(request: HttpRequest) -> str | None:
    """The id of the element an htmx request will swap (its HX-Target), when it is one."""
    return cast(HtmxHttpRequest, request).htmx.target if is_partial(request) else None


def render_page(request: HttpRequest, template: str, fragment: str, context: dict, status: int = 200) -> HttpResponse:
    """The full page, or only its live fragment when htmx asks for a refresh.

    A refresh that hits an error still answers 200 so htmx swaps the error message in
    instead of silently keeping stale figures on screen.
    """
    if is_partial(request):
        return render(request, f"{template}#{fragment}", context, status=200)
    return render(request, template, context, status=status)


def error_status(error: ConsoleError) -> int:
    return 404 if error.not_found else 503


# The largest page number the API takes: a billion pages of its largest size is far past any list, and the
# offset of a page beyond it would overflow the database's 64-bit integers (a 500 instead of an answer).
MAX_PAGE = 1_000_000_000


def query_page(request: HttpRequest, *, api: bool = False) -> int:
    """`page`, from 1. A page past a list's end is its last page on the HTML pages (Paginator.get_page),
    so any larger number reads as MAX_PAGE there; the API answers such a page empty, and refuses a number
    above MAX_PAGE rather than ask the database for an offset it cannot hold."""
    raw = request.GET.get("page", "1")
    # isdecimal, not isdigit: '²' is a digit that int() refuses. Only zeros: page 0.
    valid = raw.isascii() and raw.isdecimal() and raw.strip("0") != ""
    # Measured as text first: int() refuses more than 4,300 digits.
    number = int(raw) if valid and len(raw.lstrip("0")) <= len(str(MAX_PAGE)) else MAX_PAGE + 1
    if not valid or api and number > MAX_PAGE:
        allowed = f"from 1 to {MAX_PAGE}" if api else "from 1 up"
        raise BadQuery(f"page must be a whole number {allowed}, not '{raw}'.")
    return min(number, MAX_PAGE)


def past_last_page(page: Page, asked: int, one: str, many: str) -> str:
    """What an HTML list says when the page `asked` for lies past its end and Paginator.get_page gave its last
    instead: 'There is no page 99999: 120 events make 3 pages; this is page 3.' ("event", "events" being `one`
    and `many`). Empty for a page that exists."""
    if asked <= page.number:
        return ""
    # query_page reads any larger number as MAX_PAGE: it is not the number asked for.
    missing = f"There is no page {asked}" if asked < MAX_PAGE else "There is no such page"
    total, pages = page.paginator.count, page.paginator.num_pages
    if not total:
        return f"{missing}: there are no {many} to list, so this is page 1."
    counted = f"{total:,} {one} makes" if total == 1 else f"{total:,} {many} make"
    return f"{missing}: {counted} {pages:,} page{'' if pages == 1 else 's'}; this is page {page.number}."


def bad_request(request: HttpRequest, error: BadQuery) -> HttpResponse:
    return render(request, "groups/bad_request.html", {"reason": str(error)}, status=400)


def sign_preview(salt: str, payload: dict) -> str:
    """A token carrying what a preview showed, so confirming it runs exactly that and nothing else. Its
    nonce (`preview_nonce`) makes each preview distinct, so that confirming one twice requests once."""
    return signing.dumps({**payload, "nonce": secrets.token_hex(16)}, salt=salt, compress=True)


def preview_nonce(signed: dict) -> str:
    """The nonce of a token `load_preview` read (empty for one signed before tokens carried one)."""
    return str(signed.get("nonce", ""))


def load_preview(token: str, salt: str, **subject: str) -> dict | None:
    """What `sign_preview` signed, if it is genuine, younger than PREVIEW_MAX_AGE and about `subject`
    (the cluster and the group or topic of the page confirming it); otherwise None."""
    try:
        signed = signing.loads(token, salt=salt, max_age=PREVIEW_MAX_AGE)
    except signing.BadSignature:
        return None
    # A genuine token for another group or topic must not change this one.
    if any(signed.get(name) != value for name, value in subject.items()):
        return None
    return signed


def with_outcome(plan: ResetPlan | DeletionPlan, outcome: Sequence[dict] = ()) -> list[tuple]:
    """The plan's rows (a reset's or a deletion's), each with what the worker found for it (None before it ran)."""
    results = {(o["topic"], o["partition"]): o for o in outcome}
    return [(row, results.get((row.topic, row.partition))) for row in plan.rows]
