"""Filters every page shares, so a figure reads the same wherever it is shown."""

from datetime import UTC, datetime

from django import template
from django.conf import settings
from django.core.paginator import Page
from django.utils.html import format_html
from django.utils.safestring import SafeString

from groups import estimates
from groups.chart_scales import duration_text
from groups.forecasts import margin_beyond, margin_lost
from groups.group_links import group_url
from groups.snapshot.rows import PartitionDetail, decode_group_detail
from groups.status import Status
from groups.streams_reading import tasks_text
from groups.views.common import past_last_page

register = template.Library()

# How each lag-in-seconds figure was told (groups.estimates), as its mark's title says it.
LAG_SECONDS_METHODS = {
    estimates.CAUGHT_UP: "Caught up: nothing is left to read.",
    estimates.RECORD_TIMESTAMP: "From the unread record's own timestamp.",
    estimates.INTERPOLATED: "Interpolated between two collection rounds: within the time between them of the truth "
    "(one collection period; doubtful when the collector was not running between them).",
    estimates.EXTRAPOLATED: "Extrapolated at the log's append rate next to the offset: an estimate, until the "
    "collector reads the record's own time.",
    estimates.LOWER_BOUND: "At least this: the record at the committed offset is gone (compacted or deleted), "
    "so a later record dates it.",
    estimates.UNKNOWN: "Cannot be told yet: the collector has not seen enough of this log.",
}
# Why a doubtful figure is doubtful, where a page can tell. Pages that have the figure's partition tell
# for sure; lists (they leave the snapshot's per-partition detail unread) say what may be the cause.
IN_FLIGHT = (
    "Doubtful: the share group's start offset is behind its position, so records between the two may still be in "
    "flight (delivered but not yet acknowledged), and they are older: the age is a lower bound."
)
MAY_BE_IN_FLIGHT = (
    "Doubtful: where a share group's start offset is behind its position, records between the two may still be in "
    "flight (delivered but not yet acknowledged), and they are older: the age is a lower bound."
)
DELETED_ESTIMATE = (
    "The record at the committed offset was deleted by retention: its age is estimated from the log ({method}) "
    "and will not be corrected, as no record is left to read its time from."
)
DELETED = "Doubtful: the consumer resumes where auto.offset.reset says, not at this age."
MAY_BE_DELETED = (
    "Doubtful: retention deleted records this group had not read: if this figure's record is one of them, it will "
    "not be corrected. The group's page tells."
)
HINT = "Doubtful: treat it as a hint."
# A group's figure is its worst partition's; doubtful too when other partitions' figures are unknown.
UNKNOWN_PARTITIONS = "Doubtful: some of the group's partitions have no figure yet, and theirs may be larger."
ESTIMATED = (estimates.INTERPOLATED, estimates.EXTRAPOLATED, estimates.LOWER_BOUND)
# The colour family of each lag status: what needs a look (warn) and what needs action (bad).
SEVERITY: dict[str, str] = {
    Status.OK: "ok",
    Status.RESET: "info",
    Status.WARN: "warn",
    Status.ERR: "bad",
    Status.STOP: "bad",
    Status.STALL: "bad",
    Status.REWIND: "bad",
    Status.AHEAD: "bad",
    Status.NEW: "neutral",  # not judged yet: neither fine nor a problem
}


register.simple_tag(group_url, name="group_url")


@register.inclusion_tag("groups/_past_last_page.html", name="past_last_page")
def past_last_page_notice(page: Page, asked: int, one: str, many: str) -> dict:
    """`{% past_last_page page asked "event" "events" %}`: the notice above a list that shows its last page
    because the page asked for lies past its end."""
    return {"notice": past_last_page(page, asked, one, many)}


@register.filter
def count(value: int | None, sign: str = "") -> str:
    """A count (lag, records, events, members) with thousands separated by commas: '1,425'; '—' for None.

    `count:"+"` signs a change: '+1,075', '-30', '0'. Offsets are not counts: they are positions that
    operators copy into commands and tools, so pages print them as plain digits.
    """
    if value is None:
        return "—"
    if sign == "+" and value:
        return f"{int(value):+,}"
    return f"{int(value):,}"


