"""Test-only URLs (used through `@pytest.mark.urls`): a bare page that shows the history chart
fragment the way a page of the console does (assets and times.js in the head, htmx at the end of the body),
fed with fixed data, and a stand-in for an operation's page for the markers to link to."""

from __future__ import annotations

import math

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.template import Context, Template
from django.urls import path
from django.views.decorators.http import require_GET

from groups.chart_page import chart_range, history_chart
from groups.chart_scales import DAY_MS, MINUTE_MS
from groups.charts import ChartMarker, ChartSeries

END_MS = 1_741_185_015_000  # 2025-03-05 14:30:15 UTC: fixed, so the page is the same in every run
GROUP = "orders-<b>consumer</b>"
RESET_MINUTES_AGO, REPLAY_MINUTES_AGO = 30, 200  # both in the 6 h range, only the reset in 1 h
UNDO_AFTER_RESET_MS = 201_000  # 3 min 21 s: on every range the two labels would meet at one height

# No favicon to ask for: this URL module has no page for it, and the 404 would read as a console error.
ICON = '<link rel="icon" href="data:,">'

PAGE = Template(
    """{% load django_htmx static %}<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>chart</title>{ICON}
<link rel="stylesheet" href="{% static 'groups/console.css' %}">
{% include "groups/_chart_assets.html" %}
<script src="{% static 'groups/times.js' %}" defer></script>
</head><body>
<main>{% include "groups/_history_chart.html" %}</main>
{% htmx_script %}
</body></html>""".replace("{ICON}", ICON)
)


def _series(range_ms: int) -> list[ChartSeries]:
    """Full-resolution points every 15 s up to 24 h; 5-minute roll-ups (last, min, max) beyond."""
    step = 15_000 if range_ms <= DAY_MS else 5 * MINUTE_MS
    times = range(END_MS - range_ms, END_MS + 1, step)
    lag = {t: 4000 + 3000 * math.sin((t - END_MS) / (40 * MINUTE_MS)) for t in times}
    for t in times:
        if END_MS - 100 * MINUTE_MS < t < END_MS - 90 * MINUTE_MS:
            lag[t] = None  # the collector was down: a gap
        elif t >= END_MS - RESET_MINUTES_AGO * MINUTE_MS:
            lag[t] = 50.0  # after the reset
    rolled = step > 15_000
    return [
        ChartSeries(
            "Lag (messages)",
            "messages",
            [(t, v) for t, v in lag.items()],
            [(t, v and v * 0.8, v and v * 1.2) for t, v in lag.items()] if rolled else None,
        ),
        ChartSeries("Lag (seconds)", "seconds", [(t, v and v / 20) for t, v in lag.items()]),
    ]


MARKERS = [
    ChartMarker(END_MS - REPLAY_MINUTES_AGO * MINUTE_MS, "replay", 11, "/operations/11/"),
    ChartMarker(END_MS - RESET_MINUTES_AGO * MINUTE_MS, "reset", 12, "/operations/12/"),
    ChartMarker(END_MS - RESET_MINUTES_AGO * MINUTE_MS + UNDO_AFTER_RESET_MS, "undo", 13, "/operations/13/"),
]


@login_not_required
@require_GET
def chart_page(request: HttpRequest) -> HttpResponse:
    try:
        chosen = chart_range(request.GET.get("range"))
    except ValueError as error:
        return HttpResponseBadRequest(str(error))
    step = 15_000 if chosen.ms <= DAY_MS else 5 * MINUTE_MS
    chart = history_chart(
        _series(chosen.ms),
        MARKERS,
        time_range=chosen,
        end_ms=END_MS,
        title=f"Lag of {GROUP}",
        max_step_ms=int(2.5 * step),
    )
    return HttpResponse(PAGE.render(Context({"chart": chart})))


@login_not_required
@require_GET
def operation_page(request: HttpRequest, operation_id: int) -> HttpResponse:
    return HttpResponse(f"<!doctype html><title>operation</title>{ICON}<h1>Operation #{operation_id}</h1>")


urlpatterns = [
    path("chart/", chart_page),
    path("operations/<int:operation_id>/", operation_page),
]
