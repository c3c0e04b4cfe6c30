"""The server-drawn lag charts: gaps, empty data, escaping, axis ticks, markers, bands, determinism."""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.template.loader import render_to_string

from groups.chart_page import CHART_RANGES, chart_data, chart_range, history_chart
from groups.chart_scales import DAY_MS, HOUR_MS, MINUTE_MS, axis_label, time_ticks, value_ticks
from groups.charts import LEFT, RIGHT, ChartMarker, ChartSeries, history_chart_svg, sparkline_svg

SVG = "{http://www.w3.org/2000/svg}"
END = int(datetime(2025, 3, 5, 14, 30, 15, tzinfo=UTC).timestamp() * 1000)
HOSTILE = '<script>alert("x")</script>&\'"'
VENDOR = Path(__file__).resolve().parents[2] / "groups" / "static" / "groups" / "vendor"


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # also proves the markup is well-formed


def _all(root: ET.Element, tag: str, cls: str | None = None) -> list[ET.Element]:
    return [e for e in root.iter(f"{SVG}{tag}") if cls is None or e.get("class") == cls]


def _lag_series(points, band=None):
    return ChartSeries("Lag (messages)", "messages", points, band)


def _minute_points(count: int, value=lambda i: 10 * i):
    return [(END - (count - 1 - i) * MINUTE_MS, value(i)) for i in range(count)]


def test_a_none_in_the_points_breaks_the_sparkline_into_two_lines():
    points = _minute_points(10)
    points[4] = (points[4][0], None)
    root = _parse(sparkline_svg(points))
    assert len(_all(root, "path", "line")) == 2


def test_points_further_apart_than_the_largest_step_are_not_joined():
    points = [(END - 60 * MINUTE_MS, 5), (END - 59 * MINUTE_MS, 6), (END - 10 * MINUTE_MS, 7), (END - 9 * MINUTE_MS, 8)]
    joined = _parse(sparkline_svg(points))
    split = _parse(sparkline_svg(points, max_step_ms=2 * MINUTE_MS))
    assert len(_all(joined, "path", "line")) == 1
    assert len(_all(split, "path", "line")) == 2


def test_a_lone_point_between_gaps_is_drawn_as_a_dot_not_dropped():
    points = [(END - 3 * MINUTE_MS, 1), (END - 2 * MINUTE_MS, None), (END - MINUTE_MS, 4), (END, None)]
    root = _parse(history_chart_svg([_lag_series(points)], title="t"))
    assert len(_all(root, "circle", "dot")) == 2
    assert _all(root, "path", "line") == []


@pytest.mark.parametrize("points", [[], [(END, None), (END + MINUTE_MS, None)]], ids=["empty", "all-none"])
def test_a_sparkline_without_values_shows_a_neutral_no_data_mark(points):
    root = _parse(sparkline_svg(points, start_ms=END - HOUR_MS, end_ms=END))
    assert root.get("role") == "img"
    assert root.get("aria-label") == "Lag over the last hour: no data"
    assert len(_all(root, "line", "no-data")) == 1
    assert _all(root, "path") == []


def test_a_sparkline_label_summarises_its_first_last_and_largest_value():
    points = [(END - 3 * MINUTE_MS, 1200), (END - 2 * MINUTE_MS, None), (END - MINUTE_MS, 45_000), (END, 30)]
    root = _parse(sparkline_svg(points))
    assert root.get("role") == "img"
    assert root.get("aria-label") == "Lag over the last hour: first 1,200, last 30, max 45,000"
    assert root.find(f"{SVG}title").text == root.get("aria-label")


def test_a_sparkline_whose_last_round_has_no_value_says_so_rather_than_naming_an_older_one():
    points = [(END - 3 * MINUTE_MS, 25), (END - 2 * MINUTE_MS, 25), (END - MINUTE_MS, None), (END, None)]
    root = _parse(sparkline_svg(points, start_ms=END - HOUR_MS, end_ms=END))
    assert root.get("aria-label") == "Lag over the last hour: first 25, last none (no figure in the last round), max 25"


def test_a_sparkline_of_seconds_reads_its_values_as_durations():
    root = _parse(sparkline_svg([(END - MINUTE_MS, 90), (END, 3700)], unit="seconds", label="Lag in time"))
    assert root.get("aria-label") == "Lag in time: first 1m 30s, last 1h 1m, max 1h 1m"


