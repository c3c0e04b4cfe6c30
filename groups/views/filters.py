"""The query parameters of the snapshot's lists (pages and API): read, checked, and written back into links.

A value the list cannot use raises BadQuery with what it takes, so the page answers 400 with the
reason instead of guessing.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields, replace

from django.http import HttpRequest, QueryDict
from django.utils.http import urlencode

from groups.kafka import STATE_NAMES
from groups.kafka.consumer_groups import KIP848_STATES
from groups.kafka.streams import STREAMS_STATES
from groups.snapshot.queries import GROUP_SORTS, GROUP_STATUSES, TOPIC_GROUP_FIGURES, TOPIC_SORTS
from groups.views.common import BadQuery, query_page

PAGE_SIZES = (25, 50, 100, 500)
DEFAULT_PAGE_SIZE = 50
API_MAX_PER_PAGE = 1000
MAX_OFFSET = 2**63 - 1  # Kafka's offsets are 64-bit: no lag is larger
GROUP_STATES = tuple(sorted({*STATE_NAMES.values(), *KIP848_STATES, *STREAMS_STATES}))
# The group types of Kafka 4: classic and KIP-848 consumer groups, share (KIP-932) and streams (KIP-1071) groups.
GROUP_TYPES = ("classic", "consumer", "share", "streams")
STATUS_VALUES = tuple(s.value for s in GROUP_STATUSES)


def _choice(params: QueryDict, name: str, choices: tuple[str, ...]) -> str:
    value = params.get(name, "").strip()
    if value and value not in choices:
        raise BadQuery(f"{name} must be one of {', '.join(choices)}, not '{value}'.")
    return value


def _minimum(params: QueryDict, name: str) -> int | None:
    raw = params.get(name, "").strip()
    if not raw:
        return None
    # Measured as text before int(), which refuses more than 4,300 digits; a larger number than Kafka's
    # largest offset would overflow the database's integers.
    if not (raw.isascii() and raw.isdecimal()) or len(raw.lstrip("0")) > len(str(MAX_OFFSET)) or int(raw) > MAX_OFFSET:
        raise BadQuery(f"{name} must be a whole number from 0 to {MAX_OFFSET}, not '{raw}'.")
    return int(raw)


def _minimum_seconds(params: QueryDict, name: str) -> float | None:
    raw = params.get(name, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise BadQuery(f"{name} must be a number of seconds from 0 up, not '{raw}'.") from None
    if value < 0 or not math.isfinite(value):
        raise BadQuery(f"{name} must be a number of seconds from 0 up, not '{raw}'.")
    return value


def _sort(params: QueryDict, sorts: dict, default: str) -> str:
    raw = params.get("sort", "").strip() or default
    if raw.removeprefix("-") not in sorts:
        raise BadQuery(f"sort must be one of {', '.join(sorts)} (prefix '-' to reverse), not '{raw}'.")
    return raw


def per_page(params: QueryDict, *, api: bool) -> int:
    """How many rows a page of a list holds (the API allows more than the pages offer)."""
    raw = params.get("per_page", "").strip()
    if not raw:
        return DEFAULT_PAGE_SIZE
    if api:
        # Measured as text before int(), which refuses more than 4,300 digits.
        short = raw.isascii() and raw.isdecimal() and len(raw.lstrip("0")) <= len(str(API_MAX_PER_PAGE))
        size = int(raw) if short else 0
        if not 1 <= size <= API_MAX_PER_PAGE:
            raise BadQuery(f"per_page must be a whole number from 1 to {API_MAX_PER_PAGE}, not '{raw}'.")
        return size
    if raw not in {str(size) for size in PAGE_SIZES}:
        raise BadQuery(f"per_page must be one of {', '.join(map(str, PAGE_SIZES))}, not '{raw}'.")
    return int(raw)


def _flag(params: QueryDict, name: str) -> bool:
    raw = params.get(name, "").strip()
    if raw not in ("", "0", "1"):
        raise BadQuery(f"{name} must be 1 (show) or 0 (hide), not '{raw}'.")
    return raw == "1"


class _Query:
    """Writes itself back into query strings: only the values that differ from the defaults."""

    DEFAULT_SORT = ""

    def _values(self) -> dict[str, str]:
        out = {}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if f.name == "sort" and value == self.DEFAULT_SORT or f.name == "page" and value == 1:
                continue
            if f.name == "per_page" and value == DEFAULT_PAGE_SIZE:
                continue
            if value is None or value == "" or value is False:
                continue
            out[f.name] = "1" if value is True else str(value)
        return out

    def params(self, **changes) -> str:
        """This query as a URL's query string, with `changes` applied (a new filter resets the page)."""
        return urlencode(replace(self, **changes)._values())  # type: ignore[type-var]

    @property
    def base_params(self) -> str:
        """The query string without the page: what the pager's links add their page to."""
        return self.params(page=1)

    def columns(self, spec: tuple[tuple[str, str, bool, bool], ...]) -> list[Column]:
        """Sortable headers from (sort key, label, numeric, descending first): each links to its sort,
        reversed when it is the current one; on a first click, the worst comes first (the largest lag,
        the smallest retention margin)."""
        current: str = self.sort  # type: ignore[attr-defined]
        out = []
        for key, label, numeric, descending_first in spec:
            if current == key:
                direction, target = "ascending", f"-{key}"
            elif current == f"-{key}":
                direction, target = "descending", key
            else:
                direction, target = "", f"-{key}" if descending_first else key
            out.append(Column(key, label, numeric, "?" + self.params(sort=target, page=1), direction))
        return out


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    numeric: bool
    href: str
    direction: str  # "ascending", "descending" or "" (the list is not sorted by it): the header's aria-sort

    @property
    def arrow(self) -> str:
        return {"ascending": "▲", "descending": "▼"}.get(self.direction, "")


