"""/healthz and /readyz: unauthenticated probes for load balancers and monitoring (docs/deploy.md)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from groups import readiness


@login_not_required
@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up and answers; it asks nothing else, so a database outage never restarts it."""
    return JsonResponse({"alive": True})


@login_not_required
@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """200 when the database and Redis answer and every cluster's snapshot is fresh; 503 with the same
    counts otherwise."""
    state = readiness.check()
    return JsonResponse(state.as_dict(), status=200 if state.ready else 503)
