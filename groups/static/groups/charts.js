/*
 * Interactive lag history. Each figure[data-history-chart] carries its data in a JSON island
 * (built by groups.chart_page.chart_data); this draws it with the vendored uPlot: one panel per
 * series on a shared time axis, drag to zoom (double-click zooms out), values under the cursor in
 * the legend, and the console's operations as vertical lines that link to them.
 *
 * The server-drawn SVG stays in place when uPlot did not load or anything here fails, so the
 * page never loses its chart. No inline handlers and no injected style attributes: CSP-friendly.
 */
(function () {
  "use strict";

  var SELECTOR = "figure[data-history-chart]";
  var PANEL_HEIGHT = 170;
  var MARKER_COLOURS = { reset: "#b85c00", undo: "#7a3db8", replay: "#13806b" };
  var OTHER_MARKER_COLOUR = "#5d6677";
  // Round durations for a seconds axis, the same steps the SVG uses (groups/chart_scales.py).
  var SECOND_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600,
    43200, 86400, 172800, 604800, 1209600, 3024000, 6048000, 12096000, 30240000];
  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  var MARKER_LABEL_GAP = 6;  // px between two labels in one row
  var MARKER_LABEL_OFFSET = 9;  // px from the line to its label (charts.css)
  var MARKER_LABEL_ROWS = 3;  // charts.css moves each row down; a crowd beyond them shares one label
  var figures = 0;
  var teardowns = new WeakMap();

  function duration(seconds) {
    if (seconds == null) return "—";
    var sign = seconds < 0 ? "-" : "";
    var rest = Math.round(Math.abs(seconds));
    if (rest === 0) return "0s";
    var parts = [];
    [[86400, "d"], [3600, "h"], [60, "m"], [1, "s"]].forEach(function (unit) {
      var count = Math.floor(rest / unit[0]);
      rest -= count * unit[0];
      if ((count || parts.length) && parts.length < 2) parts.push(count + unit[1]);
    });
    while (parts.length > 1 && parts[parts.length - 1].charAt(0) === "0") parts.pop();
    return sign + parts.join(" ");
  }

  function messages(value) {
    return value == null ? "—" : Math.round(value).toLocaleString("en-US");
  }

  function compactMessages(value) {
    var size = Math.abs(value);
    var units = [[1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "k"]];
    for (var i = 0; i < units.length; i++) {
      if (size >= units[i][0]) {
        var scaled = value / units[i][0];
        return (Math.abs(scaled) < 10 ? String(+scaled.toFixed(1)) : scaled.toFixed(0)) + units[i][1];
      }
    }
    return String(+value.toFixed(1));
  }

  function two(n) { return n < 10 ? "0" + n : String(n); }

  // The reader's time zone unless they prefer UTC (<html data-times="utc">, as times.js honours);
  // the server's SVG, drawn without JavaScript, stays in UTC and says so.
  var IN_UTC = document.documentElement.dataset.times === "utc";

  function parts(d) {
    return IN_UTC
      ? { month: d.getUTCMonth(), day: d.getUTCDate(), h: d.getUTCHours(), m: d.getUTCMinutes(), s: d.getUTCSeconds() }
      : { month: d.getMonth(), day: d.getDate(), h: d.getHours(), m: d.getMinutes(), s: d.getSeconds() };
  }

  // 24-hour times, the day's name at midnight and for steps of a day or more, like the SVG's labels.
  function timeLabels(u, splits, axisIndex, space, step) {
    return splits.map(function (seconds) {
      var p = parts(new Date(seconds * 1000));
      var midnight = p.h === 0 && p.m === 0 && p.s === 0;
      if (step >= 86400 || midnight) return MONTHS[p.month] + " " + p.day;
      var time = two(p.h) + ":" + two(p.m);
      return step < 60 ? time + ":" + two(p.s) : time;
    });
  }

  function yRange(u, low, high) {
    // Lag is read against zero: the axis always includes it, and an empty panel still has a scale.
    low = low == null ? 0 : Math.min(0, low);
    high = high == null ? 0 : Math.max(0, high);
    return [low, high > low ? high * 1.05 : low + 1];
  }

  function markerElements(plot, markers, labelled) {
    return markers.map(function (m) {
      var link = document.createElement(m.url ? "a" : "span");
      var item = { t: m.t, element: link, label: m.label, description: m.description };
      link.className = "chart-marker chart-marker-" + (MARKER_COLOURS[m.kind] ? m.kind : "other");
      if (m.url) link.href = m.url;
      link.title = m.description;
      link.setAttribute("aria-label", m.description);
      if (labelled) {
        item.span = document.createElement("span");
        item.span.textContent = m.label;
        link.appendChild(item.span);
      } else {
        // The top panel's link is the one to tab to; the others repeat it for the eye only.
        link.tabIndex = -1;
        link.setAttribute("aria-hidden", "true");
      }
      plot.over.appendChild(link);
      return item;
    });
  }

  function crowdText(items) {
    if (items.length > 2) return items.length + " operations";
    return items.map(function (item) { return item.label; }).join(", ");
  }

  // A group's label, measured: right of its first line, or left of it where it would run off the plot.
  function labelBox(group, width) {
    var head = group[0];
    head.span.textContent = crowdText(group);
    var w = head.span.offsetWidth;
    var flipped = head.x + MARKER_LABEL_OFFSET + w > width;
    var left = flipped ? head.x - MARKER_LABEL_OFFSET - w : head.x + MARKER_LABEL_OFFSET;
    return { group: group, left: left, right: left + w, flipped: flipped, row: 0 };
  }

  function placeGroups(groups, width) {
    var rowEnds = [];
    for (var r = 0; r < MARKER_LABEL_ROWS; r += 1) rowEnds.push(-Infinity);
    var placed = [];
    for (var i = 0; i < groups.length; i += 1) {
      var label = labelBox(groups[i], width);
      label.row = rowEnds.findIndex(function (end) { return end + MARKER_LABEL_GAP <= label.left; });
      if (label.row < 0) return placed;
      rowEnds[label.row] = label.right;
      placed.push(label);
    }
    return placed;
  }

  // The server's layout (groups/chart_labels.py) on measured widths: a label takes the first row
  // where it clears the labels before it; where no row has room, the two closest neighbours among
  // it and the labels in its way share one label, and the layout starts over.
  function layoutLabels(items, width) {
    var groups = items.map(function (item) { return [item]; });
    function gapAfter(k) { return groups[k + 1][0].x - groups[k][groups[k].length - 1].x; }
    for (;;) {
      var placed = placeGroups(groups, width);
      if (placed.length === groups.length) return placed;
      var stuck = labelBox(groups[placed.length], width);
      var best = placed.findIndex(function (label) { return label.right + MARKER_LABEL_GAP > stuck.left; });
      for (var k = best + 1; k < placed.length; k += 1) if (gapAfter(k) < gapAfter(best)) best = k;
      groups.splice(best, 2, groups[best].concat(groups[best + 1]));
    }
  }

  function placeMarkers(plot, elements) {
    var scale = plot.scales.x;
    var width = plot.over.clientWidth;
    var labelled = [];
    elements.forEach(function (item) {
      item.x = plot.valToPos(item.t, "x");
      var shown = item.t >= scale.min && item.t <= scale.max;
      item.element.hidden = !shown;
      item.element.style.left = item.x + "px";
      if (!item.span) return;
      item.element.classList.add("chart-marker-unlabelled");
      item.element.classList.remove("chart-marker-flipped", "chart-marker-row-1", "chart-marker-row-2");
      if (shown) {
        item.element.classList.remove("chart-marker-unlabelled");  // measurable
        labelled.push(item);
      }
    });
    var labels = layoutLabels(labelled, width);
    labelled.forEach(function (item) {
      item.span.textContent = item.label;
      item.span.removeAttribute("title");
      item.element.classList.add("chart-marker-unlabelled");
    });
    labels.forEach(function (label) {
      var head = label.group[0];
      head.span.textContent = crowdText(label.group);
      if (label.group.length > 1) {
        head.span.title = label.group.map(function (item) { return item.description; }).join("\n");
      }
      head.element.classList.remove("chart-marker-unlabelled");
      head.element.classList.toggle("chart-marker-flipped", label.flipped);
      if (label.row > 0) head.element.classList.add("chart-marker-row-" + label.row);
    });
  }

  // The canvas takes colours, not CSS: read the theme's (console.css, light or dark) off the figure,
  // with the light theme's where a page has no console.css.
  function themeColours(container) {
    var style = getComputedStyle(container);
    function colour(name, light) { return style.getPropertyValue(name).trim() || light; }
    return {
      line: colour("--accent", "#2456c9"),
      axis: colour("--muted", "#5d6677"),
      grid: colour("--line", "#d9dde5"),
      bandEdge: colour("--chart-band-edge", "rgba(36, 86, 201, 0.35)"),
      bandFill: colour("--chart-band-fill", "rgba(36, 86, 201, 0.15)"),
    };
  }

  function panelOptions(panel, width, syncKey, hooks, colours) {
    var seconds = panel.unit === "seconds";
    var exact = seconds ? duration : messages;
    var series = [
      { value: IN_UTC ? "{YYYY}-{MM}-{DD} {HH}:{mm}:{ss} UTC" : "{YYYY}-{MM}-{DD} {HH}:{mm}:{ss}" },
      { label: panel.label, stroke: colours.line, width: 1.5, value: function (u, v) { return exact(v); } },
    ];
    var bands;
    if (panel.low && panel.high) {
      series.push({ label: "min", stroke: colours.bandEdge, width: 0.5, value: function (u, v) { return exact(v); } });
      series.push({ label: "max", stroke: colours.bandEdge, width: 0.5, value: function (u, v) { return exact(v); } });
      bands = [{ series: [3, 2], fill: colours.bandFill }];
    }
    var grid = { stroke: colours.grid, width: 1 };
    var yAxis = {
      size: 64,
      stroke: colours.axis, grid: grid, ticks: grid,
      values: function (u, splits) { return splits.map(seconds ? duration : compactMessages); },
    };
    if (seconds) yAxis.incrs = SECOND_STEPS;
    return {
      width: width,
      height: PANEL_HEIGHT,
      tzDate: function (ts) { return IN_UTC ? uPlot.tzDate(new Date(ts * 1000), "Etc/UTC") : new Date(ts * 1000); },
      scales: { x: { time: true }, y: { range: yRange } },
      series: series,
      bands: bands,
      axes: [{ values: timeLabels, stroke: colours.axis, grid: grid, ticks: grid }, yAxis],
      cursor: { sync: { key: syncKey }, drag: { x: true, y: false } },
      hooks: hooks,
    };
  }

  function draw(data, container) {
    var plots = [];
    var markers = new Map();
    var syncing = false;
    var syncKey = "lag-history-" + (figures += 1);
    var hooks = {
      setScale: [function (plot, key) {
        if (key !== "x") return;
        if (markers.has(plot)) placeMarkers(plot, markers.get(plot));
        if (syncing) return;
        // Zooming one panel zooms the others: they share the time axis.
        syncing = true;
        plots.forEach(function (other) {
          if (other !== plot) other.setScale("x", { min: plot.scales.x.min, max: plot.scales.x.max });
        });
        syncing = false;
      }],
      setSize: [function (plot) { if (markers.has(plot)) placeMarkers(plot, markers.get(plot)); }],
    };
    var width = container.clientWidth;
    var colours = themeColours(container);
    data.panels.forEach(function (panel, index) {
      var heading = document.createElement("div");
      heading.className = "chart-panel-label";
      heading.textContent = panel.label;
      var holder = document.createElement("div");
      holder.className = "chart-panel";
      container.append(heading, holder);
      var columns = [panel.t, panel.value];
      if (panel.low && panel.high) columns.push(panel.low, panel.high);
      var plot = new uPlot(panelOptions(panel, width, syncKey, hooks, colours), columns, holder);
      plots.push(plot);
      markers.set(plot, markerElements(plot, data.markers, index === 0));
      placeMarkers(plot, markers.get(plot));
    });
    function destroy() {
      window.removeEventListener("resize", resize);
      plots.forEach(function (plot) { plot.destroy(); });
      container.replaceChildren();
    }
    function resize() {
      if (!document.contains(container)) return destroy();
      plots.forEach(function (plot) { plot.setSize({ width: container.clientWidth, height: PANEL_HEIGHT }); });
    }
    window.addEventListener("resize", resize);
    return destroy;
  }

  function enhance(figure) {
    if (figure.dataset.chartState) return;
    var still = figure.querySelector(".chart-static");
    var live = figure.querySelector(".chart-live");
    var island = figure.querySelector("script[type='application/json']");
    if (typeof window.uPlot !== "function" || !still || !live || !island) {
      figure.dataset.chartState = "static";
      return;
    }
    try {
      live.hidden = false;  // uPlot measures its container: it must be laid out first
      teardowns.set(figure, draw(JSON.parse(island.textContent), live));
      still.hidden = true;
      figure.dataset.chartState = "interactive";
    } catch (error) {
      live.replaceChildren();
      live.hidden = true;
      figure.dataset.chartState = "static";
      console.warn("Lag history: keeping the server-drawn chart, the interactive one failed:", error);
    }
  }

  function enhanceWithin(root) {
    if (!root || !root.querySelectorAll) return;
    if (root.matches && root.matches(SELECTOR)) enhance(root);
    root.querySelectorAll(SELECTOR).forEach(enhance);
  }

  function unenhance(figure) {
    var destroy = teardowns.get(figure);
    if (destroy) destroy();
    teardowns.delete(figure);
    var live = figure.querySelector(".chart-live");
    var still = figure.querySelector(".chart-static");
    if (live) live.hidden = true;
    if (still) still.hidden = false;
    delete figure.dataset.chartState;
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { enhanceWithin(document); });
  } else {
    enhanceWithin(document);
  }
  // Content htmx swaps in (a new range) is enhanced as it arrives.
  document.addEventListener("htmx:load", function (event) { enhanceWithin(event.detail.elt); });
  // htmx keeps a copy of the page for the back button; a copy of a canvas is a dead picture, so
  // the copy holds the static chart, and the page goes on with an interactive one.
  document.addEventListener("htmx:beforeHistorySave", function () {
    document.querySelectorAll(SELECTOR).forEach(unenhance);
    window.setTimeout(function () { enhanceWithin(document); }, 0);
  });
  document.addEventListener("htmx:historyRestore", function () { enhanceWithin(document); });
  // The canvas keeps the colours it was drawn with: when the reader's system switches between light
  // and dark (at dusk, say), the charts are drawn again in the new theme's.
  var scheme = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)");
  if (scheme && scheme.addEventListener) {
    scheme.addEventListener("change", function () {
      document.querySelectorAll(SELECTOR).forEach(function (figure) {
        if (figure.dataset.chartState !== "interactive") return;
        unenhance(figure);
        enhance(figure);
      });
    });
  }
}());
