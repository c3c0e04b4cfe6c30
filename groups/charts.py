"""Lag charts drawn on the server as SVG, so every page shows history without JavaScript.

Pure: no I/O and no clock (callers pass the time range), so the same data gives the same bytes.
The only Django import marks finished markup safe for templates; every text and URL that comes
from data (group ids, operation kinds, links) is escaped here.

The data shapes, built by the page from the history store:

- `ChartSeries`: one quantity over time, drawn in a panel of its own.
  `points` are `(t_ms, value or None)` in time order; None is a gap (no round saw it), and a gap
  stays a gap: lines are never drawn across it. For a roll-up range, `points` carry each
  bucket's last value and `band` the bucket's `(t_ms, min, max)`, drawn as a shaded band.
- `ChartMarker`: an operation of this console on the group (reset, undo, replay) at `t_ms`,
  drawn as a vertical line that links to `url`, labelled above the panels in rows laid out by
  `groups.chart_labels` so that close operations never overwrite each other's labels.

Lag in messages and lag in seconds get two stacked panels on one time axis rather than two y axes
on one panel: two scales on one plot invite reading a crossing of lines as meaningful.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.safestring import SafeString, mark_safe

from groups.chart_labels import MarkerLabel, layout_marker_labels
from groups.chart_scales import (
    MESSAGES,
    UNITS,
    axis_label,
    exact_text,
    time_ticks,
    utc_text,
    value_ticks,
)

Point = tuple[int, float | None]
BandPoint = tuple[int, float | None, float | None]

LINE_COLOUR = "#2456c9"
GRID_COLOUR = "#d9dde5"
TEXT_COLOUR = "#5d6677"
MARKER_COLOURS = {"reset": "#b85c00", "undo": "#7a3db8", "replay": "#13806b"}
OTHER_MARKER_COLOUR = "#5d6677"


@dataclass(frozen=True)
class ChartSeries:
    """One quantity over time: `unit` is "messages" or "seconds" and decides how values read."""

    label: str
    unit: str
    points: Sequence[Point]
    band: Sequence[BandPoint] | None = None

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise ValueError(f"unit must be one of {', '.join(UNITS)}, not {self.unit!r}")


@dataclass(frozen=True)
class ChartMarker:
    """An operation of this console at `t_ms`; `url` is its page (a path or an http(s) URL)."""

    t_ms: int
    kind: str
    operation_id: int
    url: str

    @property
    def label(self) -> str:
        return f"{self.kind} #{self.operation_id}"

    @property
    def when(self) -> str:
        return utc_text(self.t_ms)

    @property
    def description(self) -> str:
        return f"{self.label} at {self.when}"

    @property
    def safe_url(self) -> str | None:
        """The link, unless it could run script (javascript:, data:...): then no link at all."""
        url = self.url.strip()
        if url.startswith("/") or url.lower().startswith(("http://", "https://")):
            return url
        return None


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _n(x: float) -> str:
    return f"{x:.1f}"


def _segments(points: Sequence[tuple], max_step_ms: int | None) -> list[list[tuple]]:
    """Runs of consecutive points with values: a None, or more than `max_step_ms` between two
    points, ends a run (the collector saw nothing there, so nothing is drawn)."""
    runs: list[list[tuple]] = []
    current: list[tuple] = []
    for point in points:
        if any(value is None for value in point[1:]):
            current = []
            continue
        if not current or (max_step_ms is not None and point[0] - current[-1][0] > max_step_ms):
            current = []
            runs.append(current)
        current.append(point)
    return runs


def _path(coords: Sequence[tuple[float, float]]) -> str:
    return "M" + " L".join(f"{_n(x)},{_n(y)}" for x, y in coords)


@dataclass(frozen=True)
class _Frame:
    """Maps data to pixels inside one plot area."""

    left: float
    top: float
    width: float
    height: float
    start_ms: int
    end_ms: int
    low: float
    high: float

    def x(self, t_ms: int) -> float:
        return self.left + (t_ms - self.start_ms) / max(1, self.end_ms - self.start_ms) * self.width

    def y(self, value: float) -> float:
        span = self.high - self.low
        return self.top + self.height - (value - self.low) / span * self.height if span else self.top + self.height


def _time_range(series: Sequence[ChartSeries], start_ms: int | None, end_ms: int | None) -> tuple[int, int]:
    times = [t for s in series for t, *_ in list(s.points) + list(s.band or ())]
    start = start_ms if start_ms is not None else min(times, default=0)
    end = end_ms if end_ms is not None else max(times, default=start + 1)
    return start, max(end, start + 1)


def _values(series: ChartSeries, start_ms: int, end_ms: int) -> list[float]:
    found = [v for t, v in series.points if v is not None and start_ms <= t <= end_ms]
    for t, low, high in series.band or ():
        if start_ms <= t <= end_ms:
            found.extend(v for v in (low, high) if v is not None)
    return found


def sparkline_svg(
    points: Sequence[Point],
    width: int = 120,
    height: int = 24,
    *,
    start_ms: int | None = None,
    end_ms: int | None = None,
    max_step_ms: int | None = None,
    unit: str = MESSAGES,
    label: str = "Lag over the last hour",
) -> SafeString:
    """A small line of one value over time (a group-list row's last hour of lag).

    Pass `start_ms`/`end_ms` (now - 1 h, now) so every row shares one time scale. An empty or
    all-None series draws a dashed "no data" rule. The aria-label summarises first, last and max.
    """
    series = ChartSeries(label=label, unit=unit, points=points)
    start, end = _time_range([series], start_ms, end_ms)
    known = [(t, v) for t, v in points if v is not None and start <= t <= end]
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="sparkline" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img"'
    )
    if not known:
        text = f"{label}: no data"
        return mark_safe(
            f'{head} aria-label="{_esc(text)}"><title>{_esc(text)}</title>'
            f'<line class="no-data" x1="2" y1="{_n(height / 2)}" x2="{width - 2}" y2="{_n(height / 2)}" '
            f'stroke="{GRID_COLOUR}" stroke-width="2" stroke-dasharray="3 3"/></svg>'
        )
    values = [v for _, v in known]
    first, last, peak = values[0], values[-1], max(values)
    # "last" is the last round's: a series that ends in None (a group whose offsets Kafka dropped) says so,
    # rather than naming the last value it ever had.
    final = [v for t, v in points if start <= t <= end][-1]
    last_text = exact_text(last, unit) if final is not None else "none (no figure in the last round)"
    text = f"{label}: first {exact_text(first, unit)}, last {last_text}, max {exact_text(peak, unit)}"
    frame = _Frame(1.5, 2, width - 3, height - 4, start, end, min(0, min(values)), max(peak, 0))
    parts = [f'{head} aria-label="{_esc(text)}"><title>{_esc(text)}</title>']
    for run in _segments([p for p in points if start <= p[0] <= end], max_step_ms):
        coords = [(frame.x(t), frame.y(v)) for t, v in run]
        if len(coords) == 1:
            parts.append(
                f'<circle class="dot" cx="{_n(coords[0][0])}" cy="{_n(coords[0][1])}" r="1.2" fill="{LINE_COLOUR}"/>'
            )
        else:
            parts.append(
                f'<path class="line" d="{_path(coords)}" fill="none" stroke="{LINE_COLOUR}" '
                f'stroke-width="1.2" stroke-linejoin="round"/>'
            )
    last_t = known[-1][0]
    parts.append(
        f'<circle class="last" cx="{_n(frame.x(last_t))}" cy="{_n(frame.y(last))}" r="1.8" fill="{LINE_COLOUR}"/></svg>'
    )
    return mark_safe("".join(parts))


LEFT, RIGHT, TOP, BOTTOM, PANEL_GAP = 64, 16, 36, 24, 30
FONT_SIZE = 11
MARKER_LABEL_Y = 12  # the baseline of the first row of marker labels
MARKER_LABEL_ROW_HEIGHT = 13  # each further row of labels pushes the panels down by this
TIME_TICK_SPACING = 90  # px per time label, so "Mar 15" labels never touch
VALUE_TICK_SPACING = 28


def history_chart_svg(
    series: Sequence[ChartSeries],
    markers: Sequence[ChartMarker] = (),
    *,
    width: int = 720,
    height: int = 320,
    title: str,
    start_ms: int | None = None,
    end_ms: int | None = None,
    max_step_ms: int | None = None,
) -> SafeString:
    """Stacked panels, one per series, on one UTC time axis, with the operations marked.

    `start_ms`/`end_ms` fix the time range (the chosen 1 h ... 30 d ending now); without them
    the data's own extent is used. `max_step_ms` breaks a line where two points are further
    apart than that (pass about 2.5x the collection period, or the roll-up bucket), so an
    outage of the collector shows as a gap even when the store holds no None for it.
    """
    start, end = _time_range(series, start_ms, end_ms)
    plot_width = width - LEFT - RIGHT
    shown = sorted((m for m in markers if start <= m.t_ms <= end), key=lambda m: (m.t_ms, m.operation_id))
    xs = [LEFT + (m.t_ms - start) / (end - start) * plot_width for m in shown]
    labels = layout_marker_labels(
        [(x, m.label) for x, m in zip(xs, shown, strict=True)], left=2, right=width - 2, font_size=FONT_SIZE
    )
    chart_top = TOP + max((label.row for label in labels), default=0) * MARKER_LABEL_ROW_HEIGHT
    count = max(1, len(series))
    panel_height = (height - chart_top - BOTTOM - PANEL_GAP * (count - 1)) / count
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="history-chart-svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="group" aria-label="{_esc(title)}" '
        f'font-family="system-ui, sans-serif" font-size="{FONT_SIZE}">',
        f"<title>{_esc(title)}</title>",
    ]
    ticks = time_ticks(start, end, max(2, int(plot_width // TIME_TICK_SPACING)))
    for index, one in enumerate(series):
        top = chart_top + index * (panel_height + PANEL_GAP)
        parts.extend(_panel(one, top, panel_height, plot_width, start, end, ticks, max_step_ms))
    axis_y = height - BOTTOM
    for t, text in ticks:
        x = LEFT + (t - start) / (end - start) * plot_width
        parts.append(
            f'<text class="tick-x" x="{_n(x)}" y="{axis_y + 15}" text-anchor="middle" '
            f'fill="{TEXT_COLOUR}" data-t="{t}">{_esc(text)}</text>'
        )
    parts.append(f'<text x="4" y="{axis_y + 15}" fill="{TEXT_COLOUR}">UTC</text>')
    parts.extend(_marker_layers(shown, labels, xs, axis_y))
    parts.append("</svg>")
    return mark_safe("".join(parts))


def _panel(
    series: ChartSeries,
    top: float,
    height: float,
    plot_width: float,
    start: int,
    end: int,
    time_ticks_: list[tuple[int, str]],
    max_step_ms: int | None,
) -> list[str]:
    values = _values(series, start, end)
    low = min([0.0, *values])
    high = max([0.0, *values])
    ticks = value_ticks(low, high, unit=series.unit, max_ticks=max(2, int(height // VALUE_TICK_SPACING)))
    frame = _Frame(LEFT, top, plot_width, height, start, end, ticks[0], ticks[-1])
    right = LEFT + plot_width
    parts = [
        f'<g class="panel" data-unit="{series.unit}">',
        f'<text class="panel-label" x="{LEFT}" y="{_n(top - 8)}" fill="#1d2330" font-size="12" '
        f'font-weight="600">{_esc(series.label)}</text>',
    ]
    for value in ticks:
        y = frame.y(value)
        parts.append(f'<line x1="{LEFT}" y1="{_n(y)}" x2="{_n(right)}" y2="{_n(y)}" stroke="{GRID_COLOUR}"/>')
        parts.append(
            f'<text class="tick-y" x="{LEFT - 6}" y="{_n(y + 4)}" text-anchor="end" fill="{TEXT_COLOUR}" '
            f'data-value="{value}">{_esc(axis_label(value, series.unit))}</text>'
        )
    for t, _ in time_ticks_:
        x = frame.x(t)
        parts.append(
            f'<line x1="{_n(x)}" y1="{_n(top)}" x2="{_n(x)}" y2="{_n(top + height)}" stroke="{GRID_COLOUR}" '
            f'stroke-dasharray="2 3"/>'
        )
    in_range = [p for p in series.points if start <= p[0] <= end]
    for run in _segments([b for b in series.band or () if start <= b[0] <= end], max_step_ms):
        upper = [(frame.x(t), frame.y(hi)) for t, _, hi in run]
        lower = [(frame.x(t), frame.y(lo)) for t, lo, _ in reversed(run)]
        parts.append(
            f'<path class="band" d="{_path(upper + lower)} Z" fill="{LINE_COLOUR}" fill-opacity="0.18" '
            f'stroke="{LINE_COLOUR}" stroke-opacity="0.25" stroke-width="0.5"/>'
        )
    for run in _segments(in_range, max_step_ms):
        coords = [(frame.x(t), frame.y(v)) for t, v in run]
        if len(coords) == 1:
            parts.append(
                f'<circle class="dot" cx="{_n(coords[0][0])}" cy="{_n(coords[0][1])}" r="2" fill="{LINE_COLOUR}"/>'
            )
        else:
            parts.append(
                f'<path class="line" d="{_path(coords)}" fill="none" stroke="{LINE_COLOUR}" '
                f'stroke-width="1.5" stroke-linejoin="round"/>'
            )
    if not values:
        parts.append(
            f'<text class="no-data" x="{_n(LEFT + plot_width / 2)}" y="{_n(top + height / 2)}" '
            f'text-anchor="middle" fill="{TEXT_COLOUR}">No data in this range</text>'
        )
    parts.append(
        f'<rect x="{LEFT}" y="{_n(top)}" width="{_n(plot_width)}" height="{_n(height)}" fill="none" '
        f'stroke="{GRID_COLOUR}"/></g>'
    )
    return parts


def _marker_layers(
    markers: Sequence[ChartMarker], labels: Sequence[MarkerLabel], xs: Sequence[float], bottom: float
) -> list[str]:
    """The markers' lines, then their labels over them.

    Each line is the marker's link (the tab stop, named for screen readers), in time order. The
    labels come after every line, so a label in a lower row is drawn over the lines that pass
    behind it, with a halo of the background; a label repeats its marker's link for the pointer
    only (aria-hidden, out of the tab order), and a label that names several lists them all in its
    tooltip.
    """
    row_of = {i: label.row for label in labels for i in label.members}
    parts = []
    for index, (marker, x) in enumerate(zip(markers, xs, strict=True)):
        top = _n(_label_y(row_of[index]) + 4)
        description = _esc(marker.description)
        url = marker.safe_url
        opening = (
            f'<a class="marker" href="{_esc(url)}" aria-label="{description}">'
            if url
            else f'<g class="marker" aria-label="{description}">'
        )
        parts.append(
            f"{opening}<title>{description}</title>"
            f'<line x1="{_n(x)}" y1="{top}" x2="{_n(x)}" y2="{_n(bottom)}" stroke="{_colour(marker.kind)}" '
            f'stroke-width="1.5" stroke-dasharray="4 2"/>'
            f'<line x1="{_n(x)}" y1="{top}" x2="{_n(x)}" y2="{_n(bottom)}" stroke="transparent" '
            f'stroke-width="10"/>{"</a>" if url else "</g>"}'
        )
    for label in labels:
        named = [markers[i] for i in label.members]
        kinds = {m.kind for m in named}
        colour = _colour(kinds.pop()) if len(kinds) == 1 else TEXT_COLOUR
        tooltip = _esc("\n".join(m.description for m in named))
        url = named[0].safe_url if len(named) == 1 else None
        opening = (
            f'<a class="marker-label" href="{_esc(url)}" tabindex="-1" aria-hidden="true">'
            if url
            else '<g class="marker-label" aria-hidden="true">'
        )
        parts.append(
            f"{opening}<title>{tooltip}</title>"
            f'<text x="{_n(label.x)}" y="{_label_y(label.row)}" text-anchor="middle" fill="{colour}" '
            f'stroke="#fff" stroke-width="3" stroke-linejoin="round" paint-order="stroke" '
            f'data-row="{label.row}" data-width="{_n(label.width)}">{_esc(label.text)}</text>'
            f"{'</a>' if url else '</g>'}"
        )
    return parts


def _label_y(row: int) -> int:
    return MARKER_LABEL_Y + row * MARKER_LABEL_ROW_HEIGHT


def _colour(kind: str) -> str:
    return MARKER_COLOURS.get(kind, OTHER_MARKER_COLOUR)