def test_sparklines_of_one_hour_share_the_time_scale_they_are_given():
    start = END - HOUR_MS
    half_way = _parse(sparkline_svg([(END - HOUR_MS // 2, 3)], start_ms=start, end_ms=END, width=120))
    dot = _all(half_way, "circle", "dot")[0]
    assert float(dot.get("cx")) == pytest.approx(1.5 + 117 / 2, abs=0.1)


def test_a_hostile_group_id_and_marker_text_are_escaped_everywhere():
    marker = ChartMarker(END - MINUTE_MS, HOSTILE, 7, '/operations/7/?a=1&b="2"')
    series = [ChartSeries(HOSTILE, "messages", _minute_points(5))]
    chart = history_chart(series, [marker], time_range=CHART_RANGES[0], end_ms=END, title=f"Lag of {HOSTILE}")
    for svg in (chart.svg, sparkline_svg([], label=HOSTILE), sparkline_svg(_minute_points(3), label=HOSTILE)):
        root = _parse(svg)
        assert _all(root, "script") == []
        texts = ["".join(e.itertext()) for e in root.iter()] + [e.get("aria-label") or "" for e in root.iter()]
        assert any(HOSTILE in text for text in texts)
    root = _parse(chart.svg)
    link = _all(root, "a", "marker")[0]
    assert link.get("href") == '/operations/7/?a=1&b="2"'
    assert link.find(f"{SVG}title").text == f"{HOSTILE} #7 at 2025-03-05 14:29:15 UTC"
    page = render_to_string("groups/_history_chart.html", {"chart": chart})
    assert "<script>alert" not in page
    assert page.count('<script id="history-chart-data" type="application/json">') == 1


def test_a_marker_whose_link_could_run_script_is_drawn_without_a_link():
    bad = ChartMarker(END - MINUTE_MS, "reset", 3, " JavaScript:alert(1)")
    chart = history_chart([_lag_series(_minute_points(5))], [bad], time_range=CHART_RANGES[0], end_ms=END, title="t")
    root = _parse(chart.svg)
    assert _all(root, "a") == []
    assert len(_all(root, "g", "marker")) == 1
    assert chart.data["markers"][0]["url"] is None
    assert "javascript:" not in render_to_string("groups/_history_chart.html", {"chart": chart}).lower()


def _tick_times(root):
    return [int(e.get("data-t")) for e in _all(root, "text", "tick-x")]


@pytest.mark.parametrize(
    ("key", "step", "labels"),
    [
        ("1h", 10 * MINUTE_MS, ["13:40", "13:50", "14:00", "14:10", "14:20", "14:30"]),
        ("6h", HOUR_MS, ["09:00", "10:00", "11:00", "12:00", "13:00", "14:00"]),
        ("24h", 4 * HOUR_MS, ["16:00", "20:00", "Mar 5", "04:00", "08:00", "12:00"]),
        ("7d", DAY_MS, ["Feb 27", "Feb 28", "Mar 1", "Mar 2", "Mar 3", "Mar 4", "Mar 5"]),
        ("30d", 7 * DAY_MS, ["Feb 10", "Feb 17", "Feb 24", "Mar 3"]),  # Mondays
    ],
)
def test_the_time_axis_has_round_utc_ticks_for_each_range(key, step, labels):
    chart = history_chart([_lag_series(_minute_points(3))], [], time_range=chart_range(key), end_ms=END, title="t")
    root = _parse(chart.svg)
    times = _tick_times(root)
    assert [e.text for e in _all(root, "text", "tick-x")] == labels
    assert all(b - a == step for a, b in zip(times, times[1:], strict=False))
    assert all(t % min(step, DAY_MS) == 0 for t in times)
    assert chart.start_ms <= times[0] < chart.start_ms + step and END - step < times[-1] <= END


def test_time_ticks_are_fewer_on_a_narrow_chart():
    assert len(time_ticks(END - DAY_MS, END, 3)) < len(time_ticks(END - DAY_MS, END, 8))


def test_value_ticks_are_round_numbers_that_cover_the_data():
    assert value_ticks(0, 37, unit="messages", max_ticks=4) == [0, 10, 20, 30, 40]
    assert value_ticks(0, 12_345, unit="messages", max_ticks=4) == [0, 5000, 10000, 15000]
    assert value_ticks(-3, 0, unit="messages", max_ticks=4) == [-3, -2, -1, 0]
    assert value_ticks(0, 0, unit="messages", max_ticks=4) == [0, 1]


def test_seconds_ticks_are_round_durations():
    assert value_ticks(0, 5000, unit="seconds", max_ticks=4) == [0, 1800, 3600, 5400]
    assert value_ticks(0, 100, unit="seconds", max_ticks=5) == [0, 30, 60, 90, 120]
    assert [axis_label(v, "seconds") for v in (0, 30, 300, 5400, 86400)] == ["0s", "30s", "5m", "1h 30m", "1d"]
    assert [axis_label(v, "messages") for v in (950, 1500, 12_000, 2_500_000)] == ["950", "1.5k", "12k", "2.5M"]


def test_each_panel_axis_ends_on_a_round_tick_above_the_largest_value():
    series = [_lag_series(_minute_points(5, lambda i: 1234 * i)), ChartSeries("s", "seconds", [(END, 4000)])]
    root = _parse(history_chart_svg(series, title="t", start_ms=END - HOUR_MS, end_ms=END))
    messages, seconds = root.findall(f"{SVG}g[@class='panel']")
    assert [int(e.get("data-value")) for e in _all(messages, "text", "tick-y")] == [0, 2000, 4000, 6000]
    assert [e.text for e in _all(seconds, "text", "tick-y")] == ["0s", "30m", "1h", "1h 30m"]


def test_markers_are_drawn_at_their_time_and_link_to_their_operation():
    width = 720
    markers = [
        ChartMarker(END - 45 * MINUTE_MS, "reset", 12, "/operations/12/"),
        ChartMarker(END - 15 * MINUTE_MS, "replay", 13, "/operations/13/"),
        ChartMarker(END - 2 * HOUR_MS, "undo", 5, "/operations/5/"),
    ]  # before the range
    chart = history_chart(
        [_lag_series(_minute_points(60))], markers, time_range=CHART_RANGES[0], end_ms=END, title="t", width=width
    )
    root = _parse(chart.svg)
    links = _all(root, "a", "marker")
    assert [a.get("href") for a in links] == ["/operations/12/", "/operations/13/"]
    plot_width = width - LEFT - RIGHT
    for link, fraction in zip(links, (0.25, 0.75), strict=True):
        line = link.find(f"{SVG}line")
        assert float(line.get("x1")) == pytest.approx(LEFT + fraction * plot_width, abs=0.1)
        assert line.get("x1") == line.get("x2")
    assert [m.operation_id for m in chart.operations] == [12, 13]
    assert [(m["id"], m["t"], m["url"]) for m in chart.data["markers"]] == [
        (12, (END - 45 * MINUTE_MS) / 1000, "/operations/12/"),
        (13, (END - 15 * MINUTE_MS) / 1000, "/operations/13/"),
    ]


def _labels(root: ET.Element) -> list[tuple[str, int, float, float]]:
    """The marker labels as (text, row, left, right), with their estimated widths."""
    found = []
    for text in root.iter(f"{SVG}text"):
        if text.get("data-row") is not None:
            x, width = float(text.get("x")), float(text.get("data-width"))
            found.append((text.text, int(text.get("data-row")), x - width / 2, x + width / 2))
    return found


def test_a_reset_and_its_undo_minutes_apart_both_have_a_label_that_does_not_overlap_the_other():
    start = END - HOUR_MS
    markers = [
        ChartMarker(start + 20 * MINUTE_MS, "reset", 1, "/operations/1/"),
        ChartMarker(start + 20 * MINUTE_MS + 201_000, "undo", 3, "/operations/3/"),  # 3 min 21 s later
    ]
    chart = history_chart([_lag_series(_minute_points(60))], markers, time_range=CHART_RANGES[0], end_ms=END, title="t")
    root = _parse(chart.svg)
    labels = _labels(root)
    assert [(text, row) for text, row, *_ in labels] == [("reset #1", 0), ("undo #3", 1)]
    assert [a.get("href") for a in _all(root, "a", "marker")] == ["/operations/1/", "/operations/3/"]
    label_links = _all(root, "a", "marker-label")
    assert [(a.get("href"), a.get("tabindex"), a.get("aria-hidden")) for a in label_links] == [
        ("/operations/1/", "-1", "true"),
        ("/operations/3/", "-1", "true"),
    ]
    # The second row of labels pushes the panel down rather than draw over its title.
    panel_label = root.find(f"{SVG}g[@class='panel']/{SVG}text[@class='panel-label']")
    assert float(panel_label.get("y")) - 12 > max(int(t.get("y")) for t in root.iter(f"{SVG}text") if t.get("data-row"))


def test_operations_crowded_on_a_long_range_share_one_label_whose_tooltip_lists_them_all():
    kinds = ["reset", "undo", "replay", "reset", "undo", "reset"]
    markers = [
        ChartMarker(END - 3 * HOUR_MS + i * MINUTE_MS, kind, 20 + i, f"/operations/{20 + i}/")
        for i, kind in enumerate(kinds)
    ] + [ChartMarker(END - HOUR_MS, "reset", 40, "/operations/40/")]
    chart = history_chart(
        [_lag_series(_minute_points(60))], markers, time_range=chart_range("24h"), end_ms=END, title="t"
    )
    root = _parse(chart.svg)
    labels = _labels(root)
    for (_, row_a, left_a, right_a), (_, row_b, left_b, right_b) in itertools.combinations(labels, 2):
        assert row_a != row_b or right_a <= left_b or right_b <= left_a, labels
    assert all(left >= 0 and right <= 720 for _, _, left, right in labels)
    titles = {
        "".join(e.find(f"{SVG}text").itertext()): e.find(f"{SVG}title").text.split("\n")
        for e in root.iter()
        if (e.get("class") or "") == "marker-label"
    }
    assert [text for text in titles if "operations" in text] == ["4 operations"]
    assert titles["4 operations"] == [m.description for m in markers[:4]]
    assert titles["undo #24, reset #25"] == [m.description for m in markers[4:6]]
    assert titles["reset #40"] == [markers[6].description]
    assert all(e.get("aria-hidden") == "true" for e in root.iter() if (e.get("class") or "") == "marker-label")
    # Every operation is still its own link.
    assert [a.get("href") for a in _all(root, "a", "marker")] == [m.url for m in markers]


def test_a_roll_up_range_draws_a_min_max_band_behind_the_line_of_last_values():
    bucket = 5 * MINUTE_MS
    times = [END - DAY_MS + i * bucket for i in range(12)]
    last = [(t, 100 + i) for i, t in enumerate(times)]
    band = [(t, 50 + i, 300 + i) for i, t in enumerate(times)]
    plain = _parse(history_chart_svg([_lag_series(last)], title="t"))
    rolled = _parse(history_chart_svg([_lag_series(last, band)], title="t"))
    assert _all(plain, "path", "band") == []
    bands = _all(rolled, "path", "band")
    assert len(bands) == 1 and bands[0].get("d").endswith("Z")
    children = list(rolled.find(f"{SVG}g[@class='panel']"))
    assert children.index(bands[0]) < children.index(_all(rolled, "path", "line")[0])  # the line stays on top
    # The band reaches the largest max, so the axis is scaled to it, not to the last values.
    ticks = [int(e.get("data-value")) for e in _all(rolled, "text", "tick-y")]
    assert ticks[-1] >= 311


def test_a_band_with_a_missing_bucket_is_drawn_in_two_pieces():
    times = [END - i * 5 * MINUTE_MS for i in range(6, 0, -1)]
    band = [(t, 1, 9) for t in times]
    band[2] = (band[2][0], None, None)
    root = _parse(history_chart_svg([_lag_series([(t, 5) for t in times], band)], title="t"))
    assert len(_all(root, "path", "band")) == 2


def test_an_empty_panel_says_it_has_no_data():
    series = [_lag_series([]), ChartSeries("Lag (seconds)", "seconds", [(END, 10)])]
    root = _parse(history_chart_svg(series, title="t", start_ms=END - HOUR_MS, end_ms=END))
    first, second = root.findall(f"{SVG}g[@class='panel']")
    assert _all(first, "text", "no-data")[0].text == "No data in this range"
    assert _all(second, "text", "no-data") == []


def _chart():
    points = _minute_points(120, lambda i: (i * 7919) % 1000)
    points[50] = (points[50][0], None)
    series = [_lag_series(points), ChartSeries("Lag (seconds)", "seconds", [(t, v and v / 3) for t, v in points])]
    markers = [ChartMarker(END - 30 * MINUTE_MS, "reset", 4, "/operations/4/")]
    return history_chart(
        series, markers, time_range=chart_range("6h"), end_ms=END, title="Lag of g", max_step_ms=90_000
    )


def test_the_same_data_gives_the_same_chart_byte_for_byte():
    first, second = _chart(), _chart()
    assert first.svg == second.svg and first.data == second.data and first.rows == second.rows


def test_the_svg_does_not_depend_on_the_machine_time_zone(monkeypatch):
    in_utc = _chart().svg
    monkeypatch.setenv("TZ", "Pacific/Chatham")
    time.tzset()
    try:
        assert _chart().svg == in_utc
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_the_svg_is_the_same_in_a_fresh_process():
    # Hash seeds and dict orders differ between processes; the output must not.
    code = "from tests.unit.test_charts import _chart; import sys; sys.stdout.write(_chart().svg)"
    env = {**os.environ, "PYTHONHASHSEED": "12345", "DJANGO_SETTINGS_MODULE": "console.settings"}
    out = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert out.stdout == _chart().svg


def test_the_interactive_data_covers_the_range_and_breaks_where_the_svg_does():
    start = END - HOUR_MS
    points = [(END - 50 * MINUTE_MS, 1), (END - 49 * MINUTE_MS, 2), (END - 10 * MINUTE_MS, 3)]
    data = chart_data([_lag_series(points)], [], start_ms=start, end_ms=END, max_step_ms=2 * MINUTE_MS)
    panel = data["panels"][0]
    assert panel["t"][0] == start / 1000 and panel["t"][-1] == END / 1000
    assert panel["t"] == sorted(panel["t"])
    assert panel["value"] == [None, None, 1, 2, None, 3, None, None]
    assert panel["low"] is None and panel["high"] is None
    assert len(panel["t"]) == len(panel["value"])


def test_the_table_lists_every_point_with_its_band():
    times = [END - 10 * MINUTE_MS, END - 5 * MINUTE_MS]
    series = [
        _lag_series([(times[0], 1500), (times[1], None)], [(times[0], 1000, 2000), (times[1], None, None)]),
        ChartSeries("Lag (seconds)", "seconds", [(times[1], 75)]),
    ]
    chart = history_chart(series, [], time_range=chart_range("1h"), end_ms=END, title="t")
    assert chart.columns == ("Time (UTC)", "Lag (messages)", "Lag (messages), min – max", "Lag (seconds)")
    assert chart.rows == (
        ("2025-03-05 14:20:15 UTC", "1,500", "1,000 – 2,000", "—"),
        ("2025-03-05 14:25:15 UTC", "—", "— – —", "1m 15s"),
    )


def test_an_unknown_range_is_refused_with_the_ranges_to_use():
    assert chart_range(None).key == chart_range("").key == "6h"
    assert [chart_range(r.key).ms for r in CHART_RANGES] == [HOUR_MS, 6 * HOUR_MS, DAY_MS, 7 * DAY_MS, 30 * DAY_MS]
    with pytest.raises(ValueError, match="use one of 1h, 6h, 24h, 7d, 30d"):
        chart_range("2y")


def test_a_series_with_an_unknown_unit_is_refused():
    with pytest.raises(ValueError, match="messages, seconds"):
        ChartSeries("Lag", "bytes", [])


def test_the_fragment_has_range_links_that_work_with_and_without_htmx():
    page = render_to_string("groups/_history_chart.html", {"chart": _chart()})
    links = re.findall(r'<a href="([^"]+)" hx-get="([^"]+)"[^>]*>([^<]+)</a>', page)
    assert [(href, text) for href, _, text in links] == [
        ("?range=1h", "1 h"),
        ("?range=6h", "6 h"),
        ("?range=24h", "24 h"),
        ("?range=7d", "7 d"),
        ("?range=30d", "30 d"),
    ]
    assert all(href == hx_get for href, hx_get, _ in links)
    assert re.search(r'<a href="\?range=6h"[^>]*aria-current="true"', page)
    assert not re.search(r"\son[a-z]+\s*=", page), "an inline event handler: CSP would block it"
    assert '<a href="/operations/4/">reset #4</a> at 2025-03-05 14:00:15 UTC' in page
    assert page.count("<tr>") == 1 + 120  # header and one row per minute point


def test_the_vendored_files_are_the_ones_their_checksums_record():
    folders = sorted(VENDOR.glob("uplot-*"))
    assert [f.name for f in folders] == ["uplot-1.6.32"]
    for folder in folders:
        lines = (folder / "SHA256SUMS").read_text().splitlines()
        recorded = {name: digest for digest, name in (line.split() for line in lines)}
        assert set(recorded) == {"uPlot.iife.min.js", "uPlot.min.css", "LICENSE"}
        for name, digest in recorded.items():
            assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, f"{folder.name}/{name}"
