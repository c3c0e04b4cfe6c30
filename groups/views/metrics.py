"""`/metrics` for Prometheus: its own access check (a scrape token or an allowed address), no session."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.views.decorators.http import require_GET

from groups.metrics import allowed, scrape
from groups.metrics.exposition import CONTENT_TYPE


@login_not_required
@require_GET
def metrics(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    reason = allowed.refusal(request)
    if reason:
        return HttpResponse(f"{reason}\n", status=403, content_type="text/plain; charset=utf-8")
    response = StreamingHttpResponse(scrape.build_page().chunks(), content_type=CONTENT_TYPE)
    response["Cache-Control"] = "no-store"
    return response
