"""The lag history chart in Chromium: interactive with uPlot when scripts run, the server's SVG and
table without them or when uPlot does not load. The page comes from test-only URLs
(tests/browser/chart_urls.py); its static files are served by whitenoise, as for every page."""

from __future__ import annotations

import itertools

import pytest

from tests.browser.chart_urls import GROUP
from tests.browser.page_checks import AXE, AXE_TAGS, BLOCKING_IMPACTS, describe_violation

pytestmark = [pytest.mark.browser, pytest.mark.urls("tests.browser.chart_urls")]

# With or without the content hash collectstatic adds to the name.
UPLOT_FILE = "**/uplot-1.6.32/uPlot.iife.min*.js"


@pytest.fixture
def console_problems(browser_page):
    """Errors the page logs or throws; a test asserts there are none (or only the ones it caused)."""
    problems: list[str] = []
    browser_page.on("console", lambda m: m.type in ("error", "warning") and problems.append(f"{m.type}: {m.text}"))
    browser_page.on("pageerror", lambda error: problems.append(f"pageerror: {error}"))
    return problems


def _figure(page):
    return page.locator("figure#history-chart")


def _values_under_the_cursor(page, fraction: float) -> list[str]:
    """Hovers the top panel at `fraction` of its width; the lag and lag-in-seconds legend values."""
    box = _figure(page).locator(".chart-panel .u-over").first.bounding_box()
    page.mouse.move(box["x"] + box["width"] * fraction, box["y"] + box["height"] / 2)
    legend_values = _figure(page).locator(".u-legend .u-series:nth-child(2) .u-value")
    assert legend_values.count() == 2
    return legend_values.all_inner_texts()


