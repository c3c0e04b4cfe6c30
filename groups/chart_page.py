"""The history chart of a page: the ranges it offers, its SVG, the JSON charts.js draws the
interactive chart from, and the same points as a table for screen readers and browsers without
JavaScript. Pure, like `groups.charts`, which draws the SVG."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from django.utils.safestring import SafeString, mark_safe

from groups.chart_scales import DAY_MS, HOUR_MS, exact_text, utc_text
from groups.charts import ChartMarker, ChartSeries, history_chart_svg


@dataclass(frozen=True)
class ChartRange:
    """A time range a chart offers: `key` is its `?range=` value."""

    key: str
    label: str
    ms: int


CHART_RANGES = (
    ChartRange("1h", "1 h", HOUR_MS),
    ChartRange("6h", "6 h", 6 * HOUR_MS),
    ChartRange("24h", "24 h", DAY_MS),
    ChartRange("7d", "7 d", 7 * DAY_MS),
    ChartRange("30d", "30 d", 30 * DAY_MS),
)
DEFAULT_RANGE = CHART_RANGES[1]


def chart_range(key: str | None) -> ChartRange:
    """The range a `?range=` value names; the default (6 h) when it is absent or empty.

    Raises ValueError with a message for the person who typed it when the value names none.
    """
    if not key:
        return DEFAULT_RANGE
    for candidate in CHART_RANGES:
        if candidate.key == key:
            return candidate
    choices = ", ".join(r.key for r in CHART_RANGES)
    raise ValueError(f"The chart range {key!r} is not one the console draws: use one of {choices}.")


@dataclass(frozen=True)
class HistoryChart:
    """Everything `templates/groups/_history_chart.html` renders, under the context name `chart`."""

    title: str
    range: ChartRange
    ranges: tuple[ChartRange, ...]
    start_ms: int
    end_ms: int
    svg: SafeString
    data: dict  # the JSON island charts.js draws the interactive chart from (through json_script)
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    operations: tuple[ChartMarker, ...]

    @property
    def table_body(self) -> SafeString:
        """The rows as `<tr>` markup: a template loop over thousands of cells costs more than the
        whole chart, so they are built here, escaped."""
        cells = (
            '<td class="nowrap">'
            + "".join(f'{escape(c)}</td><td class="num">' for c in row[:-1])
            + f"{escape(row[-1])}</td>"
            for row in self.rows
        )
        return mark_safe("".join(f"<tr>{row}</tr>" for row in cells))


def history_chart(
    series: Sequence[ChartSeries],
    markers: Sequence[ChartMarker],
    *,
    time_range: ChartRange,
    end_ms: int,
    title: str,
    max_step_ms: int | None = None,
    width: int = 720,
    height: int = 320,
) -> HistoryChart:
    """The history chart of one range ending at `end_ms` (the caller's "now"): its SVG, the data
    for the interactive chart, and the same points as table rows for screen readers and no-JS."""
    start_ms = end_ms - time_range.ms
    in_range = tuple(
        sorted((m for m in markers if start_ms <= m.t_ms <= end_ms), key=lambda m: (m.t_ms, m.operation_id))
    )
    columns, rows = _table(series, start_ms, end_ms)
    return HistoryChart(
        title=title,
        range=time_range,
        ranges=CHART_RANGES,
        start_ms=start_ms,
        end_ms=end_ms,
        svg=history_chart_svg(
            series,
            in_range,
            width=width,
            height=height,
            title=title,
            start_ms=start_ms,
            end_ms=end_ms,
            max_step_ms=max_step_ms,
        ),
        data=chart_data(series, in_range, start_ms=start_ms, end_ms=end_ms, max_step_ms=max_step_ms),
        columns=columns,
        rows=rows,
        operations=in_range,
    )


def chart_data(
    series: Sequence[ChartSeries],
    markers: Sequence[ChartMarker],
    *,
    start_ms: int,
    end_ms: int,
    max_step_ms: int | None = None,
) -> dict:
    """The chart as plain JSON for charts.js: times in seconds (uPlot's unit), one panel per series.

    Each panel's arrays share one time axis that starts at `start` and ends at `end` (with nulls
    there), so uPlot's own "zoom out" returns to the whole range; a null is inserted wherever the
    SVG breaks its line, so both drawings show the same gaps. Unsafe marker URLs are dropped.
    """
    panels = []
    for one in series:
        by_time: dict[int, list[float | None]] = {start_ms: [None, None, None], end_ms: [None, None, None]}
        for t, value in one.points:
            if start_ms <= t <= end_ms:
                by_time.setdefault(t, [None, None, None])[0] = value
        for t, low, high in one.band or ():
            if start_ms <= t <= end_ms:
                by_time.setdefault(t, [None, None, None])[1:] = [low, high]
        times: list[float] = []
        columns: list[list[float | None]] = [[], [], []]
        previous = None
        for t in sorted(by_time):
            if max_step_ms is not None and previous is not None and t - previous > max_step_ms:
                times.append((previous + t) / 2000)
                for column in columns:
                    column.append(None)
            times.append(t / 1000)
            for column, value in zip(columns, by_time[t], strict=True):
                column.append(value)
            previous = t
        panels.append(
            {
                "label": one.label,
                "unit": one.unit,
                "t": times,
                "value": columns[0],
                "low": columns[1] if one.band is not None else None,
                "high": columns[2] if one.band is not None else None,
            }
        )
    return {
        "start": start_ms / 1000,
        "end": end_ms / 1000,
        "panels": panels,
        "markers": [
            {
                "t": m.t_ms / 1000,
                "kind": m.kind,
                "id": m.operation_id,
                "url": m.safe_url,
                "label": m.label,
                "description": m.description,
            }
            for m in markers
        ],
    }


Table = tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]


def _table(series: Sequence[ChartSeries], start_ms: int, end_ms: int) -> Table:
    """One row per time any series has a point at; a column per series, and one per band."""
    columns = ["Time (UTC)"]
    slots: list[tuple[int, str]] = []
    cells: dict[int, dict[tuple[int, str], str]] = {}
    for index, one in enumerate(series):
        columns.append(one.label)
        slots.append((index, "value"))
        for t, value in one.points:
            if start_ms <= t <= end_ms:
                cells.setdefault(t, {})[index, "value"] = exact_text(value, one.unit)
        if one.band is not None:
            columns.append(f"{one.label}, min – max")
            slots.append((index, "band"))
            for t, low, high in one.band:
                if start_ms <= t <= end_ms:
                    text = f"{exact_text(low, one.unit)} – {exact_text(high, one.unit)}"
                    cells.setdefault(t, {})[index, "band"] = text
    rows = tuple((utc_text(t), *(cells[t].get(slot, "—") for slot in slots)) for t in sorted(cells))
    return tuple(columns), rows