@dataclass(frozen=True)
class GroupQuery(_Query):
    state: str = ""
    status: str = ""
    type: str = ""
    min_lag: int | None = None
    min_lag_seconds: float | None = None
    q: str = ""
    checkpoints: bool = False
    sort: str = "-lag"
    page: int = 1
    per_page: int = DEFAULT_PAGE_SIZE

    DEFAULT_SORT = "-lag"

    def rows_filters(self) -> dict:
        """The keyword arguments of groups.snapshot.queries.group_rows."""
        return {
            "state": self.state,
            "status": self.status,
            "type": self.type,
            "min_lag": self.min_lag,
            "min_lag_seconds": self.min_lag_seconds,
            "search": self.q,
            "include_replay": self.checkpoints,
            "sort": self.sort,
        }

    @property
    def filtered(self) -> bool:
        return any(
            (self.state, self.status, self.type, self.min_lag is not None, self.min_lag_seconds is not None, self.q)
        )


def group_query(request: HttpRequest, *, api: bool = False) -> GroupQuery:
    """The group list's parameters; BadQuery names the first one it cannot use."""
    params = request.GET
    return GroupQuery(
        state=_choice(params, "state", GROUP_STATES),
        status=_choice(params, "status", STATUS_VALUES),
        type=_choice(params, "type", GROUP_TYPES),
        min_lag=_minimum(params, "min_lag"),
        min_lag_seconds=_minimum_seconds(params, "min_lag_seconds"),
        q=params.get("q", "").strip(),
        checkpoints=_flag(params, "checkpoints"),
        sort=_sort(params, GROUP_SORTS, GroupQuery.DEFAULT_SORT),
        page=query_page(request, api=api),
        per_page=per_page(params, api=api),
    )


@dataclass(frozen=True)
class TopicQuery(_Query):
    q: str = ""
    internal: bool = False
    sort: str = "topic"
    page: int = 1
    per_page: int = DEFAULT_PAGE_SIZE

    DEFAULT_SORT = "topic"


def topic_query(request: HttpRequest, *, api: bool = False, scoped: bool = False) -> TopicQuery:
    """The topic list's parameters. A reader who may view only some groups (`scoped`) cannot sort by
    figures summed over every group reading a topic: the order would tell what the page hides."""
    query = TopicQuery(
        q=request.GET.get("q", "").strip(),
        internal=_flag(request.GET, "internal"),
        sort=_sort(request.GET, TOPIC_SORTS, TopicQuery.DEFAULT_SORT),
        page=query_page(request, api=api),
        per_page=per_page(request.GET, api=api),
    )
    key = query.sort.removeprefix("-")
    if scoped and key in TOPIC_GROUP_FIGURES:
        raise BadQuery(
            f"sort by {key} needs the view right on every group of the cluster; sort by topic, partitions or messages."
        )
    return query


_DURATION = re.compile(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?", re.IGNORECASE)
MAX_SINCE_MS = 30 * 24 * 3_600_000  # the longest history kept (roll-ups, 30 days)


def since_ms(request: HttpRequest, default: str = "PT6H") -> int:
    """`since`, an ISO 8601 duration back from now (PT6H, P7D, P1DT12H), in milliseconds."""
    raw = request.GET.get("since", "").strip() or default
    match = _DURATION.fullmatch(raw)
    if match is None or not any(match.groups()) or raw.upper().endswith("T"):
        raise BadQuery(
            "since must be an ISO 8601 duration in days, hours, minutes or seconds (not years, months or weeks, "
            f"whose length varies), such as PT1H, PT6H, P1D or P30D, not '{raw}'."
        )
    # A part of more than 9 digits is past P30D anyway (and int() refuses more than 4,300).
    days, hours, minutes, seconds = (int(part or 0) if len(part or "") <= 9 else 10**9 for part in match.groups())
    value = ((days * 24 + hours) * 60 + minutes) * 60_000 + seconds * 1000
    if not 0 < value <= MAX_SINCE_MS:
        raise BadQuery(f"since must be more than nothing and at most P30D (the history kept), not '{raw}'.")
    return value