def test_with_javascript_the_chart_is_an_interactive_uplot_chart_whose_markers_link_to_operations(
    browser_page, live_server, console_problems
):
    page = browser_page
    page.goto(f"{live_server.url}/chart/?range=6h")
    figure = _figure(page)
    figure.and_(page.locator("[data-chart-state=interactive]")).wait_for()

    assert figure.locator(".chart-live .chart-panel canvas").count() == 2  # lag in messages, lag in seconds
    assert figure.locator(".chart-static").is_hidden()
    assert figure.locator(".chart-live .chart-panel-label").all_inner_texts() == ["Lag (messages)", "Lag (seconds)"]
    assert page.locator("figcaption strong").inner_text() == f"Lag of {GROUP}"  # escaped, shown as text

    top_panel = figure.locator(".chart-panel").first
    links = top_panel.locator("a.chart-marker")
    assert links.evaluate_all("as => as.map(a => [a.getAttribute('href'), a.textContent])") == [
        ["/operations/11/", "replay #11"],
        ["/operations/12/", "reset #12"],
        ["/operations/13/", "undo #13"],
    ]
    assert links.first.get_attribute("title").startswith("replay #11 at 2025-03-05 ")
    # The reset and its undo, minutes apart, both keep a label, one under the other rather than over it.
    labels = top_panel.locator("a.chart-marker span").evaluate_all(
        "ss => ss.filter(s => s.getClientRects().length).map(s => { const r = s.getBoundingClientRect();"
        " return [s.textContent, r.x, r.y, r.width, r.height]; })"
    )
    assert [label[0] for label in labels] == ["replay #11", "reset #12", "undo #13"]
    for a, b in itertools.combinations(labels, 2):
        assert a[1] + a[3] <= b[1] or b[1] + b[3] <= a[1] or a[2] + a[4] <= b[2] or b[2] + b[4] <= a[2], (a, b)
    assert figure.locator(".chart-panel").nth(1).locator("a.chart-marker").count() == 3  # drawn across both panels

    # Moving the cursor over the plot shows the values there in the legend of both panels.
    messages, seconds = _values_under_the_cursor(page, 0.2)
    assert messages.replace(",", "").isdigit(), messages
    assert seconds.endswith(("s", "m")), seconds
    box = top_panel.locator(".u-over").bounding_box()

    # Dragging across the first quarter zooms both panels into it: the reset, later, leaves both views.
    reset_links = figure.locator('a.chart-marker[href="/operations/12/"]')
    assert reset_links.evaluate_all("as => as.map(a => a.hidden)") == [False, False]
    page.mouse.move(box["x"] + 5, box["y"] + 20)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.25, box["y"] + 40, steps=5)
    page.mouse.up()
    assert reset_links.evaluate_all("as => as.map(a => a.hidden)") == [True, True]

    page.mouse.dblclick(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # zoom back out
    assert reset_links.evaluate_all("as => as.map(a => a.hidden)") == [False, False]
    with page.expect_navigation():
        top_panel.locator('a.chart-marker[href="/operations/12/"]').click()
    assert page.url == f"{live_server.url}/operations/12/"
    assert console_problems == []


def test_the_range_links_redraw_the_chart_in_place_through_htmx(browser_page, live_server, console_problems):
    page = browser_page
    page.goto(f"{live_server.url}/chart/?range=6h")
    _figure(page).and_(page.locator("[data-chart-state=interactive]")).wait_for()
    page.evaluate("window.__samePage = true")

    page.get_by_role("link", name="1 h", exact=True).click()
    page.wait_for_url("**/chart/?range=1h")
    figure = _figure(page)
    page.locator('.chart-ranges a[aria-current="true"]', has_text="1 h").wait_for()
    figure.and_(page.locator("[data-chart-state=interactive]")).wait_for()
    assert page.evaluate("window.__samePage === true"), "the range link reloaded the page instead of the chart"
    # In the last hour only the reset and its undo are marked; the replay, 200 minutes ago, is out of range.
    assert figure.locator(".chart-panel").first.locator("a.chart-marker").evaluate_all(
        "as => as.map(a => a.getAttribute('href'))"
    ) == ["/operations/12/", "/operations/13/"]
    assert figure.locator(".chart-live canvas").count() == 2

    page.get_by_role("link", name="30 d", exact=True).click()
    page.wait_for_url("**/chart/?range=30d")
    page.locator('.chart-ranges a[aria-current="true"]', has_text="30 d").wait_for()
    _figure(page).and_(page.locator("[data-chart-state=interactive]")).wait_for()
    # A roll-up range: the legend has the bucket's min and max beside the last value.
    assert page.locator(".chart-panel").first.locator(".u-legend .u-series").count() == 4
    assert page.evaluate("window.__samePage === true")

    # Back restores the 1 h chart from htmx's copy of the page, and it is interactive again.
    page.go_back()
    page.wait_for_url("**/chart/?range=1h")
    page.locator('.chart-ranges a[aria-current="true"]', has_text="1 h").wait_for()
    _figure(page).and_(page.locator("[data-chart-state=interactive]")).wait_for()
    assert _figure(page).locator(".chart-live canvas").count() == 2
    assert _figure(page).locator(".chart-static").is_hidden()
    assert "—" not in _values_under_the_cursor(page, 0.3), "the restored chart is a dead copy"
    assert console_problems == []


def test_without_javascript_the_page_shows_the_svg_and_the_table(browser_page, live_server):
    context = browser_page.context.browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/chart/?range=6h")
        figure = _figure(page)
        svg = figure.locator(".chart-static svg")
        assert svg.is_visible()
        assert svg.locator(".panel").count() == 2
        assert svg.get_attribute("aria-label") == f"Lag of {GROUP}"
        assert svg.locator("a.marker").evaluate_all("as => as.map(a => a.getAttribute('href'))") == [
            "/operations/11/",
            "/operations/12/",
            "/operations/13/",
        ]
        _assert_marker_labels_readable(svg, ["replay #11", "reset #12", "undo #13"])
        assert figure.locator("canvas").count() == 0

        table = figure.locator("details.chart-table table")
        assert not table.is_visible()
        figure.locator("details.chart-table summary").click()  # <details> opens without scripts
        assert table.is_visible()
        assert table.locator("thead th").all_inner_texts() == ["Time (UTC)", "Lag (messages)", "Lag (seconds)"]
        assert table.locator("tbody tr").count() == 6 * 60 * 4 + 1  # every 15 s, the gap shown as "—"
        assert figure.locator(".chart-operations a").all_inner_texts() == ["replay #11", "reset #12", "undo #13"]

        with page.expect_navigation():
            page.get_by_role("link", name="7 d", exact=True).click()  # a plain link without htmx
        assert page.url == f"{live_server.url}/chart/?range=7d"
        assert figure.locator(".chart-static svg .tick-x").first.text_content() == "Feb 27"
        assert figure.locator(".chart-static svg path.band").count() >= 1
    finally:
        context.close()


def test_when_uplot_does_not_load_the_server_drawn_chart_stays(browser_page, live_server, console_problems):
    page = browser_page
    page.route(UPLOT_FILE, lambda route: route.abort())
    page.goto(f"{live_server.url}/chart/?range=6h")
    figure = _figure(page)
    figure.and_(page.locator("[data-chart-state=static]")).wait_for()
    assert figure.locator(".chart-static svg").is_visible()
    assert figure.locator(".chart-live").is_hidden()
    assert figure.locator("canvas").count() == 0
    # The only complaint is the blocked file itself: charts.js did not throw.
    assert all("Failed to load resource" in problem for problem in console_problems), console_problems

    # On the 1 h range the reset and its undo, minutes apart, both read in full, and axe finds nothing.
    page.get_by_role("link", name="1 h", exact=True).click()
    page.wait_for_url("**/chart/?range=1h")
    figure.and_(page.locator("[data-chart-state=static]")).wait_for()
    _assert_marker_labels_readable(figure.locator(".chart-static svg"), ["reset #12", "undo #13"])
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS)
    blocking = [describe_violation(v) for v in result["violations"] if v["impact"] in BLOCKING_IMPACTS]
    assert blocking == []