@register.filter
def age(milliseconds: float | None) -> str:
    """A lag in time as an operator reads it: '0s', '45s', '3m 12s', '2h 05m', '3d 4h'."""
    if milliseconds is None:
        return "—"
    seconds = int(milliseconds // 1000)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"


@register.filter
def duration(seconds: float | None) -> str:
    """`age` for a figure in seconds."""
    return "—" if seconds is None else age(seconds * 1000)


@register.filter
def severity(status: str) -> str:
    """'ok', 'info', 'warn' or 'bad' for a lag status; '' for none."""
    return SEVERITY.get(status, "") if status else ""


@register.simple_tag
def lag_seconds(
    seconds: float | None,
    method: str,
    doubtful: bool,
    period: float | None = None,
    *,
    group=None,
    partition: PartitionDetail | None = None,
) -> SafeString:
    """A lag in seconds with how it was told: the method in the title, a '?' mark when it is doubtful,
    and '< period' for an interpolated figure below one collection period (its precision).

    `group` (a SnapshotGroup) and `partition` (the figure's partition detail, see figure_partition) let
    the title say why a doubtful figure is doubtful (lag_seconds_title)."""
    if seconds is None:
        title = LAG_SECONDS_METHODS.get(method, method or "Not evaluated yet.")
        return format_html('<span class="lag-s muted" title="{}">—</span>', title)
    if method == estimates.INTERPOLATED and period and 0 < seconds < period:
        text = f"< {duration(period)}"
    else:
        text = ("≥ " if method == estimates.LOWER_BOUND else "") + duration(seconds)
    title = lag_seconds_title(method, doubtful, group=group, partition=partition)
    if doubtful:
        return format_html(
            '<span class="lag-s doubtful" title="{}">{}<sup class="mark" aria-label="doubtful">?</sup></span>',
            title,
            text,
        )
    return format_html('<span class="lag-s" title="{}">{}</span>', title, text)


def lag_seconds_title(method: str, doubtful: bool, *, group=None, partition: PartitionDetail | None = None) -> str:
    """How a figure was told and, when doubtful, why: a share group's records still in flight below its
    position (its row's committed offset is the broker's start offset), or a committed offset below the log
    start, whose deleted record no read will date (groups.snapshot.dating)."""
    title = LAG_SECONDS_METHODS.get(method, method or "Not evaluated yet.")
    if not doubtful:
        return title
    share = group is not None and group.type == "share"
    if partition is not None:
        if not partition.lag_seconds_doubtful:
            return f"{title} {UNKNOWN_PARTITIONS}"
        committed, log_end, lag = partition.committed, partition.log_end, partition.lag
        if share and committed is not None and log_end is not None and lag is not None and committed < log_end - lag:
            return f"{title} {IN_FLIGHT}"
        if not share and committed is not None and partition.log_start is not None and committed < partition.log_start:
            if method in ESTIMATED:
                title = DELETED_ESTIMATE.format(method=method)
            return f"{title} {DELETED}"
        return f"{title} {HINT}"
    if share:
        return f"{title} {MAY_BE_IN_FLIGHT}"
    lost = group is not None and margin_lost(group.retention_margin_seconds, group.retention_note)
    return f"{title} {MAY_BE_DELETED if lost and method in ESTIMATED else HINT}"


@register.filter
def figure_partition(row) -> PartitionDetail | None:
    """The partition a group's doubtful lag in seconds is of (its worst, as groups.estimates.group_lag_seconds
    picks it), from the row's detail; None for a figure nothing doubts, whose detail is left unread."""
    if row is None or not row.lag_seconds_doubtful:
        return None
    details = {(p.topic, p.partition): p for p in decode_group_detail(row.detail)}
    worst = estimates.group_lag_seconds(
        {
            key: estimates.LagSeconds(p.lag_seconds, p.lag_seconds_method, p.lag_seconds_doubtful, "")
            for key, p in details.items()
        }
    )
    return details.get(worst.partition) if worst.partition else None


@register.filter
def margin_severity(seconds: float | None) -> str:
    """'bad' once retention deleted unread records, 'warn' under RETENTION_WARNING_SECONDS, else ''."""
    if not isinstance(seconds, int | float):
        return ""
    if seconds <= 0:
        return "bad"
    return "warn" if seconds < settings.RETENTION_WARNING_SECONDS else ""


@register.filter
def epoch_ms(milliseconds: int | None) -> datetime | None:
    """Epoch milliseconds (what Kafka and the collector keep) as a time `date` can format."""
    return None if milliseconds is None else datetime.fromtimestamp(milliseconds / 1000, tz=UTC)


@register.filter
def margin(seconds: float | None, lost: str = "") -> str:
    """A retention margin: how long until retention deletes unread records, or that it has.

    `lost`: the margin's state ("lost") or its note; at 0 s records are gone only when it says so, else the
    oldest unread record is deletable now and still readable until the broker's next retention check. A state
    "beyond" or a note saying so (groups.forecasts.BEYOND_NOTE) holds the topic's retention.ms as its seconds."""
    if seconds is None:
        return "—"
    if seconds > 0 and margin_beyond(lost):  # its seconds are the topic's retention.ms
        return f"more than the topic's retention ({duration_text(seconds)})"
    if seconds > 0:
        return duration(seconds)
    return "records lost" if margin_lost(seconds, lost) else "deletable now"


@register.filter
def streams_tasks(tasks) -> str:
    """A streams member's tasks as kafka-streams-groups prints them: "0:[0,1,2]; 1:[0,1,2]"."""
    return tasks_text(tasks)