def _assert_marker_labels_readable(svg, texts: list[str]) -> None:
    """The SVG's marker labels read `texts`, as Chromium lays them out: no two overlap, and none is
    wider than the width the server estimated for it (the layout relies on the estimate erring wide)."""
    boxes = svg.locator(".marker-label text").evaluate_all(
        "ts => ts.map(t => { const b = t.getBBox();"
        " return [t.textContent, b.x, b.y, b.width, b.height, Number(t.dataset.width)]; })"
    )
    assert [box[0] for box in boxes] == texts
    for text, _, _, width, _, estimate in boxes:
        assert 0 < width <= estimate, (text, width, estimate)
    for a, b in itertools.combinations(boxes, 2):
        apart = a[1] + a[3] <= b[1] or b[1] + b[3] <= a[1] or a[2] + a[4] <= b[2] or b[2] + b[4] <= a[2]
        assert apart, (a, b)


def _legend_time_at(browser, live_server, timezone_id: str, fraction: float) -> str:
    context = browser.new_context(timezone_id=timezone_id, viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/chart/?range=6h")
        figure = _figure(page)
        figure.and_(page.locator("[data-chart-state=interactive]")).wait_for()
        box = figure.locator(".chart-panel .u-over").first.bounding_box()
        page.mouse.move(box["x"] + box["width"] * fraction, box["y"] + box["height"] / 2)
        return figure.locator(".u-legend .u-series:first-child .u-value").first.inner_text()
    finally:
        context.close()


def test_the_chart_shows_times_in_the_readers_time_zone(browser_page, live_server):
    from datetime import datetime, timedelta

    browser = browser_page.context.browser
    in_utc = _legend_time_at(browser, live_server, "UTC", 0.5)
    in_tokyo = _legend_time_at(browser, live_server, "Asia/Tokyo", 0.5)
    # The same instant under the same cursor: Tokyo's clock reads nine hours later.
    assert datetime.fromisoformat(in_tokyo) - datetime.fromisoformat(in_utc) == timedelta(hours=9), (in_utc, in_tokyo)


def test_the_charts_caption_is_in_the_readers_time_zone_as_its_axis_is(browser_page, live_server):
    context = browser_page.context.browser.new_context(timezone_id="Asia/Tokyo")
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/chart/?range=6h")
        caption = _figure(page).locator("figcaption time")
        assert caption.count() == 2
        page.wait_for_function("document.querySelector('figcaption time').textContent.includes('GMT+9')")
        texts = caption.all_inner_texts()
        assert all(text.endswith(" GMT+9") for text in texts), texts
        # Hovering still shows the UTC instant the API and the logs use.
        assert all(title.endswith(" UTC") for title in (t.get_attribute("title") for t in caption.all())), texts
    finally:
        context.close()


def _computed(locator, prop: str) -> str:
    return locator.evaluate(f"e => getComputedStyle(e).getPropertyValue('{prop}')")


@pytest.mark.parametrize("scripts", [True, False])
def test_in_the_dark_theme_the_chart_panel_is_dark_and_its_lines_and_labels_are_light(
    browser_page, live_server, scripts
):
    context = browser_page.context.browser.new_context(color_scheme="dark", java_script_enabled=scripts)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/chart/?range=6h")
        figure = _figure(page)
        assert _computed(figure, "background-color") == "rgb(27, 31, 39)"  # the dark theme's --surface
        if scripts:
            figure.and_(page.locator("[data-chart-state=interactive]")).wait_for()
            # uPlot's canvas was given the theme's colours: its axis labels are drawn in the light --muted
            # (uPlot's own default is black, and the line's blue has little red).
            drawn = page.evaluate(
                "() => { const c = document.querySelector('figure#history-chart .chart-panel canvas');"
                " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
                " let light = 0; for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 0 && d[i] > 120) light++;"
                " return light; }"
            )
            assert drawn > 0
        else:
            svg = figure.locator(".chart-static svg")
            assert _computed(svg.locator("path.line").first, "stroke") == "rgb(143, 177, 255)"
            assert _computed(svg.locator("text.tick-x").first, "fill") == "rgb(164, 173, 189)"
    finally:
        context.close()


def _pixels_of(page, rgb: tuple[int, int, int]) -> int:
    """How many pixels of the top panel's canvas are exactly `rgb` (its grid lines are drawn pixel-aligned)."""
    return page.evaluate(
        "([r, g, b]) => { const c = document.querySelector('figure#history-chart .chart-panel canvas');"
        " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;"
        " for (let i = 0; i < d.length; i += 4)"
        " if (d[i] === r && d[i + 1] === g && d[i + 2] === b && d[i + 3] === 255) n++;"
        " return n; }",
        list(rgb),
    )


def test_when_the_system_turns_dark_the_interactive_chart_is_drawn_again_in_the_dark_themes_colours(
    browser_page, live_server, console_problems
):
    light_grid, dark_grid = (217, 221, 229), (58, 65, 80)  # --line of console.css's light and dark themes
    browser_page.emulate_media(color_scheme="light")
    browser_page.goto(f"{live_server.url}/chart/?range=6h")
    _figure(browser_page).and_(browser_page.locator("[data-chart-state=interactive]")).wait_for()
    assert _pixels_of(browser_page, light_grid) > 0 and _pixels_of(browser_page, dark_grid) == 0

    browser_page.emulate_media(color_scheme="dark")
    browser_page.wait_for_function(
        "() => document.querySelector('figure#history-chart').dataset.chartState === 'interactive'"
    )
    assert _pixels_of(browser_page, dark_grid) > 0 and _pixels_of(browser_page, light_grid) == 0
    # Chromium's advice on the test's own reading of the canvas is not the page's problem.
    assert [p for p in console_problems if "willReadFrequently" not in p] == []
